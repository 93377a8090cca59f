"""`manage.py submit --topic TEXT [--follow] [--as USER] [options]`: create a task
from a shell, through the serializer and the service the API uses, and print its id
(alone on standard output); what it overlaps (published posts and open tasks on the
same subject) is named on standard error, and `--on-overlap reject` creates nothing
when there is any.

With `--follow` it shows the task's progress on standard error until the task waits
for somebody (awaiting approval, paused, rejected) or ends: a live progress bar (rich)
on a terminal, one plain line per change otherwise (a log, a pipe, TERM=dumb). Events
come from the task's Channels group, joined before the task's state is read, as the
WebSocket consumer does, so no change falls in between. When no event came for a while
the state is read again from the database: a lost event, or a channel layer that is
down, costs a delay, never the outcome. Exit status: 0 once a draft is awaiting
approval (or approved, published) or, with --review-plan, its plan is; 1 for any
other end; 130 when Ctrl-C stops following (the task goes on)."""

import asyncio
import signal
import sys
import threading
import time
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from contentpipeline.errors import ApplicationError, NotFound
from contentpipeline.roles import SYSTEM_USERNAME, editor_users
from tasks.events import progress_message, task_group
from tasks.models import ACTIVE_STATUSES, Priority, Quality, Status, Style, TaskType, Tone
from tasks.selectors import task_get_for_user
from tasks.serializers import TaskCreateSerializer
from tasks.services import Overlapping, task_submit

# Where following stops: the task waits for a person, or has ended (no run is due).
STOP_STATUSES = frozenset(Status) - frozenset(ACTIVE_STATUSES)
# Where a draft is ready (or past that), or a plan asked for is: exit status 0.
DRAFTED_STATUSES = frozenset(
    {Status.AWAITING_PLAN, Status.AWAITING_APPROVAL, Status.APPROVED, Status.PUBLISHED}
)

# How often following wakes while nothing happens: to poll, to note a stall.
TICK_SECONDS = 1.0
# Without an event for this long the state is read from the database...
POLL_SECONDS = 5.0
# ...and this often while the channel layer is unreachable.
POLL_SECONDS_WITHOUT_LAYER = 1.0
# How often joining the group is tried again while the layer is unreachable.
REJOIN_SECONDS = 10.0
# A channel layer operation that takes longer than this counts as a layer that is down.
LAYER_TIMEOUT = 3.0
# Without a terminal, a line says the task is still waiting after this much silence.
STALL_LINE_SECONDS = 30.0

# The create serializer's fields, as the options that set them.
OPTION_OF_FIELD = {
    "topic": "--topic",
    "task_type": "--task-type",
    "keywords": "--keywords",
    "primary_keyword": "--primary-keyword",
    "target_audience": "--target-audience",
    "category": "--category",
    "tone": "--tone",
    "style": "--style",
    "target_length": "--target-length",
    "generate_image": "--no-image",
    "quality_preference": "--quality",
    "priority": "--priority",
    "sources": "--source",
    "max_cost": "--max-cost",
    "use_cache": "--no-cache",
    "due_at": "--due-at",
    "review_plan": "--review-plan",
}


