"""Progress events: built from the row, sent to Channels groups after commit."""

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

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


def broadcast(event: dict[str, Any], *, created_by_id: int, image: bool = False) -> None:
    """Send now. A lost event costs a client one update, never a task: swallow errors."""
    layer = get_channel_layer()
    if layer is None:
        return
    groups = [task_group(event["task_id"]), user_group(created_by_id), EDITORS_GROUP]
    if image:
        groups.append(image_group(event["task_id"]))
    try:
        # One event loop for all groups: channels-redis keeps its connections per loop,
        # so a loop per group_send would open a new Redis connection for each group.
        async_to_sync(_send_to_groups)(layer, groups, event)
    except Exception as exc:  # Redis down or hanging: one line, not a traceback per event
        logger.warning(
            "Could not broadcast progress of task %s: %s", event["task_id"], _describe(exc)
        )


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


async def _send_to_groups(layer, groups: list[str], event: dict[str, Any]) -> None:
    async def send_all() -> None:
        for group in groups:
            await layer.group_send(group, event)

    await asyncio.wait_for(send_all(), timeout=BROADCAST_TIMEOUT)


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
        layer = get_channel_layer()
        if layer is None:
            return
        event = {
            "type": "task.draft",
            "task_id": self.task_id,
            "text": text,
            "timestamp": timezone.now().isoformat(),
        }
        try:
            async_to_sync(_send_to_groups)(layer, [task_group(self.task_id)], event)
        except Exception as exc:
            logger.warning("Could not send the draft of task %s: %s", self.task_id, _describe(exc))
