"""The database beyond Django's ORM: how to tell that it cannot be reached, and giving a
thread's connection back before a wait on the network.

`base` is the database backend (settings' ENGINE `contentpipeline.database`): Django's
PostgreSQL backend with its psycopg pool, and what a restart of the server needs from
it (see there)."""

import psycopg
from django.db import InterfaceError, OperationalError, connection
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
