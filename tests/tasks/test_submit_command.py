"""`manage.py submit`: a task created from a shell through the API's serializer and
service, and its progress followed live from the task's channel-layer group."""

import io
import os
import pty
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from tasks.management.commands import submit
from tasks.models import PIPELINE_STAGES, ContentTask
from tasks.services import task_cancel

from ..conftest import ROOT
from ..factories import UserFactory

DEAD = "redis://127.0.0.1:1"  # nothing listens there


def run_submit(*args) -> str:
    out = io.StringIO()
    call_command("submit", *args, stdout=out)
    return out.getvalue()


def manage_py_env(**extra) -> dict[str, str]:
    """The environment of a `manage.py` process on the test database."""
    return {**os.environ, "DATABASE_NAME": connection.settings_dict["NAME"], **extra}


class TestCreating:
    pytestmark = pytest.mark.django_db

    def test_prints_the_id_of_a_task_created_with_the_options_given(self, integrator):
        out = run_submit(
            "--topic", "  Rainwater harvesting for city gardens ",
            "--as", integrator.username,
            "--keywords", "rain barrel, drip irrigation",
            "--keywords", "mulch",
            "--task-type", "newsletter",
            "--priority", "urgent",
            "--target-length", "1200",
            "--tone", "casual",
            "--style", "listicle",
            "--quality", "fast",
            "--category", "Gardening",
            "--source", "https://example.com/rain",
            "--max-cost", "0.5",
            "--no-image",
            "--no-cache",
        )  # fmt: skip
        task = ContentTask.objects.get()
        assert out == f"{task.pk}\n"
        assert task.created_by == integrator
        assert task.topic == "Rainwater harvesting for city gardens"
        assert task.keywords == ["rain barrel", "drip irrigation", "mulch"]
        assert task.primary_keyword == "rain barrel"
        assert (task.task_type, task.priority, task.target_length) == ("newsletter", "urgent", 1200)
        assert (task.tone, task.style, task.quality_preference) == ("casual", "listicle", "fast")
        assert task.category == "Gardening" and task.sources == ["https://example.com/rain"]
        assert task.max_cost == Decimal("0.5")
        assert task.generate_image is False and task.use_cache is False
        assert task.status == "pending"

    def test_without_options_a_task_gets_the_apis_defaults(self, integrator):
        run_submit("--topic", "Composting in small flats", "--as", integrator.username)
        task = ContentTask.objects.get()
        assert (task.task_type, task.priority, task.target_length) == ("blog_post", "normal", 800)
        assert task.generate_image is True and task.use_cache is True and task.keywords == []

    def test_without_as_the_only_editor_submits(self, editor, integrator):
        run_submit("--topic", "Composting in small flats")
        assert ContentTask.objects.get().created_by == editor

    def test_without_as_and_without_an_editor_it_says_to_name_one(self, integrator):
        with pytest.raises(CommandError, match="No editor to submit as: name the user with --as"):
            run_submit("--topic", "Composting in small flats")
        assert not ContentTask.objects.exists()

    def test_without_as_and_with_several_editors_it_names_them(self):
        UserFactory(username="alice", editor=True)
        UserFactory(username="bob", is_superuser=True)
        with pytest.raises(CommandError, match=r"Several editors \('alice', 'bob'\)"):
            run_submit("--topic", "Composting in small flats")
        assert not ContentTask.objects.exists()

    def test_an_unknown_user_is_an_error_and_creates_nothing(self, editor):
        with pytest.raises(CommandError, match="No user named 'nobody'"):
            run_submit("--topic", "Composting in small flats", "--as", "nobody")
        assert not ContentTask.objects.exists()

    def test_an_inactive_user_cannot_submit(self):
        UserFactory(username="gone", is_active=False)
        with pytest.raises(CommandError, match="'gone' is inactive"):
            run_submit("--topic", "Composting in small flats", "--as", "gone")
        assert not ContentTask.objects.exists()

    @pytest.mark.parametrize(
        ("topic", "message"),
        [
            ("ab", "--topic: Ensure this field has at least 3 characters."),
            ("Rain\x00water", "--topic: Null characters are not allowed."),
            ("x" * 10240, "--topic: Ensure this field has no more than 300 characters."),
            ("   ", "--topic: This field may not be blank."),
        ],
        ids=["two-characters", "nul-byte", "ten-kilobytes", "blank"],
    )
    def test_a_bad_topic_is_refused_with_the_apis_message(self, integrator, topic, message):
        with pytest.raises(CommandError) as refused:
            run_submit("--topic", topic, "--as", integrator.username)
        assert str(refused.value) == message
        assert not ContentTask.objects.exists()

    def test_every_bad_option_is_named_in_one_error(self, integrator):
        with pytest.raises(CommandError) as refused:
            run_submit(
                "--topic", "Composting in small flats", "--as", integrator.username,
                "--target-length", "50", "--source", "ftp://example.com/x",
                "--max-cost", "-1", "--keywords", ",".join(f"word{n}" for n in range(21)),
            )  # fmt: skip
        lines = str(refused.value).splitlines()
        assert "--target-length: Ensure this value is greater than or equal to 100." in lines
        assert "--max-cost: Ensure this value is greater than or equal to 0." in lines
        assert any(line.startswith("--source") for line in lines)
        assert any(line.startswith("--keywords") for line in lines)
        assert not ContentTask.objects.exists()

    def test_a_value_outside_the_choices_is_refused(self, integrator):
        with pytest.raises(CommandError, match="invalid choice: 'weird'"):
            run_submit("--topic", "Composting", "--as", integrator.username, "--tone", "weird")
        assert not ContentTask.objects.exists()

    def test_with_the_broker_and_the_channel_layer_down_the_task_is_still_stored(
        self, integrator, settings, django_capture_on_commit_callbacks
    ):
        from contentpipeline.celery import app as celery_app

        layer = settings.CHANNEL_LAYERS["default"]
        settings.CHANNEL_LAYERS = {
            "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [f"{DEAD}/2"]}}
        }
        real = celery_app.conf.broker_url
        celery_app.conf.broker_url, celery_app._pool = f"{DEAD}/0", None
        celery_app.amqp._producer_pool = None
        try:
            with django_capture_on_commit_callbacks(execute=True):
                out = run_submit("--topic", "Written while Redis is away",
                                 "--as", integrator.username)  # fmt: skip
        finally:
            celery_app.conf.broker_url, celery_app._pool = real, None
            celery_app.amqp._producer_pool = None
        task = ContentTask.objects.get()
        assert out == f"{task.pk}\n" and task.status == "pending"