class Command(BaseCommand):
    help = (
        "Create a content task, as the API does, and print its id; --follow shows its "
        "progress live until a draft awaits approval (or the task stops)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--topic", required=True, help="3 to 300 characters")
        parser.add_argument(
            "--as",
            dest="username",
            help="the user the task is created for (default: the only editor, if one)",
        )
        parser.add_argument("--task-type", choices=TaskType.values)
        parser.add_argument(
            "--keywords",
            action="append",
            help="comma-separated (at most 20 in all); may be given more than once",
        )
        parser.add_argument("--primary-keyword")
        parser.add_argument("--target-audience")
        parser.add_argument("--category")
        parser.add_argument("--tone", choices=Tone.values)
        parser.add_argument("--style", choices=Style.values)
        parser.add_argument("--target-length", type=int, help="words, 100 to 5000 (800)")
        parser.add_argument("--no-image", action="store_true", help="skip the cover image")
        parser.add_argument("--quality", choices=Quality.values, help="which model each stage uses")
        parser.add_argument("--priority", choices=Priority.values)
        parser.add_argument(
            "--source", action="append", help="a URL the research stage reads (at most 5)"
        )
        parser.add_argument("--max-cost", help="ceiling in USD for the task's model calls")
        parser.add_argument(
            "--no-cache", action="store_true", help="do not reuse cached model responses"
        )
        parser.add_argument(
            "--review-plan",
            action="store_true",
            help="stop after research until an editor approves the plan (awaiting_plan)",
        )
        parser.add_argument(
            "--due-at",
            help="when the review should be done by, ISO 8601 (2026-05-01T17:00+02:00; "
            "without an offset, UTC)",
        )
        parser.add_argument(
            "--on-overlap",
            choices=["allow", "reject"],
            help="reject: create nothing when published posts or open tasks cover the "
            "subject (allow: create it, and name them)",
        )
        parser.add_argument(
            "--follow",
            action="store_true",
            help="show live progress until a draft awaits approval or the task stops",
        )

    def handle(self, *args, **options) -> None:
        try:
            user = self.submitter(options["username"])
            data = self.request_data(options)
            serializer = TaskCreateSerializer(data=data)
            if not serializer.is_valid():
                raise CommandError(describe_errors(serializer.errors))
            try:
                task, overlaps = task_submit(user=user, **serializer.validated_data)
            except Overlapping as exc:
                raise CommandError(
                    "\n".join([exc.message, *describe_overlaps(exc.extra["overlaps"])])
                ) from exc
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
            except ValidationError as exc:
                messages = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
                raise CommandError(describe_errors(messages)) from exc
        except OperationalError as exc:
            raise CommandError(f"The database cannot be reached: {exc}".strip()) from exc
        self.stdout.write(str(task.pk))
        for line in describe_overlaps(overlaps):
            self.stderr.write(line)
        if options["follow"]:
            stream = options.get("stderr") or sys.stderr
            self.follow(task_id=task.pk, user=user, console=progress_console(stream, options))

    def submitter(self, username: str | None):
        """The user named by --as, else the one active editor (or superuser)."""
        users = get_user_model().objects
        if username is not None:
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user named {username!r}.")
            if not user.is_active:
                raise CommandError(f"User {username!r} is inactive and cannot submit tasks.")
            return user
        editors = list(editor_users().exclude(username=SYSTEM_USERNAME).order_by("username")[:6])
        if len(editors) == 1:
            return editors[0]
        if not editors:
            raise CommandError(
                "No editor to submit as: name the user with --as USER (any active user)."
            )
        names = ", ".join(repr(user.username) for user in editors[:5])
        more = ", ..." if len(editors) > 5 else ""
        raise CommandError(f"Several editors ({names}{more}): choose one with --as USER.")

    @staticmethod
    def request_data(options: dict[str, Any]) -> dict[str, Any]:
        """The options as the API's request body; what was not given is left out, so the
        serializer's defaults apply."""
        data: dict[str, Any] = {"topic": options["topic"]}
        if options["keywords"] is not None:
            data["keywords"] = [
                word.strip() for value in options["keywords"] for word in value.split(",")
            ]
            data["keywords"] = [word for word in data["keywords"] if word]
        if options["source"] is not None:
            data["sources"] = options["source"]
        for field in (
            "task_type", "primary_keyword", "target_audience", "category", "tone", "style",
            "target_length", "priority", "max_cost", "on_overlap", "due_at",
        ):  # fmt: skip
            if options[field] is not None:
                data[field] = options[field]
        if options["quality"] is not None:
            data["quality_preference"] = options["quality"]
        if options["no_image"]:
            data["generate_image"] = False
        if options["no_cache"]:
            data["use_cache"] = False
        if options.get("review_plan"):
            data["review_plan"] = True
        return data

    def follow(self, *, task_id, user, console: Console) -> None:
        view = ProgressView(console)
        follower = Follower(task_id=task_id, user=user, view=view)
        # Ctrl-C is a flag the follower reads each tick, not asyncio's cancellation of
        # whatever it awaits then (which a library may absorb, so it went on following).
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, follower.interrupt) if main else None
        try:
            with view:
                final = asyncio.run(follower.run())
        except KeyboardInterrupt:
            where = ""
            if (state := view.state) is not None:
                where = f" (now {state['status']}, {state['stage']}, {state['progress']}%)"
            self.stderr.write(
                f"Stopped following task {task_id}; the task itself goes on{where}. "
                f"GET /api/tasks/{task_id} or /ws/tasks/{task_id}/ shows where it is."
            )
            sys.exit(130)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        status = final["status"]
        summary = f"Task {task_id}: {status} after {format_elapsed(view.elapsed())}"
        if status in DRAFTED_STATUSES:
            view.say(summary)
            return
        reason = final.get("message") or ""
        raise CommandError(f"{summary}{f' ({reason})' if reason else ''}")


