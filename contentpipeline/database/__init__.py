"""The database beyond Django's ORM: how to tell that it cannot be reached, giving a
thread's connection back before a wait on the network, and a cursor for the hot
statements the services compile once.

`base` is the database backend (settings' ENGINE `contentpipeline.database`): Django's
PostgreSQL backend with its psycopg pool, and what a restart of the server needs from
it (see there)."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper
from psycopg_pool import PoolClosed, PoolTimeout, TooManyRequests

# SQLSTATEs of a connection that is gone rather than of a statement refused: class 08
# (connection exception), and the server shutting down, crashed or still starting.
_CONNECTION_LOST_STATES = ("57P01", "57P02", "57P03")


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached now: no connection could be
    had (the pool's wait ran out, the server refused), or the one in use was lost (the
    server closed it, shut down or restarted). A statement the server refused (a
    constraint, a lock or statement timeout, a deadlock) is not: that is the code's
    business, and trying again later would not change it."""
    if isinstance(exc, InterfaceError):  # Django's "connection already closed"
        return True
    if isinstance(exc, OperationalError):
        exc = exc.__cause__ or exc  # the driver's error Django wrapped
    if isinstance(exc, PoolTimeout | PoolClosed | TooManyRequests):
        return True
    if isinstance(exc, psycopg.InterfaceError):  # psycopg's "the connection is closed"
        return True
    if isinstance(exc, psycopg.OperationalError):
        state = exc.sqlstate
        # No SQLSTATE: the client's own report (refused, reset, closed unexpectedly).
        return state is None or state.startswith("08") or state in _CONNECTION_LOST_STATES
    # Raised by Django itself, or by code standing in for the driver, with no cause.
    return isinstance(exc, OperationalError)


def release_connection() -> None:
    """Give the thread's database connection back to the pool before a wait on the
    network (a model call, a webhook receiver), so a worker's threads share a few
    connections instead of each holding one for as long as a peer keeps it waiting.
    Inside a transaction (as in the service tests) the connection stays."""
    if not connection.in_atomic_block:
        connection.close()


@contextmanager
def bound_cursor() -> Iterator[CursorWrapper]:
    """A server-binding cursor on the current transaction's connection.

    Django's PostgreSQL cursors bind on the client (psycopg's ClientCursor): every
    value is quoted into the SQL text in Python, some 40 Python calls for each. For
    statements run thousands of times with the same SQL, a cursor that sends the values
    apart from the text (Django's own ServerBindingCursor, what the
    `server_side_binding` option would use everywhere) costs a tenth of a pipeline
    step's Python less, and lets psycopg prepare a statement it has seen five times on
    its connection. It is wrapped as `connection.cursor()` wraps its own: Django's
    errors, execute wrappers and, when queries are logged (DEBUG, tests), the query
    log."""
    connection = transaction.get_connection()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(cursor) as wrapped:
        yield wrapped
