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
import weakref

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from contentpipeline.errors import Forbidden, NotFound
from contentpipeline.roles import editor_users, is_editor
from contentpipeline.websocket import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_UNAUTHENTICATED,
    Credential,
    credential_user_ids,
)

from .events import (
    EDITORS_GROUP,
    image_group,
    personal_group,
    progress_message,
    task_group,
    user_group,
)
from .selectors import task_get_for_follower, task_latest_for_user, task_owner_ids

logger = logging.getLogger(__name__)

# What a client sends is a small JSON object; nothing legitimate comes close to this.
MAX_CLIENT_FRAME = 4096
# How many tasks `get_progress` on /ws/tasks/ reports.
LIST_STATE_LIMIT = 50
# How long an open socket's rights, once read, are trusted before an event or a pong
# goes out on them: a user who loses access stops receiving events within this many
# seconds. A constant, not a setting: it bounds how stale rights may be, which is not
# for a deployment to loosen, and it costs little at any scale. The rights checked at
# connect serve the first window; after that a read is made only when an event or a
# ping comes (idle sockets make none), and one read serves every socket that asks while
# the one before it is under way (_SharedAccessChecks): while events flow, 1,000
# sockets of as many users cost a few queries every 5 seconds, not 1,000.
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
def _access(keys: list[tuple[Credential, tuple]]) -> dict[tuple, int | None]:
    """For each (credential, subject): None while the credential authenticates an
    active user who may see what the socket follows, else the code to close it with.
    A few queries for the lot, however many sockets ask."""
    user_ids = credential_user_ids({credential for credential, _ in keys})
    editors = set(editor_users().filter(pk__in=set(user_ids.values())).values_list("pk", flat=True))
    owners = task_owner_ids(task_ids={pk for _, (kind, pk) in keys if kind == "task"})
    verdicts = {}
    for credential, (kind, task_id) in keys:
        user_id = user_ids[credential]
        if user_id is None:
            verdicts[credential, (kind, task_id)] = CLOSE_UNAUTHENTICATED
            continue
        if kind == "own":
            allowed = True
        elif kind == "editors":
            allowed = user_id in editors
        else:
            allowed = task_id in owners and (owners[task_id] == user_id or user_id in editors)
        verdicts[credential, (kind, task_id)] = None if allowed else CLOSE_FORBIDDEN
    return verdicts


class _SharedAccessChecks:
    """The rights read in the last ACCESS_RECHECK_SECONDS, by (credential, subject), for
    every socket of one event loop. Sockets that ask while a read is under way wait for
    the next, which reads for all of them at once: an event that reaches a thousand
    sockets costs a few queries, not a thousand.

    A read that fails (the database away for a moment) is not kept, and the sockets
    waiting on it keep the rights they had at their last read until the next one: a
    blip closes no socket."""

    def __init__(self) -> None:
        self._verdicts: dict[tuple, tuple[float, int | None]] = {}
        self._reading: dict[tuple, asyncio.Future] = {}  # in the read under way
        self._next: dict[tuple, asyncio.Future] = {}  # for the read after it
        self._reader: asyncio.Task | None = None
        self._swept = time.monotonic()

    def remember(self, key: tuple) -> None:
        """The rights were just found good (a socket has connected on them)."""
        now = time.monotonic()
        self._verdicts[key] = (now, None)
        self._forget_stale(now)

    async def verdict(self, key: tuple) -> int | None:
        known = self._verdicts.get(key)
        if known is not None and time.monotonic() - known[0] < ACCESS_RECHECK_SECONDS:
            return known[1]
        waiting = self._reading.get(key) or self._next.get(key)
        if waiting is None:
            waiting = self._next[key] = asyncio.get_running_loop().create_future()
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read())
        # Shielded: a socket that goes away while it waits leaves the read to the others.
        return await asyncio.shield(waiting)

    async def _read(self) -> None:
        while self._next:
            self._reading, self._next = self._next, {}
            started = time.monotonic()
            try:
                verdicts = await _access(list(self._reading))
            except Exception:
                logger.warning("Could not read the rights of open sockets again", exc_info=True)
                verdicts = None
            for key, waiting in self._reading.items():
                verdict = None if verdicts is None else verdicts[key]
                if verdicts is not None:
                    self._verdicts[key] = (started, verdict)
                if not waiting.done():
                    waiting.set_result(verdict)
            self._reading = {}
            self._forget_stale(started)

    def _forget_stale(self, now: float) -> None:
        """Drop the verdicts of sockets long gone, once a window at most."""
        if now - self._swept < ACCESS_RECHECK_SECONDS:
            return
        self._swept = now
        for key in [
            key for key, (at, _) in self._verdicts.items() if now - at >= ACCESS_RECHECK_SECONDS
        ]:
            del self._verdicts[key]


# One per event loop (daphne runs one; each test its own): futures belong to a loop.
_checks_by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _shared_checks() -> _SharedAccessChecks:
    loop = asyncio.get_running_loop()
    checks = _checks_by_loop.get(loop)
    if checks is None:
        checks = _checks_by_loop[loop] = _SharedAccessChecks()
    return checks


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
        code = await _shared_checks().verdict((self.credential, self.subject))
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
        _shared_checks().remember((self.credential, self.subject))
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
    """/ws/tasks/: every change of every task the user may read; and what is for the
    user alone (their personal group), such as the inbox's unread count
    (`notifications.unread`, sent by the notifications app), which every admin page
    shows."""

    async def connect(self) -> None:
        user = await self.authenticated_user()
        if user is None:
            return
        # Joined before the socket opens, so no change falls between the two.
        if await _is_editor(user):
            self.subject, group = EDITORS_VIEW, EDITORS_GROUP
        else:
            self.subject, group = OWN_VIEW, user_group(user.pk)
        await self.join([group, personal_group(user.pk)])
        await self.accept()
        _shared_checks().remember((self.credential, self.subject))

    async def notifications_unread(self, event) -> None:
        if await self.still_allowed():
            await self.send_json({"type": "notifications.unread", "count": event["count"]})

    async def send_current_state(self) -> None:
        """The state of the user's newest tasks (at most 50), newest first, one
        `task.progress` message each; the rights read again first."""
        code, states = await _list_state(self.credential, self.subject)
        if code is not None:
            await self.lose_access(code)
            return
        for state in states:
            await self.send_json(state)
