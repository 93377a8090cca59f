"""Shared set-up of the benches: the bench database, a Celery queue (and channel-layer
and cache prefixes) of the run's own, and child processes (workers, daphne) that are
stopped however the run ends (started and stopped with devtools.processes, as the
tests start theirs).

Import this before Django: `configure()` sets the environment the settings read, then
migrates the bench database and calls `django.setup()`.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devtools.processes import (  # noqa: E402  (the repository's root is on the path now)
    log_tail,
    node_name,
    spawn,
    stop,
    wait_for_worker,
    worker_command,
)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_line(label: str, values: Sequence[float]) -> str:
    """`label: n, latency p50 .. ms, p99 .. ms, max .. ms` (values in ms)."""
    if not values:
        return f"{label}: none received"
    return (
        f"{label}: {len(values)}, latency p50 {percentile(values, 0.5):.1f} ms, "
        f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
    )


def bench_database(suffix: str = "bench", *, fresh: bool = False) -> str:
    """Create `<DATABASE_URL's name>_<suffix>` if it does not exist (dropped first when
    `fresh`: the audit tables refuse TRUNCATE, so a bench that must start from empty
    tables starts from a new database); return its name."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    from devtools.stack import ensure_database, server_conninfo

    parts = urlsplit(os.environ["DATABASE_URL"])
    name = f"{parts.path.lstrip('/')}_{suffix}"
    url = urlunsplit(parts._replace(path=f"/{name}"))
    if fresh:
        with psycopg.connect(**server_conninfo(url), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    ensure_database(url)
    return name


def production_env() -> dict[str, str]:
    """Production settings (DEBUG off: no query log on every cursor), minus what plain
    HTTP on loopback cannot have: for benches of what a deployment would measure."""
    return {
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + os.urandom(32).hex(),
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "STATIC_MANIFEST": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }


def configure(
    tag: str,
    *,
    database_suffix: str = "bench",
    fresh: bool = False,
    env: dict[str, str] | None = None,
) -> str:
    """Prepare the environment of this process and its children, migrate the bench
    database (a new one when `fresh`) and set Django up. Returns the run's Celery queue
    name, which is also its channel-layer and cache prefix, so nothing else on the same
    Redis sees its traffic."""
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("DATABASE_URL is not set (make bench sets it, or export it)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contentpipeline.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + uuid.uuid4().hex)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("MEDIA_ROOT", str(ROOT / ".data" / "bench-media"))
    os.environ.update(env or {})
    os.environ["DATABASE_NAME"] = bench_database(database_suffix, fresh=fresh)
    queue = f"bench-{tag}-{uuid.uuid4().hex[:6]}"
    for variable in ("CELERY_QUEUE", "CHANNEL_LAYER_PREFIX", "CACHE_KEY_PREFIX"):
        os.environ[variable] = queue
    # Lets worker processes import the `bench` package (bench.noop_tasks).
    os.environ["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(ROOT), os.environ.get("PYTHONPATH", "")) if part
    )
    subprocess.run([str(BIN / "python"), "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True)

    import django

    django.setup()
    cancel_leftovers()
    return queue


def cancel_leftovers() -> int:
    """Cancel (and delete) the tasks an earlier, interrupted run left pending or running
    in the bench database: a run message runs whichever pending task's turn it is, so
    they would take this run's messages."""
    from datetime import UTC, datetime

    from tasks.models import ACTIVE_STATUSES, ContentTask, Status

    return (
        ContentTask.objects.alive()
        .filter(status__in=ACTIVE_STATUSES)
        .update(status=Status.CANCELLED, lease_id=None, deleted_at=datetime.now(tz=UTC))
    )


class Processes(contextlib.AbstractContextManager["Processes"]):
    """The run's child processes, each started in a session (process group) of its own
    (devtools.processes.spawn). Leaving the block stops all of them, on success, on an
    exception, on Ctrl-C and on SIGTERM/SIGHUP; logs go to a temporary folder, kept and
    named if the run failed."""

    def __init__(self, queue: str) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix=f"{queue}-"))
        self.children: list[subprocess.Popen[bytes]] = []
        self._previous: dict[int, Any] = {}

    def spawn(self, name: str, command: Sequence[str]) -> subprocess.Popen[bytes]:
        process = spawn(command, log_path=self.logs / f"{name}.log")
        self.children.append(process)
        return process

    def log_tail(self, name: str, lines: int = 40) -> str:
        return log_tail(self.logs / f"{name}.log", lines)

    def __enter__(self) -> "Processes":
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, _exit_on_signal)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            for process in reversed(self.children):
                stop(process, timeout=20)
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            if exc_type is None:
                shutil.rmtree(self.logs, ignore_errors=True)
            else:
                print(f"process logs kept in {self.logs}", file=sys.stderr)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


class Worker:
    """A real `celery worker` process on the run's queue, with a node name of its own:
    the worker `make run` starts (its pool and concurrency from the settings, unless
    `concurrency` is given)."""

    def __init__(
        self,
        processes: Processes,
        queue: str,
        *,
        concurrency: int | None = None,
        include: Sequence[str] = (),
    ) -> None:
        self.processes, self.queue = processes, queue
        self.concurrency, self.include = concurrency, tuple(include)
        self.started = 0
        self.name = ""
        self.node = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.started += 1
        self.name = f"worker{self.started}"
        self.node = node_name(f"{self.queue}-{self.name}")
        extra = ["--without-gossip", "--without-mingle"]
        for module in self.include:
            extra += ["--include", module]
        command = worker_command(
            queue=self.queue,
            node=self.node,
            concurrency=self.concurrency,
            loglevel="WARNING",
            extra=extra,
        )
        self.process = self.processes.spawn(self.name, command)

    def wait_ready(self, timeout: float = 60) -> None:
        assert self.process is not None
        wait_for_worker(self.process, self.node, timeout)

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.process.returncode}:\n"
                + self.processes.log_tail(self.name)
            )

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as a crash or an OOM kill would."""
        assert self.process is not None
        stop(self.process, kill=True)


def purge_broker(queue: str) -> None:
    """Remove what the run left in Redis: its queue lists and binding, the messages a
    killed worker had taken without acknowledging them (kombu would put them back on a
    queue nobody reads once the visibility timeout passes), and its channel-layer keys."""
    import redis
    from django.conf import settings

    from tasks.metrics import PRIORITY_SEPARATOR

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete(
        queue,
        *(f"{queue}{PRIORITY_SEPARATOR}{priority}" for priority in range(10)),
        f"_kombu.binding.{queue}",
        f"_kombu.binding_permanent.{queue}",
    )
    for tag, raw in broker.hscan_iter("unacked"):
        try:
            _message, _exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if routing_key == queue:
            broker.pipeline().hdel("unacked", tag).zrem("unacked_index", tag).execute()
    layer = redis.Redis.from_url(settings.CHANNEL_LAYER_URL)
    for key in layer.scan_iter(match=f"{queue}*", count=1000):
        layer.delete(key)
