"""Live progress over WebSockets. Consumers authenticate and authorize in `connect`
and read the database only through selectors wrapped in database_sync_to_async.

A socket stays open as long as its client keeps it: the consumer renews its group
memberships while connected (the channel layer drops memberships older than its
`group_expiry`), and a frame it cannot read gets an error answer, never a close."""

import asyncio
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from contentpipeline.errors import Forbidden, NotFound
from contentpipeline.roles import is_editor
from contentpipeline.websocket import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED

from .events import EDITORS_GROUP, image_group, progress_message, task_group, user_group
from .selectors import task_get_for_follower, task_latest_for_user

logger = logging.getLogger(__name__)

# What a client sends is a small JSON object; nothing legitimate comes close to this.
MAX_CLIENT_FRAME = 4096
# How many tasks `get_progress` on /ws/tasks/ reports.
LIST_STATE_LIMIT = 50


@database_sync_to_async
def _task_state(user, task_id) -> tuple[int | None, dict | None]:
    """(close code, None) when the user may not follow the task, else (None, state)."""
    try:
        task = task_get_for_follower(user=user, task_id=task_id)
    except NotFound:
        return CLOSE_NOT_FOUND, None
    except Forbidden:
        return CLOSE_FORBIDDEN, None
    return None, progress_message(task)


@database_sync_to_async
def _list_state(user) -> list[dict]:
    tasks = task_latest_for_user(user=user, limit=LIST_STATE_LIMIT)
    return [progress_message(task) for task in tasks]


@database_sync_to_async
def _is_editor(user) -> bool:
    return is_editor(user)


class _ProgressConsumer(AsyncJsonWebsocketConsumer):
    joined_groups: list[str]
    _renewal: asyncio.Task | None = None
    # Set once the socket is refused: a client may go on sending frames until it
    # answers the close, and none of them is for this consumer to act on (an anonymous
    # client's get_progress on /ws/tasks/ would read tasks as nobody and fail).
    refused = False

    async def reject(self, code: int) -> None:
        self.refused = True
        # Accept first: a close before the handshake would reach the client as a plain
        # HTTP 403 and the close code would be lost.
        await self.accept()
        await self.close(code=code)

    async def authenticated_user(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.reject(CLOSE_UNAUTHENTICATED)
            return None
        return user

    async def join(self, groups: list[str]) -> None:
        self.joined_groups = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        if self._renewal is None:
            self._renewal = asyncio.create_task(self._renew_memberships())

    async def _renew_memberships(self) -> None:
        """The layer forgets a membership after `group_expiry`; renew it well before."""
        interval = max(1.0, getattr(self.channel_layer, "group_expiry", 86400) / 3)
        while True:
            await asyncio.sleep(interval)
            for group in list(getattr(self, "joined_groups", [])):
                try:
                    await self.channel_layer.group_add(group, self.channel_name)
                except Exception:  # Redis away for a moment: try again next round
                    logger.warning("Could not renew %s in group %s", self.channel_name, group)

    async def leave(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None
        for group in getattr(self, "joined_groups", []):
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # the membership expires by itself
                logger.warning("Could not leave group %s", group, exc_info=True)
        self.joined_groups = []

    async def disconnect(self, code) -> None:
        await self.leave()

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Parse a client frame; whatever it holds, answer and keep the connection."""
        if self.refused:
            return
        if text_data is None:
            await self.send_error("Binary frames are not supported; send JSON text.")
            return
        if len(text_data) > MAX_CLIENT_FRAME:
            await self.send_error(f"Messages are at most {MAX_CLIENT_FRAME} characters.")
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self.send_error('Messages are JSON objects, for example {"type": "ping"}.')
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "get_progress":
            await self.send_current_state()
        else:
            await self.send_error("Unknown message type; send ping or get_progress.")

    async def send_error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})

    async def send_current_state(self) -> None:
        raise NotImplementedError

    async def task_progress(self, event) -> None:
        await self.send_json(event)


class _OneTaskConsumer(_ProgressConsumer):
    """The current state of one task on connect, then each change sent to its group."""

    @staticmethod
    def group_for(task_id) -> str:
        raise NotImplementedError

    async def connect(self) -> None:
        user = await self.authenticated_user()
        if user is None:
            return
        task_id = self.scope["url_route"]["kwargs"]["task_id"]
        # Join before reading the state sent first, so no change falls in between;
        # group messages wait until connect() has returned.
        await self.join([self.group_for(task_id)])
        code, state = await _task_state(user, task_id)
        if code is not None:
            await self.leave()
            await self.reject(code)
            return
        await self.accept()
        await self.send_json(state)

    async def send_current_state(self) -> None:
        code, state = await _task_state(
            self.scope["user"], self.scope["url_route"]["kwargs"]["task_id"]
        )
        if code is not None:
            await self.close(code=code)
            return
        await self.send_json(state)


class TaskProgressConsumer(_OneTaskConsumer):
    """/ws/tasks/<id>/: the current state on connect, then each change."""

    group_for = staticmethod(task_group)

    async def task_draft(self, event) -> None:
        # The draft's text so far, while a streaming provider writes it.
        await self.send_json(event)


class ImageProgressConsumer(_OneTaskConsumer):
    """/ws/image-generation/<id>/: the image stage of one task only."""

    group_for = staticmethod(image_group)


class TaskListConsumer(_ProgressConsumer):
    """/ws/tasks/: every change of every task the user may read."""

    async def connect(self) -> None:
        user = await self.authenticated_user()
        if user is None:
            return
        # Joined before the socket opens, so no change falls between the two.
        group = EDITORS_GROUP if await _is_editor(user) else user_group(user.pk)
        await self.join([group])
        await self.accept()

    async def send_current_state(self) -> None:
        """The state of the user's newest tasks (at most 50), newest first, one
        `task.progress` message each."""
        for state in await _list_state(self.scope["user"]):
            await self.send_json(state)