def stages_shown(output: str) -> list[str]:
    """The stages of the progress lines, in the order shown, each once."""
    stages = []
    for line in output.splitlines():
        match = re.match(r"\[\s*[\d.:s]+\] in_progress\s+(\w+)\s", line)
        if match and match.group(1) not in stages:
            stages.append(match.group(1))
    return stages


@pytest.mark.django_db(transaction=True)
def test_follow_shows_each_stage_in_order_and_ends_awaiting_approval(celery_worker, integrator):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "submit", "--topic", "Rainwater harvesting for city gardens", "--as", integrator.username,
        "--target-length", "300", "--follow", stdout=out, stderr=err,
    )  # fmt: skip
    task = ContentTask.objects.get()
    # The id alone on standard output: TASK_ID=$(manage.py submit ... --follow) works.
    assert out.getvalue() == f"{task.pk}\n"
    progress = err.getvalue()
    assert stages_shown(progress) == list(PIPELINE_STAGES)
    percents = [int(p) for p in re.findall(r" (\d+)%  ", progress)]
    assert percents == sorted(percents) and percents[-1] == 100
    lines = progress.splitlines()
    assert re.match(r"\[\s*[\d.:s]+\] awaiting_approval\s+done\s+100%", lines[-2])
    assert lines[-1].startswith(f"Task {task.pk}: awaiting_approval after ")
    assert task.status == "awaiting_approval"


