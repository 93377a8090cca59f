"""A cursor for the hot statements the services compile once.

Django's PostgreSQL cursors bind on the client (psycopg's ClientCursor): every value is
quoted into the SQL text in Python, some 40 Python calls for each. For statements run
thousands of times with the same SQL, a cursor that sends the values apart from the
text (Django's own ServerBindingCursor, what the `server_side_binding` option would
use everywhere) costs a tenth of a pipeline step's Python less, and lets psycopg
prepare a statement it has seen five times on its connection. It is wrapped as
`connection.cursor()` wraps its own: Django's errors, execute wrappers and, when
queries are logged (DEBUG, tests), the query log."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper


@contextmanager
def bound_cursor() -> Iterator[CursorWrapper]:
    """A server-binding cursor on the current transaction's connection."""
    connection = transaction.get_connection()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(cursor) as wrapped:
        yield wrapped
