"""`make run` (devtools.stack run) stops what it started when it is told to stop.

A terminal's Ctrl-C reaches every process of the foreground group; a service manager,
`docker stop` or `kill` signals the supervisor alone, which must then stop the web
server, the workers and beat itself, and exit cleanly."""

import os
import signal
import subprocess
import sys
import time

import pytest

from devtools.processes import ROOT, alive, children_of, free_port

from ..conftest import session_name, wait_for_sessions_to_end


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_stop_signal_to_the_supervisor_alone_stops_everything_it_started(
    tmp_path, django_db_blocker
):
    from django.db import connection

    app_name = session_name("stack-run")
    env = {
        **os.environ,
        "STACK_DATA": str(tmp_path / "data"),
        "DATABASE_NAME": connection.settings_dict["NAME"],
        "PGAPPNAME": app_name,
        "PORT": str(free_port()),
        "DEBUG": "true",
        "WORKER_PROCESSES": "1",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    log_path = tmp_path / "stack.log"
    with log_path.open("wb") as log:
        stack = subprocess.Popen(
            [sys.executable, "-m", "devtools.stack", "run"], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "Press Ctrl-C to stop." not in log_path.read_text():
            assert stack.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        started = children_of(stack.pid)
        assert len(started) == 4, started  # web, one worker, the deliveries' worker, beat

        stack.send_signal(signal.SIGTERM)  # to the supervisor alone
        assert stack.wait(timeout=90) == 0, log_path.read_text()
        output = log_path.read_text()
        assert "Stopped." in output and "Traceback" not in output, output
        assert [pid for pid in started if alive(pid)] == []
        assert not (tmp_path / "data" / "stack.env").exists()
    finally:
        try:
            os.killpg(stack.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stack.wait()
        wait_for_sessions_to_end(django_db_blocker, app_name, timeout=30)
