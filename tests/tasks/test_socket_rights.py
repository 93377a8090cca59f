"""An open socket's rights are read again while it stays open: a user removed from
Editors, deactivated, whose token is deleted or whose session is logged out stops
receiving what they may no longer see, and the socket is closed (4401 when the user or
credential is gone, 4403 when they may no longer see what it follows)."""

import asyncio
import contextlib
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from contentpipeline.asgi import application
from contentpipeline.websocket import Credential
from tasks import consumers
from tasks.events import DraftStream, broadcast, progress_message

from ..factories import UserFactory, token_for
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

BROWSER = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


def remove_from_editors(user, client) -> None:
    user.groups.clear()


def deactivate(user, client) -> None:
    user.is_active = False
    user.save(update_fields=["is_active"])


def delete_token(user, client) -> None:
    Token.objects.filter(user=user).delete()


def log_out(user, client) -> None:
    client.logout()  # as the admin's logout does: the session row is deleted


# (how the socket authenticates, how its user loses access, the close code)
LOSSES = [
    pytest.param("token", remove_from_editors, 4403, id="token-removed-from-editors"),
    pytest.param("token", deactivate, 4401, id="token-deactivated"),
    pytest.param("token", delete_token, 4401, id="token-deleted"),
    pytest.param("session", remove_from_editors, 4403, id="session-removed-from-editors"),
    pytest.param("session", deactivate, 4401, id="session-deactivated"),
    pytest.param("session", log_out, 4401, id="session-logged-out"),
]


@pytest.fixture
def every_recheck_reads(monkeypatch):
    """As if ACCESS_RECHECK_SECONDS had passed before each event and ping."""
    monkeypatch.setattr(consumers, "ACCESS_RECHECK_SECONDS", 0)


@pytest.fixture
def editor(transactional_db):
    return UserFactory(editor=True)


@pytest.fixture
def open_socket(editor, client):
    """Opens `path` as the editor, by `?token=` or by the session cookie of a browser
    logged in on the site's page."""

    async def open_(path: str, kind: str) -> WebsocketCommunicator:
        if kind == "token":
            token = await database_sync_to_async(token_for)(editor)
            socket = WebsocketCommunicator(application, f"{path}?token={token}", headers=BROWSER)
        else:
            await database_sync_to_async(client.force_login)(editor)
            name = settings.SESSION_COOKIE_NAME
            cookie = f"{name}={client.cookies[name].value}"
            socket = WebsocketCommunicator(
                application, path, headers=[*BROWSER, (b"cookie", cookie.encode())]
            )
        assert (await socket.connect())[0]
        return socket

    return open_


async def closed_with(socket) -> int:
    message = await socket.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message["code"]


async def pong(socket) -> None:
    await socket.send_json_to({"type": "ping"})
    assert await socket.receive_json_from(timeout=5) == {"type": "pong"}


@pytest.mark.parametrize(("kind", "lose_access", "code"), LOSSES)
async def test_get_progress_on_the_dashboard_of_a_user_who_lost_access_closes_it(
    editor, client, open_socket, kind, lose_access, code
):
    await database_sync_to_async(ContentTaskFactory)()  # someone else's
    dashboard = await open_socket("/ws/tasks/", kind)
    await database_sync_to_async(lose_access)(editor, client)

    await dashboard.send_json_to({"type": "get_progress"})
    assert await closed_with(dashboard) == code


@pytest.mark.parametrize(("kind", "lose_access", "code"), LOSSES)
async def test_an_event_is_not_sent_to_a_user_who_lost_access_and_the_socket_closes(
    editor, client, open_socket, every_recheck_reads, kind, lose_access, code
):
    task = await database_sync_to_async(ContentTaskFactory)()  # someone else's
    dashboard = await open_socket("/ws/tasks/", kind)
    await pong(dashboard)  # the rights read once, and good
    await database_sync_to_async(lose_access)(editor, client)

    task.progress = 40
    await database_sync_to_async(broadcast)(
        progress_message(task), created_by_id=task.created_by_id
    )
    assert await closed_with(dashboard) == code


@pytest.mark.parametrize(("kind", "lose_access", "code"), LOSSES)
async def test_a_ping_from_a_user_who_lost_access_gets_no_pong_and_the_socket_closes(
    editor, client, open_socket, every_recheck_reads, kind, lose_access, code
):
    dashboard = await open_socket("/ws/tasks/", kind)
    await pong(dashboard)
    await database_sync_to_async(lose_access)(editor, client)

    await dashboard.send_json_to({"type": "ping"})
    assert await closed_with(dashboard) == code


async def test_an_editor_removed_from_editors_loses_the_sockets_of_someone_elses_task(
    editor, client, open_socket, every_recheck_reads
):
    task = await database_sync_to_async(ContentTaskFactory)(stage="image", status="in_progress")
    follower = await open_socket(f"/ws/tasks/{task.pk}/", "token")
    reader = await open_socket(f"/ws/tasks/{task.pk}/", "token")
    image = await open_socket(f"/ws/image-generation/{task.pk}/", "token")
    for socket in (follower, reader, image):
        assert (await socket.receive_json_from(timeout=5))["task_id"] == str(task.pk)
    await database_sync_to_async(remove_from_editors)(editor, client)

    await follower.send_json_to({"type": "get_progress"})
    assert await closed_with(follower) == 4403
    stream = DraftStream(task.pk)
    await database_sync_to_async(stream)("The first words of the draft")
    assert await closed_with(reader) == 4403
    await database_sync_to_async(broadcast)(
        progress_message(task), created_by_id=task.created_by_id, image=True
    )
    assert await closed_with(image) == 4403


