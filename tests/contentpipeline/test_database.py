"""The database beyond the ORM: which errors mean the database is out of reach; the
pool after a restart of the server (the backend's check of every idle connection, and
the upstream behaviour it works around)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, OperationalError, connection
from psycopg_pool import ConnectionPool, PoolTimeout

from contentpipeline.database import database_unreachable
from contentpipeline.database.base import DatabaseWrapper
from contentpipeline.errors import DATABASE_UNAVAILABLE

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.django_db


# --- What counts as the database out of reach -------------------------------------------


def django_error(call):
    """The error Django raises for `call` on a connection of its own, as a view would
    see it."""
    with pytest.raises(DatabaseError) as raised, connection.wrap_database_errors:
        call()
    return raised.value


def test_a_refused_connection_is_the_database_out_of_reach():
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect("host=127.0.0.1 port=1 user=postgres dbname=nothing")
    assert database_unreachable(refused.value)


def test_a_connection_the_server_closed_is_out_of_reach_and_so_is_its_next_use():
    with probe_connection() as victim:
        terminate(victim.info.backend_pid)
        first = django_error(lambda: victim.execute("SELECT 1"))
        assert isinstance(first, OperationalError)  # 57P01, or the socket found closed
        assert database_unreachable(first)
        assert database_unreachable(django_error(lambda: victim.execute("SELECT 1")))


def test_statements_the_server_refuses_are_not_the_database_out_of_reach():
    with probe_connection() as conn:
        conn.execute("SET statement_timeout = 1")
        timed_out = django_error(lambda: conn.execute("SELECT pg_sleep(1)"))
        assert isinstance(timed_out, OperationalError)  # Django's class, yet not an outage
        assert not database_unreachable(timed_out)
        conn.execute("RESET statement_timeout")
        assert not database_unreachable(django_error(lambda: conn.execute("SELECT 1/0")))
    assert not database_unreachable(IntegrityError("duplicate key"))
    assert not database_unreachable(ValueError("not a database error at all"))


# --- The pool after a restart ----------------------------------------------------------

STALE = 6


def probe_connection() -> psycopg.Connection:
    return psycopg.connect(**psycopg_params(), autocommit=True)


def psycopg_params(application_name: str = "database-probe") -> dict:
    settings = connection.settings_dict
    return {
        "host": settings["HOST"] or None,
        "port": settings["PORT"] or None,
        "user": settings["USER"] or None,
        "password": settings["PASSWORD"] or None,
        "dbname": settings["NAME"],
        "application_name": application_name,
    }


def terminate(*pids: int) -> None:
    """What a server restart does to connections, without restarting the server."""
    with probe_connection() as conn:
        # Waits (up to 5 s) until each backend has gone.
        conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM unnest(%s::int[]) AS pid", [list(pids)]
        )


def fill_and_break(pool: ConnectionPool) -> None:
    """Every connection idle in `pool` (STALE at least) closed by the server."""
    pool.open()
    held = []
    while len(held) < STALE or pool.get_stats()["pool_available"]:
        held.append(pool.getconn())
    pids = [conn.info.backend_pid for conn in held]
    for conn in held:
        pool.putconn(conn)
    terminate(*pids)


def test_upstream_a_pool_of_broken_idle_connections_times_out_though_the_server_is_up():
    """psycopg_pool's behaviour that contentpipeline/database/base.py works around
    (psycopg/psycopg#711): a checked getconn() that meets a second broken connection
    backs off, and the caller's timeout runs out while the server answers at once.
    When this fails, upstream has changed: the workaround can go."""
    pool = ConnectionPool(
        kwargs=psycopg_params(), min_size=1, max_size=STALE + 2, timeout=1.0,
        check=ConnectionPool.check_connection, open=True,
    )  # fmt: skip
    try:
        fill_and_break(pool)
        with pytest.raises(PoolTimeout):
            pool.getconn()
        with pytest.raises(PoolTimeout):
            pool.getconn()  # and again: two broken connections per caller
    finally:
        pool.close()


@pytest.fixture
def backend():
    """Another connection of the project's backend (a thread's own, as in a server),
    sharing the process's pool."""
    wrapper = DatabaseWrapper(connection.settings_dict, alias=connection.alias)
    assert wrapper.pool is connection.pool
    yield wrapper
    wrapper.close()


