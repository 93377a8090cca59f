"""The project's processes as `make run`, the tests and the benchmarks start them: the
web server's and the workers' commands, a free port to serve on, a child started in a
session of its own, waiting until it answers, and stopping it with its children.

Plain Python: `make run` uses it before Django is configured (only `wait_for_worker`
sets Django up, to ping the worker through the project's Celery app).
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from contentpipeline.queues import DEFAULT_QUEUE, webhook_queue

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on loopback that nothing listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def web_command(host: str, port: int | str) -> list[str]:
    """The ASGI server (HTTP and WebSocket on one port), as `make run`, the tests and
    the benchmarks start it. A WebSocket stays open as long as its client keeps it
    (daphne's default ends it after a day); a handshake may wait for a busy process a
    while; clients only ever send small JSON messages. daphne's own access log is off:
    the request log (contentpipeline.observability) writes one line a request, as JSON
    in production, with the request id and user that daphne's lacks."""
    return [
        str(BIN / "daphne"),
        "-b",
        host,
        "-p",
        str(port),
        "--websocket_timeout",
        "-1",
        "--websocket_connect_timeout",
        "30",
        "--websocket-max-message-size",
        "65536",
        "--access-log",
        "/dev/null",
        "contentpipeline.asgi:application",
    ]


def worker_command(
    *,
    queue: str | None = None,
    deliveries: bool = False,
    node: str | None = None,
    concurrency: int | None = None,
    loglevel: str = "INFO",
    extra: Sequence[str] = (),
) -> list[str]:
    """A Celery worker, as `make run`, the tests and the benchmarks start it. Its pool
    and concurrency come from the settings, so every worker runs as production does;
    `concurrency` overrides the number of threads (a test of priorities wants one at a
    time). A pipeline worker consumes the pipeline's queue (`queue`, else the settings'
    CELERY_TASK_QUEUES: that queue alone). With `deliveries`, it is the webhook
    deliveries' worker instead: it consumes their queue beside `queue` (else beside
    CELERY_QUEUE's) and nothing else, with WEBHOOK_CONCURRENCY threads whatever
    `concurrency` says (tasks/queue.py sizes the pool when the worker starts: Celery
    fills in a missing `-c` from the settings, so an explicit one looks the same)."""
    command = [str(BIN / "celery"), "-A", "contentpipeline", "worker", "-l", loglevel]
    if deliveries:
        command += ["-Q", webhook_queue(queue or os.environ.get("CELERY_QUEUE") or DEFAULT_QUEUE)]
    elif queue:
        command += ["-Q", queue]
    if node:
        command += ["-n", node]
    if concurrency is not None:
        command += ["-c", str(concurrency)]
    return [*command, *extra]


def worker_processes() -> int:
    """How many worker processes a host runs (WORKER_PROCESSES, default 2): a process's
    threads share one core (Python's GIL), so a 2-core host runs two, each keeping its
    WORKER_CONCURRENCY tasks in flight."""
    raw = os.environ.get("WORKER_PROCESSES", "2")
    if not raw.isdigit() or int(raw) < 1:
        raise SystemExit(f"WORKER_PROCESSES={raw!r}: give a number of processes, 1 or more")
    return int(raw)


def node_name(name: str) -> str:
    """A worker's full node name, `name@<this host>`, as Celery expands `name@%h`."""
    return f"{name}@{socket.gethostname()}"


def spawn(
    command: Sequence[str], *, log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start `command` from the repository's root in a session (and process group) of
    its own, so `stop` can end it with its children (a worker's pool, PostgreSQL's
    backends), its output appended to `log_path`; `env` replaces the environment."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.log_path = log_path
    return process


def log_tail(path: Path | None, lines: int = 60) -> str:
    """The last `lines` lines of a child's log ("" without one)."""
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _failed(process: subprocess.Popen, what: str) -> RuntimeError:
    tail = log_tail(getattr(process, "log_path", None))
    return RuntimeError(f"{what}:\n{tail}" if tail else what)


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until something accepts connections on loopback's `port` (`process`, a
    server starting); RuntimeError, with the end of its log, if it exits first or
    nothing listens within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            program = Path(process.args[0]).name
            raise _failed(process, f"{program} exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise _failed(process, f"nothing listens on port {port} after {timeout:.0f}s")


def wait_for_worker(process: subprocess.Popen, node: str, timeout: float = 60) -> None:
    """Wait until the Celery worker `process`, named `node` (a full node name), answers
    a ping; RuntimeError, with the end of its log, if it exits first or does not
    answer within `timeout` seconds."""
    from contentpipeline.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _failed(process, f"{node} exited with code {process.returncode}")
        if app.control.ping(destination=[node], timeout=0.5):
            return
    raise _failed(process, f"{node} did not answer in {timeout:.0f}s")


def children_of(pid: int) -> set[int]:
    """The ids of process `pid`'s children, read from /proc (Linux)."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the process's whole group: a Celery worker's main process and its pool."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def stop(
    process: subprocess.Popen,
    *,
    timeout: float = 30,
    kill: bool = False,
    group: bool = True,
    name: str = "",
) -> None:
    """Stop `process`. Asked to stop (SIGTERM: a Celery worker finishes its running
    tasks) and given `timeout` seconds; killed if it has not stopped by then. With
    `group` (a process `spawn` started, the leader of a group of its own) whatever is
    left of its group is killed after it, its pool or backends; without (a child that
    shares this process' group, as `make run`'s do) the process alone. With `kill`,
    SIGKILL at once, as a crash or an OOM kill would end it. `name` is said when a
    process had to be killed."""
    if process.poll() is None:
        if kill and group:
            kill_group(process)
        elif kill:
            process.kill()
        else:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                if name:
                    print(f"{name} did not stop in {timeout:.0f}s; killing it", flush=True)
    if group:
        kill_group(process)
    elif process.poll() is None:
        process.kill()
    process.wait()