@pytest.mark.django_db(transaction=True)
def test_follow_with_the_channel_layer_down_reads_the_database_to_the_end(
    celery_worker, integrator, settings
):
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [f"{DEAD}/2"]}}
    }
    err = io.StringIO()
    call_command(
        "submit", "--topic", "Rainwater harvesting for city gardens",
        "--as", integrator.username, "--target-length", "300", "--follow",
        stdout=io.StringIO(), stderr=err,
    )  # fmt: skip
    task = ContentTask.objects.get()
    lines = err.getvalue().splitlines()
    assert lines[0].startswith(
        "Live progress is unavailable: the channel layer (Redis) cannot be reached"
    )
    assert lines[-1].startswith(f"Task {task.pk}: awaiting_approval")


@pytest.fixture
def queue_without_worker(settings):
    """A queue nobody takes from: a task sent there waits, as a stalled one does."""
    from contentpipeline.celery import app as celery_app

    settings.CELERY_TASK_DEFAULT_QUEUE = f"nobody-{uuid.uuid4().hex[:6]}"
    yield settings.CELERY_TASK_DEFAULT_QUEUE
    with celery_app.connection_for_write() as broker:
        broker.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.mark.django_db(transaction=True)
def test_follow_ends_with_an_error_when_the_task_is_cancelled(queue_without_worker, integrator):
    err, raised = io.StringIO(), []

    def follow():
        try:
            call_command("submit", "--topic", "Cancelled before it starts",
                         "--as", integrator.username, "--follow",
                         stdout=io.StringIO(), stderr=err)  # fmt: skip
        except CommandError as exc:
            raised.append(exc)
        finally:
            connections.close_all()  # this thread's, or the test database stays in use

    follower = threading.Thread(target=follow)
    follower.start()
    deadline = time.monotonic() + 30
    while "Task is pending" not in err.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    task = ContentTask.objects.get()
    task_cancel(user=integrator, task_id=task.pk)
    follower.join(30)
    assert not follower.is_alive()
    lines = err.getvalue().splitlines()
    assert re.match(r"\[\s*[\d.]+s\] cancelled", lines[-1]), lines
    assert len(raised) == 1
    assert re.fullmatch(rf"Task {task.pk}: cancelled after [\d.]+s \(Cancelled\)",
                        str(raised[0]))  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_follow_on_a_terminal_redraws_one_bar(celery_worker, integrator):
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "submit", "--topic", "Rainwater harvesting for city gardens",
         "--as", integrator.username, "--target-length", "300", "--follow"],
        cwd=ROOT, env=manage_py_env(TERM="xterm"), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=terminal,
    )  # fmt: skip
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(60) == 0, output.decode()
    os.close(controller)
    task = ContentTask.objects.get()
    assert process.stdout.read() == f"{task.pk}\n".encode()
    text = output.decode()
    assert f"\r[{'#' * 24}] 100%  done     awaiting_approval" in text
    # Every state is drawn over the one before, on one line of the terminal (which
    # ends lines with \r\n).
    lines = [line for line in text.split("\r\n") if line and " INFO " not in line]
    assert lines[0].count("\r[") >= 2 and "%  research" in lines[0]
    assert lines[1].startswith(f"Task {task.pk}: awaiting_approval")


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_following_and_the_task_goes_on(queue_without_worker, integrator):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "submit", "--topic", "Nobody runs this one yet",
         "--as", integrator.username, "--follow"],
        cwd=ROOT, env=manage_py_env(CELERY_QUEUE=queue_without_worker),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        task_id = process.stdout.readline().strip()
        # The first state shown: the task waits, as one whose worker is busy or gone.
        while " INFO " in (first := process.stderr.readline()):
            pass
        assert re.match(r"\[\s*[\d.]+s\] pending", first), first
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130
    assert f"Stopped following task {task_id}; the task itself goes on (now pending" in err
    assert "Traceback" not in err
    assert ContentTask.objects.get(pk=task_id).status == "pending"


def test_a_stalled_task_gets_a_line_with_the_time_waited(monkeypatch):
    monkeypatch.setattr(submit, "STALL_LINE_SECONDS", 0.2)
    out = io.StringIO()
    view = submit.ProgressView(submit.OutputWrapper(out), interactive=False)
    state = {"status": "pending", "stage": "research", "progress": 0, "message": "Task is pending"}
    view.show(state)
    view.tick()  # too early: nothing
    time.sleep(0.25)
    view.tick()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert re.search(r"still pending, no change for 0\.\ds \(is a worker running\?\)", lines[1])
