"""PostgreSQL killed (SIGKILL to the postmaster) and restarted under a stream of
`POST /api/tasks`, with tasks in the middle of their stages: while it is down requests
answer 503 JSON within about a second and /api/health names the database; within 5 s
of its return the web process, the worker and beat's jobs work again, with no restart
of theirs; every task reaches awaiting_approval with each stage stored once.

The server is a private cluster (initdb in a temporary directory, its own port), so the
kill touches nobody else's database; the web process (daphne), the Celery worker and
beat are the real ones, started as `make run` starts them. The runner's patience with
the database (`despite_outage`) is tested on its own first."""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx2
import pgserver
import psycopg
import pytest
from django.db import IntegrityError, OperationalError
from psycopg_pool import ConnectionPool, PoolTimeout

from devtools.processes import alive, children_of, free_port, spawn, stop, web_command
from tasks.runner import despite_outage

from .conftest import ROOT, start_worker
from .fakes import FakeLLMServer

PG_BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"
PG_USER = "pgserver"  # PostgreSQL refuses to run as root; pgserver makes this user
DB_NAME = "contentpipeline"
STAGES = ("research", "draft", "review", "image", "seo")


class Flaky:
    """A write that raises `error` the first `failures` times it is called."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error, self.failures, self.calls = error, failures, 0

    def __call__(self, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return kwargs


def test_a_runner_write_that_finds_the_database_out_of_reach_is_made_once_it_is_back():
    write = Flaky(OperationalError("couldn't get a connection after 1.00 sec"), failures=3)
    assert despite_outage(write, stage="draft") == {"stage": "draft"}
    assert write.calls == 4


def test_a_runner_write_the_database_refused_is_not_tried_again():
    write = Flaky(IntegrityError("duplicate key value"), failures=1)
    with pytest.raises(IntegrityError):
        despite_outage(write, stage="draft")
    assert write.calls == 1


def test_a_runner_write_gives_up_once_its_lease_would_have_gone_stale(settings):
    settings.PIPELINE_LEASE_SECONDS = 0.5
    write = Flaky(OperationalError("the connection is closed"), failures=1000)
    started = time.monotonic()
    with pytest.raises(OperationalError):
        despite_outage(write, stage="draft")
    assert 0.5 <= time.monotonic() - started < 2
    assert write.calls > 1


class PrivatePostgres:
    """A PostgreSQL 16 cluster of its own (pgserver's binaries) on 127.0.0.1:`port`,
    its postmaster a child of this process, so it can be killed and started again."""

    def __init__(self) -> None:
        self.user = None
        if os.geteuid() == 0:
            from pgserver.utils import ensure_user_exists

            ensure_user_exists(PG_USER)
            self.user = PG_USER
        self.dir = Path(tempfile.mkdtemp(prefix="cp-restart-"))
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{DB_NAME}"
        self.log_path = self.dir / "postgres.log"
        self.process: subprocess.Popen | None = None
        subprocess.run(
            [PG_BIN / "initdb", "-D", self.dir / "data", "-U", "postgres", "--auth=trust",
             "-E", "utf8", "--no-sync"],
            user=self.user, check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [PG_BIN / "postgres", "-D", self.dir / "data", "-p", str(self.port),
                 "-h", "127.0.0.1", "-k", self.dir, "-c", "fsync=off"],
                user=self.user, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its backends share its process group
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.accepts_connections():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log_path.read_text()}")
            time.sleep(0.02)

    def accepts_connections(self) -> bool:
        try:
            psycopg.connect(self.conninfo("postgres"), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def conninfo(self, dbname: str = DB_NAME) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def kill(self) -> None:
        """SIGKILL to the postmaster alone, as a crash would; its backends notice and
        exit by themselves, and a new postmaster may start once they have. (Each backend
        is a process group of its own, so they are found as the postmaster's children.)"""
        backends = children_of(self.process.pid)
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        wait_for(lambda: not any(map(alive, backends)), 30, "the backends to exit")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown: sessions are cut
            self.process.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres():
    server = PrivatePostgres()
    try:
        server.start()
        with psycopg.connect(server.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DB_NAME}")
        yield server
    finally:
        server.stop()


# Run by `manage.py shell` while the processes start (none of them reads the database
# before a request or a task comes): the schema, and a user whose token it prints.
MIGRATE_AND_MAKE_A_USER = (
    "from django.core.management import call_command; "
    "call_command('migrate', verbosity=0); "
    "from django.contrib.auth.models import User; "
    "from rest_framework.authtoken.models import Token; "
    "print(Token.objects.create(user=User.objects.create_user('restart')).key)"
)


def start_process(command: list[str], env: dict, log_path: Path) -> subprocess.Popen:
    return spawn(command, log_path=log_path, env={**os.environ, **env})


def wait_for(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(0.05)


class Answer:
    def __init__(self, started: float, ended: float, response: httpx2.Response | None) -> None:
        self.started, self.ended = started, ended
        self.status = response.status_code if response is not None else None
        self.headers = response.headers if response is not None else {}
        try:
            self.body = response.json() if response is not None else None
        except ValueError:
            self.body = None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


class TaskStream:
    """Threads that each POST /api/tasks over and over until stopped, keeping every
    answer with when it was asked and answered."""

    def __init__(self, base_url: str, token: str, threads: int = 2) -> None:
        self.client = httpx2.Client(
            base_url=base_url, timeout=30, headers={"Authorization": f"Token {token}"}
        )
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._count = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._post, daemon=True) for _ in range(threads)]

    def __enter__(self) -> "TaskStream":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        self.client.close()

    def _post(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                self._count += 1
                number = self._count
            body = {
                "topic": f"Composting through a power cut, part {number}",
                "target_length": 100,
                "generate_image": False,
                "keywords": ["soil"],
                "use_cache": False,
            }
            started = time.time()
            try:
                response = self.client.post("/api/tasks", json=body)
            except httpx2.HTTPError:
                response = None
            self.answers.append(Answer(started, time.time(), response))

    def between(self, start: float, end: float = float("inf")) -> list[Answer]:
        """The answers to requests asked after `start` and answered before `end`."""
        return [a for a in list(self.answers) if a.started > start and a.ended < end]


def query(server: PrivatePostgres, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(server.conninfo(), connect_timeout=2) as conn:
        return conn.execute(sql, params).fetchall()


def worker_log_events(log_path: Path, task_name: str) -> list[tuple[float, str]]:
    """(time, outcome) of each run of a periodic job the worker logged: `succeeded`,
    or `failed` (Celery's `raised unexpected`)."""
    events = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("message", ""))
        if not message.startswith(f"Task {task_name}["):
            continue
        if " succeeded in " in message:
            outcome = "succeeded"
        elif " raised unexpected" in message:
            outcome = "failed"
        else:
            continue  # received, retried
        events.append((datetime.fromisoformat(record["time"]).timestamp(), outcome))
    return events


@pytest.mark.processes
def test_the_pool_reconnects_within_about_a_second_of_the_server_return_however_long_it_was_down(
    postgres, settings
):
    """With psycopg_pool's own reconnect_timeout (300 s) the attempts of a pool whose
    server is down back off (1 s, 2 s, 4 s, ...): after 4 s down the next would come
    3 s after the server's return, after a minute down half a minute after it."""
    pool = ConnectionPool(
        postgres.conninfo(), open=True, check=ConnectionPool.check_connection,
        **settings.DATABASES["default"]["OPTIONS"]["pool"],
    )  # fmt: skip
    try:
        pool.wait(10)
        postgres.kill()
        down_until = time.monotonic() + 4  # how long the outage lasts
        while time.monotonic() < down_until:
            with pytest.raises(PoolTimeout):  # callers keep asking, as they would
                pool.getconn()
        postgres.start()
        back = time.monotonic()
        while True:
            try:
                pool.putconn(pool.getconn())
                break
            except PoolTimeout:
                continue
        waited = time.monotonic() - back
        assert waited < 2, f"the pool reconnected {waited:.1f} s after the server was back"
    finally:
        pool.close()


@pytest.mark.processes
def test_a_database_killed_and_restarted_costs_fast_503s_during_and_nothing_after(
    postgres, tmp_path
):
    queue = f"restart-{os.getpid()}-{int(time.time())}"
    env = {
        "DATABASE_URL": postgres.url,
        "DATABASE_NAME": DB_NAME,
        "CELERY_QUEUE": queue,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "LOG_FORMAT": "json",
        "THROTTLE_RATES": "user=100000/min,task_create=100000/min",
        "DISPATCH_INTERVAL": "1",
    }
    migrate = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", MIGRATE_AND_MAKE_A_USER], cwd=ROOT,
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    beat = [str(Path(sys.executable).parent / "celery"), "-A", "contentpipeline", "beat",
            "-l", "INFO", "-s", str(tmp_path / "beat-schedule")]  # fmt: skip
    processes = []
    # Each model call takes a while, so tasks are in the middle of their stages when
    # the server dies, and stages finish while it is down.
    with FakeLLMServer(delay=0.3) as llm:
        try:
            processes.append(start_process(web_command("127.0.0.1", port), env,
                                           tmp_path / "daphne.log"))  # fmt: skip
            processes.append(start_process(beat, env, tmp_path / "beat.log"))
            worker = start_worker(queue=queue, env={**env, **llm.env()}, log_dir=tmp_path)
            processes.append(worker)
            output, errors = migrate.communicate(timeout=120)
            assert migrate.returncode == 0, output + errors
            token = output.split()[-1]
            wait_for(lambda: _answers(f"{base}/api/health"), 60, "daphne to answer")

            with TaskStream(base, token) as stream:
                wait_for(
                    lambda: query(postgres, "SELECT count(*) FROM tasks_stagerun"
                                  " WHERE status = 'running'")[0][0] >= 3,
                    60, "tasks to be in the middle of their stages",
                )  # fmt: skip
                postgres.kill()
                killed = time.time()  # and every backend gone with it
                wait_for(lambda: len(stream.between(killed)) >= 4, 30, "answers while down")
                health = httpx2.get(f"{base}/api/health", timeout=30)
                restarted = time.time()
                postgres.start()
                up = time.time()
                wait_for(lambda: len(stream.between(up + 5)) >= 4, 60, "answers after 5 s")

            during = stream.between(killed, restarted)
            assert during and {a.status for a in during} == {503}, [a.status for a in during]
            for answer in during:
                assert answer.body == {"detail": "The database is unavailable; try again shortly."}
                assert answer.headers["Retry-After"] == "5"
                assert answer.seconds < 1.5, f"a 503 took {answer.seconds:.2f} s"
            assert health.status_code == 503
            assert health.json() == {"database": "error", "cache": "ok", "broker": "ok",
                                     "workers": "ok"}  # fmt: skip
            assert all(a.status in (201, 503) for a in stream.answers), "no 500, no lost answer"
            after = stream.between(up + 5)
            assert [a.status for a in after] == [201] * len(after)
            first_created = min(a.ended for a in stream.between(up) if a.status == 201)
            print(f"first 201 {first_created - up:.2f} s after the server was back; "
                  f"503s in {max(a.seconds for a in during):.2f} s at most")  # fmt: skip

            created = {a.body["id"] for a in stream.answers if a.status == 201}
            stored = dict(query(postgres, "SELECT id::text, status FROM tasks_contenttask"))
            assert created <= set(stored)
            wait_for(
                lambda: set(dict(query(postgres, "SELECT id::text, status"
                                       " FROM tasks_contenttask")).values())
                == {"awaiting_approval"},
                120, "every task to reach awaiting_approval",
            )  # fmt: skip
        finally:
            migrate.kill()
            for process in processes:
                stop(process, kill=True)  # what they did is in the database

    # Each stage of each task stored once (the image stage skipped), none run twice.
    stored = query(
        postgres,
        "SELECT task_id::text, stage, count(*) FROM tasks_stagerun"
        " WHERE status IN ('succeeded', 'skipped') GROUP BY task_id, stage",
    )
    per_task: dict[str, dict[str, int]] = {}
    for task_id, stage, count in stored:
        per_task.setdefault(task_id, {})[stage] = count
    task_ids = {task_id for (task_id,) in query(postgres, "SELECT id::text FROM tasks_contenttask")}
    assert set(per_task) == task_ids
    assert all(stages == dict.fromkeys(STAGES, 1) for stages in per_task.values()), per_task
    others = query(postgres, "SELECT task_id::text, stage, status, error FROM tasks_stagerun"
                             " WHERE status NOT IN ('succeeded', 'skipped')")  # fmt: skip
    assert others == [], "a stage attempted twice (lost, failed or a duplicate)"
    # No task without its creation record (a create is whole or not at all).
    created_records = query(
        postgres,
        "SELECT DISTINCT id::text FROM tasks_historicalcontenttask WHERE history_type = '+'",
    )
    assert {task_id for (task_id,) in created_records} == task_ids

    # Beat's jobs ran in the worker again within 5 s of the server's return, and none
    # failed after that.
    for job in ("tasks.tasks.dispatch_waiting_tasks", "tasks.tasks.dispatch_waiting_webhooks"):
        events = worker_log_events(worker.log_path, job)
        assert any(up < at <= up + 5 and outcome == "succeeded" for at, outcome in events), job
        assert not [at for at, outcome in events if at > up + 5 and outcome == "failed"], job


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=5).status_code in (200, 503)
    except httpx2.HTTPError:
        return False
