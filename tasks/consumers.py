"""Live progress over WebSockets. Consumers authenticate and authorize in `connect`
and read the database only through selectors wrapped in database_sync_to_async.

A socket stays open as long as its client keeps it: the consumer renews its group
memberships while connected (the channel layer drops memberships older than its
`group_expiry`), and a frame it cannot read gets an error answer, never a close.

Its rights do not stay with it. Each `get_progress` reads them again; before an event
or a pong goes out they are read again when the last read is older than
ACCESS_RECHECK_SECONDS. A socket whose user has lost them is closed: 4401 when its token
or session no longer authenticates an active user, 4403 when the user may no longer see
what it follows (an editors' dashboard of a user no longer in Editors, someone else's
task)."""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from contentpipeline.errors import Forbidden, NotFound
from contentpipeline.roles import is_editor
from contentpipeline.websocket import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    Credential,
)

from .events import EDITORS_GROUP, image_group, progress_message, task_group, user_group
from .selectors import task_events_visible_to, task_get_for_follower, task_latest_for_user

logger = logging.getLogger(__name__)

# What a client sends is a small JSON object; nothing legitimate comes close to this.
MAX_CLIENT_FRAME = 4096
# How many tasks `get_progress` on /ws/tasks/ reports.
LIST_STATE_LIMIT = 50
# How long an open socket's rights, once read, are trusted before an event or a pong
# goes out on them: a user who loses access stops receiving events within this many
# seconds. A constant, not a setting: it bounds how stale rights may be, which is not
# for a deployment to loosen, and it costs little at any scale. The read it spaces out
# is shared by every socket of the process that has the same credential and follows
# the same thing (_SharedAccessChecks), and is made only when an event or a ping comes:
# while events flow, 1,000 sockets of as many users make at most 200 small reads a
# second, those of one user one read every 5 seconds; idle sockets make none.
ACCESS_RECHECK_SECONDS = 5.0

# What a socket follows, as far as its rights go: every task (an editors' dashboard),
# the user's own tasks (anyone else's dashboard), or one task.
EDITORS_VIEW = ("editors", None)
OWN_VIEW = ("own", None)


def _follow(user, task_id) -> tuple[int | None, dict | None]:
    try:
        task = task_get_for_follower(user=user, task_id=task_id)
    except NotFound:
        return CLOSE_NOT_FOUND, None
    except Forbidden:
        return CLOSE_FORBIDDEN, None
    return None, progress_message(task)


@database_sync_to_async
def _task_state(user, task_id) -> tuple[int | None, dict | None]:
    """(close code, None) when the user may not follow the task, else (None, state)."""
    return _follow(user, task_id)


@database_sync_to_async
def _task_state_afresh(credential: Credential, task_id) -> tuple[int | None, dict | None]:
    """The same, for the user the credential authenticates now (4401 when none)."""
    user = credential.current_user()
    if user is None:
        return CLOSE_UNAUTHENTICATED, None
    return _follow(user, task_id)


@database_sync_to_async
def _list_state(credential: Credential, subject) -> tuple[int | None, list[dict]]:
    """(close code, []) when the credential's user may no longer see the dashboard,
    else (None, the states of the newest tasks the user may see now)."""
    user = credential.current_user()
    if user is None:
        return CLOSE_UNAUTHENTICATED, []
    if subject == EDITORS_VIEW and not is_editor(user):
        return CLOSE_FORBIDDEN, []
    tasks = task_latest_for_user(user=user, limit=LIST_STATE_LIMIT)
    return None, [progress_message(task) for task in tasks]


@database_sync_to_async
def _access(credential: Credential, subject) -> int | None:
    """None while the credential authenticates an active user who may see what the
    socket follows; otherwise the code to close it with."""
    user = credential.current_user()
    if user is None:
        return CLOSE_UNAUTHENTICATED
    kind, task_id = subject
    if kind == "editors":
        allowed = is_editor(user)
    elif kind == "own":
        allowed = True
    else:
        allowed = task_events_visible_to(user=user, task_id=task_id)
    return None if allowed else CLOSE_FORBIDDEN