async def test_a_user_who_keeps_their_rights_keeps_their_sockets(every_recheck_reads):
    """The owner left Editors but still owns the task, and an integrator's dashboard shows
    only their own tasks: both still receive, however often the rights are read."""
    owner = await database_sync_to_async(UserFactory)(editor=True)
    task = await database_sync_to_async(ContentTaskFactory)(created_by=owner)
    token = await database_sync_to_async(token_for)(owner)
    follower = WebsocketCommunicator(application, f"/ws/tasks/{task.pk}/?token={token}")
    assert (await follower.connect())[0]
    await follower.receive_json_from(timeout=5)
    await database_sync_to_async(remove_from_editors)(owner, None)
    dashboard = WebsocketCommunicator(application, f"/ws/tasks/?token={token}")
    assert (await dashboard.connect())[0]

    for progress in (10, 20):
        task.progress = progress
        await database_sync_to_async(broadcast)(progress_message(task), created_by_id=owner.pk)
        for socket in (follower, dashboard):
            assert (await socket.receive_json_from(timeout=5))["progress"] == progress
    await follower.send_json_to({"type": "get_progress"})
    assert (await follower.receive_json_from(timeout=5))["task_id"] == str(task.pk)
    await follower.disconnect()
    await dashboard.disconnect()


@contextlib.asynccontextmanager
async def token_reads():
    """The queries of tokens made meanwhile. Consumers read the database on the one
    thread database_sync_to_async runs everything on: the counter goes on that
    thread's connection, and off it after."""
    reads, wrapper = [], {}

    def count(execute, sql, params, many, context):
        if "authtoken_token" in sql:
            reads.append(sql)
        return execute(sql, params, many, context)

    def start():
        wrapper["context"] = connection.execute_wrapper(count)
        wrapper["context"].__enter__()

    await database_sync_to_async(start)()
    try:
        yield reads
    finally:
        await database_sync_to_async(wrapper["context"].__exit__)(None, None, None)


async def test_events_within_the_window_go_out_on_the_rights_read_at_connect(monkeypatch):
    monkeypatch.setattr(consumers, "ACCESS_RECHECK_SECONDS", 3600)
    owner = await database_sync_to_async(UserFactory)()
    task = await database_sync_to_async(ContentTaskFactory)(created_by=owner)
    token = await database_sync_to_async(token_for)(owner)
    sockets = []
    for _ in range(5):
        socket = WebsocketCommunicator(application, f"/ws/tasks/{task.pk}/?token={token}")
        assert (await socket.connect())[0]
        await socket.receive_json_from(timeout=5)
        sockets.append(socket)

    async with token_reads() as reads:
        for progress in (1, 2, 3):
            task.progress = progress
            await database_sync_to_async(broadcast)(progress_message(task), created_by_id=owner.pk)
        for socket in sockets:
            received = [(await socket.receive_json_from(timeout=5))["progress"] for _ in range(3)]
            assert received == [1, 2, 3]
            await socket.send_json_to({"type": "ping"})
            assert await socket.receive_json_from(timeout=5) == {"type": "pong"}
            await socket.disconnect()
    assert reads == []  # 15 deliveries and 5 pongs, no read of the rights


@database_sync_to_async
def sockets_of_every_kind():
    """(credential, what the socket follows, the verdict due) for users who kept or
    lost their rights in each way."""
    owner, editor, stranger, gone, inactive, former = (
        UserFactory(), UserFactory(editor=True), UserFactory(), UserFactory(),
        UserFactory(), UserFactory(editor=True),
    )  # fmt: skip
    task = ContentTaskFactory(created_by=owner)
    tokens = {user: Credential("token", token_for(user)) for user in
              (owner, editor, stranger, gone, inactive, former)}  # fmt: skip
    delete_token(gone, None)
    deactivate(inactive, None)
    remove_from_editors(former, None)
    browsers = {user: Client() for user in (editor, former)}
    for user, browser in browsers.items():
        browser.force_login(user)
    session = Credential("session", browsers[editor].session.session_key)
    logged_out = Credential("session", browsers[former].session.session_key)
    log_out(former, browsers[former])
    subject = ("task", task.pk)
    return [
        (tokens[owner], subject, None),
        (tokens[owner], consumers.OWN_VIEW, None),
        (tokens[owner], consumers.EDITORS_VIEW, 4403),
        (tokens[editor], subject, None),
        (tokens[editor], consumers.EDITORS_VIEW, None),
        (tokens[editor], ("task", uuid.uuid4()), 4403),
        (session, consumers.EDITORS_VIEW, None),
        (tokens[stranger], subject, 4403),
        (tokens[stranger], consumers.OWN_VIEW, None),
        (tokens[gone], consumers.OWN_VIEW, 4401),
        (tokens[inactive], subject, 4401),
        (tokens[former], consumers.EDITORS_VIEW, 4403),
        (tokens[former], subject, 4403),
        (logged_out, consumers.OWN_VIEW, 4401),
    ]


async def test_the_rights_of_many_users_sockets_are_read_together_each_with_its_verdict():
    cases = await sockets_of_every_kind()
    checks = consumers._shared_checks()
    async with token_reads() as reads:
        verdicts = await asyncio.gather(
            *(checks.verdict((credential, subject)) for credential, subject, _ in cases)
        )
    assert verdicts == [due for _, _, due in cases]
    assert len(reads) == 1  # 14 sockets, one query of their tokens