def describe_errors(errors: Any, prefix: str = "") -> str:
    """A serializer's (or a model's) field errors as one line per message, each field
    named by its option."""
    lines = []
    if isinstance(errors, dict):
        for field, value in errors.items():
            label = f"{prefix}[{field}]" if prefix else OPTION_OF_FIELD.get(field, str(field))
            lines.append(describe_errors(value, label))
    elif isinstance(errors, list | tuple):
        lines += [describe_errors(value, prefix) for value in errors]
    else:
        lines.append(f"{prefix}: {errors}" if prefix else str(errors))
    return "\n".join(line for line in lines if line)


def format_elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def progress_console(stream, options: dict[str, Any]) -> Console:
    """A rich console on `stream`. Only a terminal gets escape codes: rich's FORCE_COLOR
    and TTY_COMPATIBLE would otherwise put them into a log or a pipe. On a terminal rich
    decides the rest (TERM=dumb or TTY_INTERACTIVE=0: plain lines; NO_COLOR or
    --no-color: no colours)."""
    return Console(
        file=stream,
        force_terminal=None if stream.isatty() else False,
        no_color=True if options.get("no_color") else None,
        highlight=False,
        emoji=False,
    )


class ProgressView:
    """Shows the task's state: on an interactive terminal a progress bar that rich
    keeps redrawing in place (stage, percent, status, elapsed time); elsewhere one plain
    line per change, and a line now and then while nothing changes. Used as a context
    manager: leaving it ends the bar's line and shows the cursor again, Ctrl-C included."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.changed_at = self.started
        self.stall_line_at = self.started
        self.state: dict[str, Any] | None = None
        self.bar: Progress | None = None
        if console.is_interactive:
            self.bar = Progress(
                BarColumn(bar_width=24),
                TaskProgressColumn(),
                _field("stage", min_width=8),
                _field("status", min_width=17),
                TimeElapsedColumn(),
                _field("note"),
                console=console,
                # The task's id went to standard output: nothing may be redirected there.
                redirect_stdout=False,
            )
            self.bar_task = self.bar.add_task("", total=100, stage="", status="", note="")

    def __enter__(self) -> "ProgressView":
        return self

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.stop()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def show(self, state: dict[str, Any]) -> None:
        self.state = state
        self.changed_at = self.stall_line_at = time.monotonic()
        if self.bar is not None:
            self.bar.update(
                self.bar_task, completed=state["progress"], stage=state["stage"],
                status=state["status"], note="",
            )  # fmt: skip
            self.bar.start()  # drawn from the first state on; again: nothing
        else:
            self.say(
                f"[{format_elapsed(self.elapsed()):>7}] {state['status']:<17} "
                f"{state['stage']:<8} {state['progress']:>3}%  {state['message']}"
            )

    def tick(self) -> None:
        """Nothing changed (rich redraws the elapsed time itself): after a while, say so."""
        if self.state is None:
            return
        now = time.monotonic()
        if now - self.stall_line_at < STALL_LINE_SECONDS:
            return
        pending = self.state["status"] == Status.PENDING
        if self.bar is not None:
            self.bar.update(self.bar_task, note="waiting for a worker" if pending else "")
            return
        self.stall_line_at = now
        hint = " (is a worker running?)" if pending else ""
        self.say(
            f"[{format_elapsed(self.elapsed()):>7}] still {self.state['status']}, "
            f"no change for {format_elapsed(now - self.changed_at)}{hint}"
        )

    def say(self, message: str, style: str = "") -> None:
        """A line of its own; on a terminal, above the bar. Text, never markup, and not
        wrapped: a log line stays one line."""
        self.console.print(Text(message, style=style), soft_wrap=True)

    def warn(self, message: str) -> None:
        self.say(message, style="bold red")  # Django's colour for errors


def _field(name: str, min_width: int | None = None) -> TextColumn:
    # Not markup: a bracket in a value is shown as it is.
    return TextColumn(
        f"{{task.fields[{name}]}}", markup=False, table_column=Column(min_width=min_width)
    )


class Follower:
    """Follows one task until it reaches a status in STOP_STATUSES; returns that state."""

    def __init__(self, *, task_id, user, view: ProgressView) -> None:
        self.task_id = task_id
        self.user = user
        self.view = view
        self.group = task_group(task_id)
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.receiver: asyncio.Task | None = None
        self.joined_at = 0.0
        self.layer_down = False
        self.interrupted = False

    def interrupt(self, signum, frame) -> None:
        """SIGINT: stop following at the next tick; a second one stops at once."""
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True

    async def run(self) -> dict[str, Any]:
        try:
            await self.join()
            # Read after joining, so a change made in between arrives as an event.
            state = await self.read_state()
            self.view.show(state)
            read_at = time.monotonic()
            while state["status"] not in STOP_STATUSES:
                if self.interrupted:
                    raise KeyboardInterrupt
                event = await self.next_event()
                if event is None:
                    await self.check_layer()
                    poll = POLL_SECONDS_WITHOUT_LAYER if self.receiver is None else POLL_SECONDS
                    if time.monotonic() - max(read_at, self.view.changed_at) >= poll:
                        event = await self.read_state()
                        read_at = time.monotonic()
                if event is not None and is_news(event, state):
                    state = event
                    self.view.show(state)
                else:
                    self.view.tick()
            return state
        finally:
            await self.leave()

    async def read_state(self) -> dict[str, Any]:
        try:
            return await _task_state(self.user, self.task_id)
        except NotFound:
            raise CommandError(f"Task {self.task_id} was deleted.") from None

    async def next_event(self) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(TICK_SECONDS):
                return await self.events.get()
        except TimeoutError:
            return None

    async def join(self) -> None:
        """Join the task's group and start receiving; on a layer that is down, say so
        once and go on reading the database."""
        self.joined_at = time.monotonic()
        if self.layer is None:
            return
        try:
            async with asyncio.timeout(LAYER_TIMEOUT):
                if self.channel is None:
                    self.channel = await self.layer.new_channel()
                await self.layer.group_add(self.group, self.channel)
        except Exception as exc:
            self.layer_unavailable(exc)
            return
        if self.layer_down:
            self.layer_down = False
            self.view.warn("The channel layer answers again: progress is live.")
        if self.receiver is None:
            self.receiver = asyncio.create_task(self.receive())

    async def receive(self) -> None:
        while True:
            message = await self.layer.receive(self.channel)
            if message.get("type") == "task.progress":
                self.events.put_nowait(message)

    async def check_layer(self) -> None:
        """Notice a receive that failed; renew (or retry) the membership in time."""
        if self.receiver is not None and self.receiver.done():
            exc = None if self.receiver.cancelled() else self.receiver.exception()
            self.receiver = None
            self.layer_unavailable(exc)
        if self.layer is None:
            return
        # The layer drops a membership not renewed within its group_expiry.
        renew = max(1.0, getattr(self.layer, "group_expiry", 86400) / 3)
        interval = REJOIN_SECONDS if self.receiver is None else renew
        if time.monotonic() - self.joined_at >= interval:
            await self.join()

    def layer_unavailable(self, exc: BaseException | None) -> None:
        if self.layer_down:
            return
        self.layer_down = True
        reason = f" ({exc.__class__.__name__}: {exc})" if exc is not None else ""
        self.view.warn(
            f"Live progress is unavailable: the channel layer (Redis) cannot be reached"
            f"{reason}. Reading the task's state from the database every "
            f"{POLL_SECONDS_WITHOUT_LAYER:g} s instead."
        )

    async def leave(self) -> None:
        if self.receiver is not None:
            self.receiver.cancel()
            try:
                await self.receiver
            except (asyncio.CancelledError, Exception):  # noqa: S110 - its own error
                pass
        if self.layer is None or self.channel is None or self.layer_down:
            return
        try:
            async with asyncio.timeout(LAYER_TIMEOUT):
                await self.layer.group_discard(self.group, self.channel)
        except Exception:  # noqa: S110 - the membership expires by itself
            pass


def is_news(event: dict[str, Any], shown: dict[str, Any]) -> bool:
    """Whether an event changes what is shown. An event older than the state shown and
    behind it was sent before that state was read: it is skipped."""
    if event["progress"] < shown["progress"] and _when(event) < _when(shown):
        return False
    keys = ("status", "stage", "progress")
    return tuple(event[key] for key in keys) != tuple(shown[key] for key in keys)


def _when(state: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(state["timestamp"])


@database_sync_to_async
def _task_state(user, task_id) -> dict[str, Any]:
    return progress_message(task_get_for_user(user=user, task_id=task_id))


def describe_overlaps(overlaps: list[dict]) -> list[str]:
    """One line for each overlap: what the new task would write again."""
    return [
        f"overlaps {o['kind']} {o.get('url') or o.get('id')} ({o['reason']}): {o['title']}"
        for o in overlaps
    ]