class _SharedAccessChecks:
    """The rights read in the last ACCESS_RECHECK_SECONDS, by (credential, subject), for
    every socket of this process: sockets that an event reaches together, or that ask
    while a read is under way, wait for that one read rather than make their own.

    A read that fails (the database away for a moment) is not kept, and the sockets
    waiting on it keep the rights they had at their last read until the next one: a
    blip closes no socket."""

    def __init__(self) -> None:
        self._verdicts: dict[Hashable, tuple[float, int | None]] = {}
        self._reading: dict[Hashable, asyncio.Future] = {}
        self._swept = time.monotonic()

    async def verdict(self, key: Hashable, read: Callable[[], Awaitable[int | None]]) -> int | None:
        now = time.monotonic()
        known = self._verdicts.get(key)
        if known is not None and now - known[0] < ACCESS_RECHECK_SECONDS:
            return known[1]
        reading = self._reading.get(key)
        if reading is None or reading.get_loop() is not asyncio.get_running_loop():
            reading = asyncio.ensure_future(read())
            self._reading[key] = reading
            reading.add_done_callback(lambda done: self._settle(key, done, now))
        try:
            return await asyncio.shield(reading)
        except Exception:
            return None  # logged once, in _settle

    def _settle(self, key: Hashable, done: asyncio.Future, started: float) -> None:
        if self._reading.get(key) is done:
            del self._reading[key]
        if done.cancelled():
            return
        if done.exception() is not None:
            logger.warning("Could not read a socket's rights again", exc_info=done.exception())
            return
        self._verdicts[key] = (started, done.result())
        if started - self._swept > ACCESS_RECHECK_SECONDS:
            self._swept = started
            stale = [
                k for k, (at, _) in self._verdicts.items() if started - at >= ACCESS_RECHECK_SECONDS
            ]
            for k in stale:
                del self._verdicts[k]


_shared_checks = _SharedAccessChecks()


@database_sync_to_async
def _is_editor(user) -> bool:
    return is_editor(user)


class _ProgressConsumer(AsyncJsonWebsocketConsumer):
    joined_groups: list[str]
    credential: Credential
    # What the socket follows, for its rights (set in connect).
    subject: tuple[str, object]
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
        user, credential = self.scope.get("user"), self.scope.get("credential")
        if user is None or not user.is_authenticated or credential is None:
            await self.reject(CLOSE_UNAUTHENTICATED)
            return None
        self.credential = credential
        return user

    async def lose_access(self, code: int) -> None:
        """Close an open socket whose user may no longer follow what it follows."""
        self.refused = True
        await self.leave()
        await self.close(code=code)

    async def still_allowed(self) -> bool:
        """Whether an event or a pong may go out: the rights are read again when the last
        read is older than ACCESS_RECHECK_SECONDS. Closes the socket when they are gone."""
        if self.refused:
            return False
        code = await _shared_checks.verdict(
            (self.credential, self.subject), lambda: _access(self.credential, self.subject)
        )
        if code is None:
            return True
        await self.lose_access(code)
        return False

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
            if await self.still_allowed():
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
        if await self.still_allowed():
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
        self.subject = ("task", task_id)
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
        """The task's state, the rights to it read again first."""
        code, state = await _task_state_afresh(
            self.credential, self.scope["url_route"]["kwargs"]["task_id"]
        )
        if code is not None:
            await self.lose_access(code)
            return
        await self.send_json(state)


class TaskProgressConsumer(_OneTaskConsumer):
    """/ws/tasks/<id>/: the current state on connect, then each change."""

    group_for = staticmethod(task_group)

    async def task_draft(self, event) -> None:
        # The draft's text so far, while a streaming provider writes it.
        if await self.still_allowed():
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
        if await _is_editor(user):
            self.subject, group = EDITORS_VIEW, EDITORS_GROUP
        else:
            self.subject, group = OWN_VIEW, user_group(user.pk)
        await self.join([group])
        await self.accept()

    async def send_current_state(self) -> None:
        """The state of the user's newest tasks (at most 50), newest first, one
        `task.progress` message each; the rights read again first."""
        code, states = await _list_state(self.credential, self.subject)
        if code is not None:
            await self.lose_access(code)
            return
        for state in states:
            await self.send_json(state)
