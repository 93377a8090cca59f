"""The database backend (ENGINE `contentpipeline.database`): Django's PostgreSQL backend,
and after its pool could not hand out a connection in time, a check of every
connection the pool holds idle.

Why: a server restart leaves each connection the pool held idle broken. The pool
checks a connection as it hands it out (`CONN_HEALTH_CHECKS`, see settings) and
replaces a broken one, but after the second broken one in a row it sleeps (a second,
then two, ... bounded by the wait the caller allows) before it looks at the next:
https://github.com/psycopg/psycopg/pull/711 (for psycopg/psycopg#709). So a process
that held N connections idle through a restart would fail about N/2 callers, each after
the pool's whole timeout, however long the server had been back. One `check()` of the
whole pool (public API: tests each idle connection once, replaces the broken ones at
once) after the first such failure leaves none for the next caller.
tests/contentpipeline/test_database.py holds the upstream behaviour this works around:
when psycopg_pool stops failing that way, its test fails, and this can go.
"""

import logging
import threading
import time

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool, PoolTimeout

logger = logging.getLogger(__name__)

# A check of the pool takes a round trip per idle connection: one at a time in a
# process, and at most one a second, however many threads fail together.
CHECK_INTERVAL = 1.0
_checking = threading.Lock()
_checked_at = -CHECK_INTERVAL


def check_idle_connections(pool: ConnectionPool) -> bool:
    """Test each connection `pool` holds idle and replace the broken ones, unless
    another thread does so now or did less than CHECK_INTERVAL ago. Returns whether it
    checked."""
    global _checked_at
    if not _checking.acquire(blocking=False):
        return False
    try:
        if time.monotonic() - _checked_at < CHECK_INTERVAL:
            return False
        _checked_at = time.monotonic()
        pool.check()
        return True
    except Exception:  # the caller's own error is the one to report
        logger.warning("Checking the database pool's connections failed", exc_info=True)
        return False
    finally:
        _checking.release()


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        try:
            return super().get_new_connection(conn_params)
        except PoolTimeout:
            if self.pool is not None:
                check_idle_connections(self.pool)
            raise
