"""Progress events: built from the row, sent to Channels groups after commit."""

import asyncio
import functools
import logging
import os
import threading
import time
from collections.abc import Coroutine
from typing import Any

import redis
from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone
from redis.backoff import NoBackoff
from redis.retry import Retry

from contentpipeline.channel_layer import RedisChannelLayer

from .models import ContentTask, Stage

logger = logging.getLogger(__name__)

EDITORS_GROUP = "tasks-editors"
# A broadcast is sent from request and worker threads: a Redis that hangs must not
# hold them up for longer than this.
BROADCAST_TIMEOUT = 1.5
# A streamed draft reaches its followers at most this often (the text so far each time).
DRAFT_EVENTS_PER_SECOND = 5


def task_group(task_id) -> str:
    return f"task-{task_id}"


def user_group(user_id) -> str:
    return f"tasks-user-{user_id}"


def personal_group(user_id) -> str:
    """What is for one user whatever their socket follows (the inbox's unread count):
    every /ws/tasks/ socket of theirs is in it."""
    return f"user-{user_id}"


def image_group(task_id) -> str:
    return f"image-{task_id}"


def progress_message(task: ContentTask, message: str = "") -> dict[str, Any]:
    return {
        "type": "task.progress",
        "task_id": str(task.id),
        "status": task.status,
        "stage": task.stage,
        "progress": task.progress,
        "message": message or default_message(task),
        "timestamp": timezone.now().isoformat(),
    }


def default_message(task: ContentTask) -> str:
    if task.status == "in_progress":
        return f"Running stage {task.stage}"
    if task.status == "failed" and task.error:
        return f"Failed: {task.error}"
    return f"Task is {task.status.replace('_', ' ')}"


class _SenderLoop:
    """One event loop per process, in a daemon thread, that every broadcast runs on.

    `async_to_sync` from a plain thread makes a new loop in a new thread for each call,
    and channels-redis keeps its connections per loop: each event paid for a thread, a
    loop and a Redis connection (about 6 ms, most of a no-op pipeline task's time).
    Here the loop and its connections stay; threads hand it their sends and wait for
    the answer, so the events of one run still leave in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked child (prefork pool) has the parent's loop object but not its thread.
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, daemon=True, name="broadcast-loop"
                ).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run `coroutine` on the loop and wait for it (it bounds its own time)."""
        asyncio.run_coroutine_threadsafe(coroutine, self._running_loop()).result()


_sender = _SenderLoop()


def _send(groups: list[str], event: dict[str, Any]) -> None:
    """Send the event to the groups now, in at most BROADCAST_TIMEOUT; raises what the
    layer raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    if _event_loop_above() is not None:
        # A thread of the web process's sync_to_async: async_to_sync runs the send on
        # the server's own loop (and its connections), after what that loop was doing.
        async_to_sync(_send_to_groups)(layer, groups, event)
    else:
        listened = _groups_with_members(layer, groups)
        if listened:
            _sender.run(_send_to_groups(layer, listened, event))


def _event_loop_above() -> asyncio.AbstractEventLoop | None:
    """The running event loop whose sync_to_async started this thread, if any (asgiref
    keeps it for async_to_sync in a thread-local)."""
    local = SyncToAsync.threadlocal
    loop = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    return loop if loop.is_running() else None


def broadcast(event: dict[str, Any], *, created_by_id: int, image: bool = False) -> None:
    """Send now. A lost event costs a client one update, never a task: swallow errors."""
    groups = [task_group(event["task_id"]), user_group(created_by_id), EDITORS_GROUP]
    if image:
        groups.append(image_group(event["task_id"]))
    try:
        _send(groups, event)
    except Exception as exc:  # Redis down or hanging: one line, not a traceback per event
        logger.warning(
            "Could not broadcast progress of task %s: %s", event["task_id"], _describe(exc)
        )


def send_to_user(user_id: int, event: dict[str, Any]) -> None:
    """Send `event` (its "type" a handler of the /ws/tasks/ consumer) to the user's
    sockets now; a lost one costs a client one update: errors are logged, not raised."""
    try:
        _send([personal_group(user_id)], event)
    except Exception as exc:
        logger.warning("Could not send %s to user %s: %s", event.get("type"), user_id,
                       _describe(exc))  # fmt: skip


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


async def _send_to_groups(layer, groups: list[str], event: dict[str, Any]) -> None:
    async with asyncio.timeout(BROADCAST_TIMEOUT):
        for group in groups:
            await layer.group_send(group, event)


# Drops a group's expired members (as group_send does) and counts the others.
_COUNT_MEMBERS = """
local counts = {}
for i, key in ipairs(KEYS) do
    redis.call('ZREMRANGEBYSCORE', key, 0, ARGV[1])
    counts[i] = redis.call('ZCARD', key)
