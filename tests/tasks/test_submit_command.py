"""`manage.py submit`: a task created from a shell through the API's serializer and
service, and its progress followed live from the task's channel-layer group."""

import fcntl
import io
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from tasks.management.commands import submit
from tasks.models import PIPELINE_STAGES, ContentTask
from tasks.services import task_cancel

from ..brokers import use_broker
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
        assert task.review_plan is False

    def test_review_plan_asks_for_the_plan_to_be_approved_before_the_draft(self, integrator):
        run_submit("--topic", "Composting in small flats", "--as", integrator.username,
                   "--review-plan")  # fmt: skip
        task = ContentTask.objects.get()
        assert task.review_plan is True and task.plan is None

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
        use_broker(f"{DEAD}/0")
        try:
            with django_capture_on_commit_callbacks(execute=True):
                out = run_submit("--topic", "Written while Redis is away",
                                 "--as", integrator.username)  # fmt: skip
        finally:
            use_broker(real)
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
def test_follow_shows_each_stage_in_order_and_ends_awaiting_approval(
    celery_worker, integrator, monkeypatch
):
    # rich would draw for a terminal into a pipe with these set; a log gets plain lines.
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "submit", "--topic", "Rainwater harvesting for city gardens", "--as", integrator.username,
        "--target-length", "300", "--follow", stdout=out, stderr=err,
    )  # fmt: skip
    task = ContentTask.objects.get()
    # The id alone on standard output: TASK_ID=$(manage.py submit ... --follow) works.
    assert out.getvalue() == f"{task.pk}\n"
    progress = err.getvalue()
    assert "\x1b" not in progress and "\r" not in progress
    assert stages_shown(progress) == list(PIPELINE_STAGES)
    percents = [int(p) for p in re.findall(r" (\d+)%  ", progress)]
    assert percents == sorted(percents) and percents[-1] == 100
    lines = progress.splitlines()
    assert re.match(r"\[\s*[\d.:s]+\] awaiting_approval\s+done\s+100%", lines[-2])
    assert lines[-1].startswith(f"Task {task.pk}: awaiting_approval after ")
    assert task.status == "awaiting_approval"


@pytest.mark.django_db(transaction=True)
def test_follow_with_review_plan_ends_successfully_when_the_plan_awaits_an_editor(
    celery_worker, integrator
):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "submit", "--topic", "Planting a hedge for birds", "--as", integrator.username,
        "--target-length", "300", "--review-plan", "--follow", stdout=out, stderr=err,
    )  # fmt: skip
    task = ContentTask.objects.get()
    assert task.status == "awaiting_plan"
    assert err.getvalue().splitlines()[-1].startswith(f"Task {task.pk}: awaiting_plan after ")


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


# rich draws its live display over itself: back to the line's start, erase it, draw.
REDRAW = "\r\x1b[2K"
COLOUR = re.compile(r"\x1b\[[\d;]*m")
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"


