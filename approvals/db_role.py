"""The database role the app runs as, apart from the role that owns the tables.

The audit trail (decisions, and the histories of tasks, drafts and posts) refuses
UPDATE, DELETE and TRUNCATE through triggers; but whoever owns a table may drop its
triggers, alter it or drop it. So web, workers and beat connect as a role that owns
nothing: `manage.py migrate` connects as the owner (DATABASE_OWNER_URL) and, once it
has migrated, gives DATABASE_URL's role (`settings.DATABASE_APP_ROLE`) exactly what the
app needs: SELECT, INSERT, UPDATE and DELETE on every table of the schema and the use
of its sequences, now and, as the owner's default privileges, on the tables later
migrations create. Never TRUNCATE, REFERENCES or TRIGGER (README, Deploy)."""

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from psycopg import Connection, sql

logger = logging.getLogger(__name__)

TABLE_PRIVILEGES = sql.SQL("SELECT, INSERT, UPDATE, DELETE")
SEQUENCE_PRIVILEGES = sql.SQL("USAGE, SELECT")


def app_role_grant(connection: Connection, *, role: str, password: str = "") -> None:
    """Make `role` the app's role on `connection`'s database (which must be the
    owner's): created (LOGIN, `password`) when it does not exist, an existing one's
    attributes left alone; its table privileges set to exactly the four above, on the
    tables of the current schema and those the owner creates later. ImproperlyConfigured
    for a role that could get past the audit trail's guards: a superuser, or the owner
    of a table of the schema. Idempotent: `migrate` runs it each time."""
    ident = sql.Identifier(role)
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, current_database(), current_schema(),"
            " (SELECT rolsuper FROM pg_roles WHERE rolname = %s),"
            " (SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner"
            "  WHERE r.rolname = %s AND c.relnamespace = current_schema()::regnamespace)",
            [role, role],
        )
        owner, database, schema, superuser, owned = cursor.fetchone()
        if role == owner:
            raise ImproperlyConfigured(
                f"DATABASE_URL and DATABASE_OWNER_URL are the same role ({role}): the app "
                "would own the tables it must not alter. Give the app a role of its own."
            )
        if superuser:
            raise ImproperlyConfigured(
                f"DATABASE_URL's role {role} is a superuser: it could switch the audit "
                "trail's triggers off. Give the app a role without SUPERUSER."
            )
        if owned:
            raise ImproperlyConfigured(
                f"DATABASE_URL's role {role} owns {owned} tables or sequences of schema "
                f"{schema}, so it could alter them. Hand them to the owner first: "
                f"REASSIGN OWNED BY {role} TO {owner};"
            )
        if superuser is None:
            if not password:
                raise ImproperlyConfigured(
                    f"DATABASE_URL's role {role} does not exist and its URL has no password "
                    "to create it with."
                )
            cursor.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(password))
            )
            logger.info("Created the app's database role %s", role)
        schema_ident = sql.Identifier(schema)
        for statement in (
            "GRANT CONNECT ON DATABASE {database} TO {role}",
            "GRANT USAGE ON SCHEMA {schema} TO {role}",
            "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
            "GRANT {tables} ON ALL TABLES IN SCHEMA {schema} TO {role}",
            "GRANT {sequences} ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT {tables} ON TABLES TO {role}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT {sequences} ON SEQUENCES TO {role}",
        ):
            cursor.execute(
                sql.SQL(statement).format(
                    database=sql.Identifier(database),
                    schema=schema_ident,
                    role=ident,
                    tables=TABLE_PRIVILEGES,
                    sequences=SEQUENCE_PRIVILEGES,
                )  # fmt: skip
            )


def grant_after_migrate(*, using: str, **kwargs) -> None:
    """`post_migrate`: when migrations ran as the owner (DATABASE_OWNER_URL), grant
    the app's role what the new tables need."""
    app_role = getattr(settings, "DATABASE_APP_ROLE", None)
    if not app_role:
        return
    connection = connections[using]
    connection.ensure_connection()
    app_role_grant(connection.connection, role=app_role["USER"], password=app_role["PASSWORD"])