def test_after_a_restart_the_pool_fails_one_caller_at_most_then_serves(backend):
    fill_and_break(backend.pool)
    outcomes = []
    for _ in range(STALE // 2):
        try:
            with backend.cursor() as cursor:
                cursor.execute("SELECT 1")
            outcomes.append("served")
        except OperationalError as exc:
            assert database_unreachable(exc)
            outcomes.append("timed out")
        finally:
            backend.close()
    # Without the check of the whole pool: three callers time out, two broken each.
    assert outcomes in (["served"] * 3, ["timed out", "served", "served"])


# --- Requests while the database is out of reach ------------------------------------------

# Run in a process of its own, whose DATABASE_URL names a port nobody listens on.
REQUESTS_WHILE_DOWN = """
import json, time, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
session = {"Cookie": "sessionid=" + "a" * 32}
token = {"Authorization": "Token " + "b" * 40}
asked = {
    "health": ("get", "/api/health", {}),
    "create": ("post", "/api/tasks", token),
    "list with a session": ("get", "/api/tasks", session),
    "home page": ("get", "/", {}),
    "admin": ("get", "/admin/", session),
}
answers = {}
for name, (method, path, headers) in asked.items():
    started = time.monotonic()
    response = getattr(Client(headers=headers), method)(
        path, {"topic": "Compost"} if method == "post" else None, content_type="application/json"
    )
    answers[name] = {
        "status": response.status_code, "seconds": time.monotonic() - started,
        "retry_after": response.get("Retry-After"), "type": response["Content-Type"],
        "body": response.content.decode(),
    }
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def answers_while_down():
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "contentpipeline.settings",
                   "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", REQUESTS_WHILE_DOWN], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1]), result.stderr


@pytest.mark.processes
def test_an_api_request_that_needs_the_database_answers_503_json_within_a_second(
    answers_while_down,
):
    answers, log = answers_while_down
    for name in ("create", "list with a session"):
        answer = answers[name]
        assert answer["status"] == 503, answer
        assert answer["type"] == "application/json"
        assert json.loads(answer["body"]) == {"detail": DATABASE_UNAVAILABLE}
        assert answer["retry_after"] == "5"
        # The pool's wait (DB_POOL_TIMEOUT, 1 s), once: the log line does not ask again
        # for the session's user.
        assert answer["seconds"] < 1.5, answer
    assert "The database could not be reached (PoolTimeout" in log


@pytest.mark.processes
def test_health_names_the_database_as_the_part_that_is_down(answers_while_down):
    health = answers_while_down[0]["health"]
    assert health["status"] == 503
    checks = json.loads(health["body"])
    assert (checks["database"], checks["cache"], checks["broker"]) == ("error", "ok", "ok")


@pytest.mark.processes
def test_pages_outside_the_api_answer_503_text_instead_of_a_server_error(answers_while_down):
    answers = answers_while_down[0]
    for name in ("home page", "admin"):
        answer = answers[name]
        assert (answer["status"], answer["retry_after"]) == (503, "5"), answer
        assert answer["type"].startswith("text/plain")
        assert answer["body"] == DATABASE_UNAVAILABLE
        assert answer["seconds"] < 1.5, answer


@pytest.mark.processes
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DB_POOL_TIMEOUT": "0"}, "DB_POOL_TIMEOUT is a number of seconds above 0"),
        ({"DB_CONNECT_TIMEOUT": "1"}, "DB_CONNECT_TIMEOUT is at least 2 seconds"),
    ],
)
def test_database_timeouts_out_of_range_stop_the_start_with_a_clear_message(env, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr
