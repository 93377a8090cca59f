import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from contentpipeline.celery import app as celery_app
from contentpipeline.queues import webhook_queue
from devtools.processes import (
    free_port,
    node_name,
    spawn,
    stop,
    wait_for_port,
    wait_for_worker,
    web_command,
    worker_command,
)

from .factories import UserFactory, token_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's: unknown under `-p no:xdist`
def pytest_xdist_setupnodes(config, specs):
    """In parallel (`make test`: pytest-xdist) each worker process has a test database
    of its own (pytest-django names it test_<name>_gw0, ...) and here, in its
    environment before it reads the settings, its own Celery queue, channel-layer
    prefix and cache key prefix: workers never take each other's messages or clear
    each other's keys, and the workers and servers a test starts inherit them."""
    ours = {
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "CHANNEL_LAYER_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
    }
    for spec in specs:
        spec.env.update({name: f"{value}-{spec.id}" for name, value in ours.items()})


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    settings.MEDIA_ROOT = str(tmp_path_factory.getbasetemp() / "media")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Factories hash a password per user; the real hasher costs ~0.4 s a user here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache; each test starts with none. Only this run's
    # keys go: cache.clear() would empty the whole Redis database, whoever else uses it.
    from django_redis import get_redis_connection

    client = get_redis_connection("default")
    keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session", autouse=True)
def _flushable_audit_tables():
    """After each transactional test Django empties every table (one TRUNCATE), which
    the audit tables refuse, as in production. The test run is a superuser: its flush,
    and nothing else, runs in a replica session, where PostgreSQL fires no ordinary
    trigger (until the flush's transaction ends)."""
    from django.db import connection

    flush = connection.ops.execute_sql_flush
    replica = "SET LOCAL session_replication_role = replica"
    connection.ops.execute_sql_flush = lambda sql_list: flush([replica, *sql_list])
    yield
    del connection.ops.execute_sql_flush


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    # pytest-asyncio gives each test its own event loop; channels-redis binds its
    # receive lock to the loop of the first receive, so a test whose socket was still
    # receiving when its loop closed would leave the next test a lock of a dead loop.
    # In a server there is one loop for the process's life.
    yield
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture
def quick_writer(settings, monkeypatch):
    """The pipeline writes with tests/fakes.py's QuickWriter and QuickCover, for tests
    whose subject is not the writing (`pytest.mark.usefixtures("quick_writer")`)."""
    from tasks.pipeline.providers import REGISTRY

    from .fakes import QuickCover, QuickWriter

    monkeypatch.setitem(REGISTRY["llm"], QuickWriter.name, QuickWriter)
    monkeypatch.setitem(REGISTRY["image"], QuickCover.name, QuickCover)
    settings.LLM_PROVIDER, settings.LLM_CHAIN = QuickWriter.name, (QuickWriter.name,)
    settings.IMAGE_PROVIDER, settings.IMAGE_CHAIN = QuickCover.name, (QuickCover.name,)


@pytest.fixture
def outbox(settings):
    """Run messages and progress events that leave the process (see tests/outbox.py)."""
    from .outbox import Outbox

    box = Outbox(settings)
    yield box
    box.close()


@pytest.fixture
def integrator(db):
    return UserFactory()


@pytest.fixture
def editor(db):
    return UserFactory(editor=True)


@pytest.fixture
def publisher(db):
    return UserFactory(publisher=True)


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def integrator_client(integrator):
    return client_for(integrator)


@pytest.fixture
def editor_client(editor):
    return client_for(editor)


@pytest.fixture
def publisher_client(publisher):
    return client_for(publisher)


@pytest.fixture
def anon_client():
    return APIClient()


def session_name(role: str) -> str:
    """An application_name of its own for the database sessions of one process a test
    starts (PGAPPNAME), so that the test can wait for that process' sessions alone to
    end: another process of the run may hold its own for as long as it runs."""
    return f"test-{role}-{uuid.uuid4().hex[:8]}"


def start_worker(
    *,
    queue: str,
    deliveries: bool = False,
    concurrency: int | None = None,
    env: dict | None = None,
    log_dir: Path,
    node: str | None = None,
):
    """Start a real Celery worker process (in a session of its own, so a test can
    SIGKILL it with all its children) on `queue`, using the test database, and wait
    until it answers a ping. It is the pipeline worker `make run` starts, with the pool
    and concurrency of the settings (threads) unless `concurrency` asks for fewer; with
    `deliveries`, the webhook deliveries' worker of that queue instead (its threads:
    WEBHOOK_CONCURRENCY, which `env` may set). Its node name is `node@<host>` (a unique
    name unless `node` is given), also its `node` attribute; its database sessions'
    application_name is its `session_name`."""
    from django.db import connection

    node = node_name(node or f"test-{uuid.uuid4().hex[:8]}")
    environment = {
        **os.environ,
        "DATABASE_NAME": connection.settings_dict["NAME"],
        "CELERY_QUEUE": queue,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PGAPPNAME": session_name("worker"),
        **(env or {}),
    }
    command = worker_command(
        queue=queue,
        deliveries=deliveries,
        node=node,
        concurrency=concurrency,
        extra=["--without-gossip", "--without-mingle"],
    )
    process = spawn(command, log_path=log_dir / f"{node}.log", env=environment)
    try:
        wait_for_worker(process, node)
    except RuntimeError:
        stop(process)
        raise
    process.node = node
    process.session_name = environment["PGAPPNAME"]
    return process


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery pipeline worker process on this run's queue, using the test
    database. It runs no webhook delivery: a test of deliveries starts the deliveries'
    worker with `worker_factory(deliveries=True)`."""
    media = tmp_path_factory.getbasetemp() / "media"
    process = start_worker(
        queue=settings.CELERY_TASK_DEFAULT_QUEUE,
        env={"MEDIA_ROOT": str(media)},
        log_dir=tmp_path_factory.mktemp("worker"),
    )
    yield process
    stop(process)
    wait_for_sessions_to_end(django_db_blocker, process.session_name)


@pytest.fixture
def worker_factory(settings, tmp_path, django_db_blocker):
    """Start workers on a queue of this test's own (`deliveries=True`: the webhook
    deliveries' worker beside it); all are stopped after the test."""
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-{uuid.uuid4().hex[:6]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    started = []

    def factory(**kwargs):
        process = start_worker(queue=queue, log_dir=tmp_path, **kwargs)
        started.append(process)
        return process

    yield factory
    for process in started:
        stop(process)
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
        connection.default_channel.queue_purge(webhook_queue(queue))
    wait_for_sessions_to_end(django_db_blocker, *(p.session_name for p in started))


def wait_for_sessions_to_end(blocker, *app_names: str, timeout: float = 10) -> None:
    """PostgreSQL notices a closed client a moment after the process is gone; the test
    database can only be dropped (or flushed) once it has. `app_names`: the
    application_names (`session_name`) of the processes that were stopped."""
    from django.db import connection

    with blocker.unblock():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = ANY(%s)",
                    [list(app_names)],
                )
                others = cursor.fetchall()
            if not others:
                return
            time.sleep(0.1)


class LiveServer:
    """A real ASGI server process (daphne, as `make run` starts it) on the test database."""

    def __init__(self, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process, self.port, self.log_path = process, port, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """daphne serving contentpipeline.asgi on a free port, using the test database (so
    tests that use it need committed data: `django_db(transaction=True)`)."""
    from django.db import connection

    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_NAME": connection.settings_dict["NAME"],
        "MEDIA_ROOT": str(tmp_path_factory.getbasetemp() / "media"),
        "PGAPPNAME": session_name("asgi-server"),
    }
    log_path = tmp_path_factory.mktemp("asgi") / "daphne.log"
    process = spawn(web_command("127.0.0.1", port), log_path=log_path, env=environment)
    server = LiveServer(process, port, log_path)
    try:
        wait_for_port(port, process)
    except RuntimeError:
        stop(process)
        raise
    yield server
    stop(process)
    wait_for_sessions_to_end(django_db_blocker, environment["PGAPPNAME"])


PROCESS_FIXTURES = {"celery_worker", "worker_factory", "asgi_server"}


def pytest_collection_modifyitems(items):
    # `pytest -m "not processes"` runs the quick part alone; `make test` runs everything.
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.processes)


@pytest.fixture(scope="session", autouse=True)
def _purge_test_queue():
    """Messages the tests queued without a worker to run them go with the run."""
    yield
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
        connection.default_channel.queue_purge(webhook_queue(settings.CELERY_TASK_DEFAULT_QUEUE))


@pytest.fixture
def queue_without_worker(settings):
    """A queue nobody takes from: a task sent there waits, as a stalled one does, and a
    test that runs a task itself after a committed move to pending (transaction=True)
    is not raced by the session's worker, which would run it with its own settings."""
    from contentpipeline.celery import app as celery_app

    settings.CELERY_TASK_DEFAULT_QUEUE = f"nobody-{uuid.uuid4().hex[:6]}"
    yield settings.CELERY_TASK_DEFAULT_QUEUE
    with celery_app.connection_for_write() as broker:
        broker.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