def terminal(columns: int = 100) -> tuple[int, int]:
    """A pseudo-terminal of that width: its controlling end and the process' end."""
    controller, end = pty.openpty()
    fcntl.ioctl(end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return controller, end


def read_terminal(controller: int, *, until: str | None = None, timeout: float = 60) -> str:
    """What the process shows on the terminal (colours left out) until it closes it, or
    until `until` is shown."""
    output, deadline = b"", time.monotonic() + timeout
    while until is None or until not in COLOUR.sub("", output.decode(errors="replace")):
        assert select.select([controller], [], [], max(0, deadline - time.monotonic()))[0], output
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        output += chunk
    return COLOUR.sub("", output.decode())


@pytest.mark.django_db(transaction=True)
def test_follow_on_a_terminal_redraws_one_bar(celery_worker, integrator):
    controller, end = terminal(columns=100)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "submit", "--topic", "Rainwater harvesting for city gardens",
         "--as", integrator.username, "--target-length", "300", "--follow"],
        cwd=ROOT, env=manage_py_env(TERM="xterm"), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=end,
    )  # fmt: skip
    os.close(end)
    text = read_terminal(controller)
    assert process.wait(60) == 0, text
    os.close(controller)
    task = ContentTask.objects.get()
    assert process.stdout.read() == f"{task.pk}\n".encode()
    # One line of the terminal (which ends lines with \r\n) drawn over and over, from the
    # first stage to the draft awaiting approval; then the cursor is back and the summary
    # has a line of its own.
    lines = [line for line in text.split("\r\n") if line and " INFO " not in line]
    assert lines[0].startswith(HIDE_CURSOR), lines
    draws = [draw.rstrip() for draw in lines[0].removeprefix(HIDE_CURSOR).split(REDRAW)]
    assert len(draws) >= 2
    assert any(re.search(r" \d+% research ", draw) for draw in draws), draws
    assert re.fullmatch(r"━{24} 100% done\s+awaiting_approval\s+0:00:\d\d", draws[-1]), draws
    assert all(len(draw) < 100 for draw in draws)
    assert lines[1].startswith(f"{SHOW_CURSOR}Task {task.pk}: awaiting_approval after ")


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_following_and_the_task_goes_on(queue_without_worker, integrator):
    controller, end = terminal()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "submit", "--topic", "Nobody runs this one yet",
         "--as", integrator.username, "--follow"],
        cwd=ROOT, env=manage_py_env(CELERY_QUEUE=queue_without_worker, TERM="xterm"),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=end,
    )  # fmt: skip
    os.close(end)
    try:
        # The bar shows the task waiting, as one whose worker is busy or gone.
        shown = read_terminal(controller, until="pending")
        process.send_signal(signal.SIGINT)
        text = shown + read_terminal(controller)
        assert process.wait(30) == 130, text
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    task_id = process.stdout.read().decode().strip()
    # The terminal is left as it was: the bar's line ended, the cursor shown again.
    assert text.rindex(SHOW_CURSOR) > text.rindex(REDRAW)
    lines = [line for line in text.split("\r\n") if line and " INFO " not in line]
    assert re.search(r" 0% research pending\s+0:00:\d\d\s*$", lines[0]), lines
    assert lines[1].startswith(f"{SHOW_CURSOR}Stopped following task {task_id}; the task itself "
                               f"goes on (now pending"), lines  # fmt: skip
    assert "Traceback" not in text
    assert ContentTask.objects.get(pk=task_id).status == "pending"


def test_a_stalled_task_gets_a_line_with_the_time_waited(monkeypatch):
    monkeypatch.setattr(submit, "STALL_LINE_SECONDS", 0.2)
    out = io.StringIO()
    view = submit.ProgressView(submit.progress_console(out, {}))
    # Shown as it is, never as markup, and on one line however long.
    message = "Task is pending [queued] behind " + "other users' tasks, " * 5
    state = {"status": "pending", "stage": "research", "progress": 0, "message": message}
    view.show(state)
    view.tick()  # too early: nothing
    time.sleep(0.25)
    view.tick()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(f"pending           research   0%  {message}")
    assert re.search(r"still pending, no change for 0\.\ds \(is a worker running\?\)", lines[1])


def test_on_a_terminal_a_stalled_task_says_it_waits_for_a_worker(monkeypatch):
    monkeypatch.setattr(submit, "STALL_LINE_SECONDS", 0.2)
    out = io.StringIO()
    console = submit.Console(file=out, force_terminal=True, force_interactive=True, width=100)
    state = {"status": "pending", "stage": "research", "progress": 0, "message": "Task is pending"}
    with submit.ProgressView(console) as view:
        view.show(state)
        view.tick()  # too early: nothing
        assert "waiting for a worker" not in out.getvalue()
        time.sleep(0.25)
        view.tick()
    last_draw = COLOUR.sub("", out.getvalue()).split(REDRAW)[-1]
    assert re.match(r"━{24}\s+0% research pending\s+0:00:00 waiting for a worker", last_draw)