end
return counts
"""


def _groups_with_members(layer, groups: list[str]) -> list[str]:
    """The groups somebody listens to, asked of Redis in one command per server, from
    the calling thread.

    channels-redis' group_send spends two round trips on each group before it knows
    whether anyone listens, and most of an event's groups have nobody: a task's own
    group while no page follows it, the editors' while nobody has the desk open. Those
    sends are left out (their expired members dropped, as group_send would), and an
    event nobody listens to never goes to the event loop at all."""
    if not isinstance(layer, RedisChannelLayer):  # another layer: its group_send decides
        return groups
    expired_before = int(time.time()) - layer.group_expiry
    by_server: dict[int, list[str]] = {}
    for group in groups:
        by_server.setdefault(layer.consistent_hash(group), []).append(group)
    listened = []
    for index, server_groups in by_server.items():
        address = layer.hosts[index].get("address")
        if address is None:  # a sentinel set-up: its own group_send decides
            listened += server_groups
            continue
        keys = layer.group_keys(server_groups)
        counts = _redis(address).eval(_COUNT_MEMBERS, len(keys), *keys, expired_before)
        listened += [group for group, count in zip(server_groups, counts, strict=True) if count]
    return listened


@functools.cache
def _redis(address: str) -> redis.Redis:
    """A client of the channel layer's server for this process (its connection pool is
    thread safe), bounded like a broadcast and without retries."""
    return redis.Redis.from_url(
        address,
        socket_timeout=BROADCAST_TIMEOUT,
        socket_connect_timeout=BROADCAST_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )


def broadcast_on_commit(task: ContentTask, message: str = "", *, image: bool | None = None) -> None:
    """Broadcast the task's state once the surrounding transaction commits."""
    event = progress_message(task, message)
    if image is None:
        image = task.stage == Stage.IMAGE
    created_by_id = task.created_by_id
    transaction.on_commit(lambda: broadcast(event, created_by_id=created_by_id, image=image))


class DraftStream:
    """Sends the draft's text so far to the task's followers (`task.draft`) while a
    streaming provider writes it: at most DRAFT_EVENTS_PER_SECOND, the newest text each
    time, and the whole text once more at the end (`flush`). A lost event costs a
    follower one glimpse, never the draft."""

    def __init__(self, task_id) -> None:
        self.task_id = str(task_id)
        self.interval = 1 / DRAFT_EVENTS_PER_SECOND
        self._sent_at = float("-inf")
        self._pending: str | None = None
        self._sent: str | None = None

    def __call__(self, text: str) -> None:
        self._pending = text
        if time.monotonic() - self._sent_at >= self.interval:
            self.flush()

    def flush(self) -> None:
        if self._pending is None or self._pending == self._sent:
            return
        text, self._pending = self._pending, None
        self._sent = text
        self._sent_at = time.monotonic()
        event = {
            "type": "task.draft",
            "task_id": self.task_id,
            "text": text,
            "timestamp": timezone.now().isoformat(),
        }
        try:
            _send([task_group(self.task_id)], event)
        except Exception as exc:
            logger.warning("Could not send the draft of task %s: %s", self.task_id, _describe(exc))
