"""Live progress over WebSockets. Consumers authenticate and authorize in `connect`
and read the database only through selectors wrapped in database_sync_to_async."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from contentpipeline.roles import is_editor

from .events import EDITORS_GROUP, image_group, progress_message, task_group, user_group
from .models import ContentTask
from .selectors import user_can_read_task

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _task_state(user, task_id) -> tuple[int | None, dict | None]:
    """(close code, None) when the user may not follow the task, else (None, state)."""
    task = ContentTask.objects.alive().filter(pk=task_id).first()
    if task is None:
        return CLOSE_NOT_FOUND, None
    if not user_can_read_task(user=user, task=task):
        return CLOSE_FORBIDDEN, None
    return None, progress_message(task)


@database_sync_to_async
def _is_editor(user) -> bool:
    return is_editor(user)


class _ProgressConsumer(AsyncJsonWebsocketConsumer):
    joined_groups: list[str]

    async def reject(self, code: int) -> None:
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

    async def leave(self) -> None:
        for group in getattr(self, "joined_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined_groups = []

    async def disconnect(self, code) -> None:
        await self.leave()

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "get_progress":
            await self.send_current_state()
        else:
            await self.send_json({"type": "error", "message": "Unknown message type"})

    async def send_current_state(self) -> None:
        task_id = self.scope["url_route"]["kwargs"].get("task_id")
        if task_id is None:
            await self.send_json({"type": "error", "message": "Subscribe to /ws/tasks/<id>/"})
            return
        code, state = await _task_state(self.scope["user"], task_id)
        if code is not None:
            await self.close(code=code)
            return
        await self.send_json(state)

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


class TaskProgressConsumer(_OneTaskConsumer):
    """/ws/tasks/<id>/: the current state on connect, then each change."""

    group_for = staticmethod(task_group)


class ImageProgressConsumer(_OneTaskConsumer):
    """/ws/image-generation/<id>/: the image stage of one task only."""

    group_for = staticmethod(image_group)


class TaskListConsumer(_ProgressConsumer):
    """/ws/tasks/: every change of every task the user may read."""

    async def connect(self) -> None:
        user = await self.authenticated_user()
        if user is None:
            return
        await self.accept()
        group = EDITORS_GROUP if await _is_editor(user) else user_group(user.pk)
        await self.join([group])
