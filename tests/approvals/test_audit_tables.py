"""The audit tables (editors' decisions and the histories of tasks, drafts and posts)
in PostgreSQL itself: rows are never changed or deleted and a table is never emptied,
whoever asks; and the app can run as a role that reads and writes rows but cannot
alter, drop or truncate a table, which `manage.py migrate` sets up when it runs as the
tables' owner (DATABASE_OWNER_URL)."""

import os
import re
import secrets
import subprocess
import sys
import uuid
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from psycopg import errors, sql
from simple_history.models import HistoricalChanges

from approvals.db_role import app_role_grant
from approvals.models import ApprovalDecision, PlanDecision
from approvals.services import approval_decide, post_edit, review_claim
from publishing.models import Post
from tasks.models import StyleGuide
from tasks.runner import run_pipeline
from tasks.services import task_create, task_draft_edit
from tasks.services.webhooks import webhook_create

from ..conftest import ROOT
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

HISTORY_TABLES = sorted(
    model._meta.db_table for model in apps.get_models() if issubclass(model, HistoricalChanges)
)
AUDIT_TABLES = [*HISTORY_TABLES, ApprovalDecision._meta.db_table, PlanDecision._meta.db_table]


def test_the_audit_tables_are_the_decisions_and_every_history():
    assert AUDIT_TABLES == ["publishing_historicalpost", "tasks_historicalcontenttask",
                            "tasks_historicaldraft", "tasks_historicalstyleguide",
                            "approvals_approvaldecision", "approvals_plandecision"]  # fmt: skip


@pytest.fixture
def audit_rows(editor) -> dict[str, int]:
    """A row or more in every audit table: a task run, its draft edited, approved for
    tomorrow, then its post edited (which withdraws it, back to approval)."""
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    task_draft_edit(task_id=task.pk, user=editor, title="Rain barrels, edited")
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True,
                              publish_at=timezone.now() + timedelta(days=1))  # fmt: skip
    post.title = "Rain barrels, edited again"
    assert post_edit(post=post, user=editor) is None  # withdrawn
    StyleGuide.objects.create(pk=1, banned_phrases="synergy", version=1)
    PlanDecision.objects.create(task=task, generation=1, decision="approved", reviewer=editor)
    return counts()


def counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        found = {}
        for table in AUDIT_TABLES:
            cursor.execute(as_text("SELECT count(*) FROM {table}", table=table))
            found[table] = cursor.fetchone()[0]
    return found


def as_text(statement: str, **names: str) -> str:
    """The statement with its names quoted as identifiers."""
    identifiers = {key: sql.Identifier(value) for key, value in names.items()}
    connection.ensure_connection()
    return sql.SQL(statement).format(**identifiers).as_string(connection.connection)


def refused(statement: str, **names: str) -> str:
    """Run the statement in a savepoint, on the test's connection (as the tables' owner,
    a superuser, unless the test set another role); the message it was refused with."""
    with pytest.raises(DatabaseError) as refusal, transaction.atomic():
        with connection.cursor() as cursor:
            # The test's rows are not committed: their foreign keys, checked at commit,
            # are checked now, or TRUNCATE would be refused for them before any trigger.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(as_text(statement, **names))
    return str(refusal.value)


@pytest.mark.django_db
@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_not_even_the_tables_owner_can_truncate_an_audit_table(audit_rows, table):
    assert audit_rows[table] > 0
    assert "append-only: TRUNCATE" in refused("TRUNCATE {table}", table=table)
    assert "append-only: TRUNCATE" in refused("TRUNCATE {table} CASCADE", table=table)
    assert counts() == audit_rows


@pytest.mark.django_db
@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_not_even_the_tables_owner_can_change_or_delete_an_audit_row(audit_rows, table):
    decisions = ("approvals_approvaldecision", "approvals_plandecision")
    column = "feedback" if table in decisions else "history_change_reason"
    update = "UPDATE {table} SET {column} = 'forged'"
    assert "append-only: UPDATE" in refused(update, table=table, column=column)
    assert "append-only: DELETE" in refused("DELETE FROM {table}", table=table)
    assert counts() == audit_rows


# --- The app's own role ----------------------------------------------------------------------
def url_as(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def connect(**credentials) -> psycopg.Connection:
    """A connection of our own to the test database (the test's own role unless
    `user` and `password` are given)."""
    settings = connection.settings_dict
    params = {"dbname": settings["NAME"], "host": settings["HOST"], "port": settings["PORT"],
              "user": settings["USER"], "password": settings["PASSWORD"]}  # fmt: skip
    params.update(credentials)
    return psycopg.connect(
        **{key: value for key, value in params.items() if value}, autocommit=True
    )


@pytest.fixture(scope="module")
def app_role(django_db_setup, django_db_blocker):
    """The role DATABASE_URL names, made by `manage.py migrate` run as it is deployed:
    DATABASE_OWNER_URL is the test's own role (which owns the tables) and DATABASE_URL
    names a role that does not exist yet."""
    role, password = f"cp_app_{uuid.uuid4().hex[:8]}", secrets.token_hex(16)
    owner_url = os.environ["DATABASE_URL"]
    with django_db_blocker.unblock():
        environment = {**os.environ, "DATABASE_NAME": connection.settings_dict["NAME"],
                       "DATABASE_OWNER_URL": owner_url,
                       "DATABASE_URL": url_as(owner_url, role, password)}  # fmt: skip
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input"],
            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        try:
            assert migrate.returncode == 0, migrate.stdout + migrate.stderr
            yield {"user": role, "password": password}
        finally:
            with connect() as admin:
                admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.processes
@pytest.mark.django_db
@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_the_apps_role_cannot_truncate_alter_or_drop_an_audit_table(app_role, table):
    with connect(**app_role) as app:
        assert app.execute("SELECT current_user").fetchone()[0] == app_role["user"]
        for statement in (
            "TRUNCATE {table}",
            "ALTER TABLE {table} DISABLE TRIGGER USER",
            "ALTER TABLE {table} ADD COLUMN forged text",
            f"DROP TRIGGER {table}_no_truncate ON {{table}}",
            "DROP TABLE {table}",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                app.execute(sql.SQL(statement).format(table=sql.Identifier(table)))
        # What the app does with an audit table: read it, add to it.
        app.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(table)))
    with connect() as owner:  # nothing was altered or dropped
        guards = owner.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgenabled = 'O'"
            " AND NOT tgisinternal",
            [table],
        ).fetchone()[0]
        assert guards == 2  # UPDATE and DELETE by row, TRUNCATE by statement
        columns = owner.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = %s AND column_name = 'forged'",
            [table],
        ).fetchone()[0]
        assert columns == 0


@pytest.mark.processes
@pytest.mark.django_db
def test_everything_the_app_writes_works_as_its_role(app_role, editor, integrator, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    # The app's own code, in this test's transaction, with the role's privileges only.
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(app_role["user"])))
    task = task_create(user=integrator, topic="Rain barrels on a balcony")
    webhook_create(user=integrator, url="http://127.0.0.1:9/content")
    assert run_pipeline(task.pk) == "done"
    review_claim(task_id=task.pk, editor=editor)
    task_draft_edit(task_id=task.pk, user=editor, title="Rain barrels, edited")
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    post.title = "Rain barrels on a balcony, edited live"
    assert post_edit(post=post, user=editor) is not None
    UserFactory(editor=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == app_role["user"]
    assert Post.history.filter(task_id=task.pk).count() == 2
    assert ApprovalDecision.objects.filter(task=task).count() == 1
    assert "permission denied" in refused("TRUNCATE {table}", table="publishing_post")


@pytest.mark.processes
@pytest.mark.django_db
def test_a_table_a_later_migration_creates_is_the_apps_to_write_not_to_alter(app_role):
    with connection.cursor() as cursor:  # as the owner, like `migrate`
        cursor.execute("CREATE TABLE later_notes (id bigint GENERATED BY DEFAULT AS IDENTITY"
                       " PRIMARY KEY, note text)")  # fmt: skip
        cursor.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(app_role["user"])))
        cursor.execute("INSERT INTO later_notes (note) VALUES ('a') RETURNING id")
        cursor.execute("UPDATE later_notes SET note = 'b'")
        cursor.execute("DELETE FROM later_notes")
    assert "permission denied" in refused("TRUNCATE {table}", table="later_notes")
    assert "must be owner" in refused("DROP TABLE {table}", table="later_notes")


@pytest.mark.processes
@pytest.mark.django_db
def test_migrating_again_keeps_the_apps_role_to_rows(app_role):
    with connect() as owner:  # a grant too many, by hand
        owner.execute(sql.SQL("GRANT TRUNCATE ON publishing_historicalpost TO {}").format(
            sql.Identifier(app_role["user"])))  # fmt: skip
        app_role_grant(owner, role=app_role["user"])
    with connect(**app_role) as app, pytest.raises(errors.InsufficientPrivilege):
        app.execute("TRUNCATE publishing_historicalpost")


def test_a_role_that_could_get_past_the_guards_is_refused(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), connect() as owner:
        myself = owner.execute("SELECT current_user").fetchone()[0]
        with pytest.raises(ImproperlyConfigured, match="the same role"):
            app_role_grant(owner, role=myself)
        with pytest.raises(ImproperlyConfigured, match="does not exist and its URL has no"):
            app_role_grant(owner, role=f"cp_nobody_{uuid.uuid4().hex[:8]}")


@pytest.mark.processes
def test_an_owner_url_of_another_database_fails_at_start():
    environment = {**os.environ, "DATABASE_OWNER_URL": url_as(os.environ["DATABASE_URL"],
                   "owner", "x").rsplit("/", 1)[0] + "/another"}  # fmt: skip
    environment.pop("DATABASE_NAME", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert "DATABASE_OWNER_URL names database 'another'" in result.stderr


def test_in_the_compose_stack_only_migrate_connects_as_the_tables_owner():
    import yaml

    def role_and_database(url: str) -> tuple[str, str]:
        # Not urlsplit: the password is a `${VAR:?message}` reference.
        found = re.fullmatch(r"postgres://([^:@]+):\$\{[^}]+\}@postgres:5432/(\w+)", url)
        assert found, url
        return found.group(1), found.group(2)

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    owner, database = role_and_database(services["migrate"]["environment"]["DATABASE_OWNER_URL"])
    assert owner == services["postgres"]["environment"]["POSTGRES_USER"]
    for name in ("web", "worker", "beat", "migrate"):
        environment = services[name]["environment"]
        assert role_and_database(environment["DATABASE_URL"]) == ("contentpipeline_app", database)
        assert ("DATABASE_OWNER_URL" in environment) == (name == "migrate"), name
        # Not from .env either (env_file passes it all): only migrate needs it, in its URL.
        assert environment["POSTGRES_PASSWORD"] == "", name
