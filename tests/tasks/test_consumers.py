"""Progress streams over real WebSocket connections (Channels' communicator, the
project's ASGI application, the Redis channel layer)."""

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from contentpipeline.asgi import application
from tasks.events import broadcast, progress_message
from tasks.models import ContentTask
from tasks.services import task_delete

from ..factories import UserFactory, token_for
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

# What a browser on the site's page at http://localhost sends.
ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


async def connect(path: str):
    communicator = WebsocketCommunicator(application, path, headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def close_code(path: str) -> int:
    communicator = await connect(path)
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


@pytest.fixture
def owner_and_task(transactional_db):
    task = ContentTaskFactory()
    return task.created_by, task


async def test_an_anonymous_client_is_closed_with_4401(owner_and_task):
    _, task = owner_and_task
    assert await close_code(f"/ws/tasks/{task.pk}/") == 4401
    assert await close_code(f"/ws/tasks/{task.pk}/?token=bogus") == 4401
    assert await close_code("/ws/tasks/") == 4401


async def test_an_unknown_task_is_closed_with_4404(owner_and_task):
    owner, _ = owner_and_task
    token = await database_sync_to_async(token_for)(owner)
    assert await close_code(f"/ws/tasks/{uuid.uuid4()}/?token={token}") == 4404


async def test_another_users_task_is_closed_with_4403(owner_and_task):
    _, task = owner_and_task
    stranger = await database_sync_to_async(UserFactory)()
    token = await database_sync_to_async(token_for)(stranger)
    assert await close_code(f"/ws/tasks/{task.pk}/?token={token}") == 4403
    assert await close_code(f"/ws/image-generation/{task.pk}/?token={token}") == 4403


async def test_the_first_message_is_the_current_state_then_ping_and_get_progress(owner_and_task):
    owner, task = owner_and_task
    token = await database_sync_to_async(token_for)(owner)
    communicator = await connect(f"/ws/tasks/{task.pk}/?token={token}")
    first = await communicator.receive_json_from(timeout=5)
    assert first["type"] == "task.progress"
    assert (first["task_id"], first["status"], first["progress"]) == (str(task.pk), "pending", 0)
    assert "timestamp" in first and "message" in first
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
    await communicator.send_json_to({"type": "get_progress"})
    assert (await communicator.receive_json_from(timeout=5))["status"] == "pending"
    await communicator.disconnect()


async def test_an_editor_may_follow_any_task(owner_and_task):
    _, task = owner_and_task
    editor = await database_sync_to_async(UserFactory)(editor=True)
    token = await database_sync_to_async(token_for)(editor)
    communicator = await connect(f"/ws/tasks/{task.pk}/?token={token}")
    assert (await communicator.receive_json_from(timeout=5))["task_id"] == str(task.pk)
    await communicator.disconnect()


async def test_a_client_never_sees_events_of_a_task_it_may_not_read(owner_and_task):
    owner, task = owner_and_task
    other_task = await database_sync_to_async(ContentTaskFactory)()
    token = await database_sync_to_async(token_for)(owner)
    dashboard = await connect(f"/ws/tasks/?token={token}")

    other_task.progress = 42
    await database_sync_to_async(broadcast)(
        progress_message(other_task), created_by_id=other_task.created_by_id
    )
    task.progress = 7
    await database_sync_to_async(broadcast)(
        progress_message(task), created_by_id=task.created_by_id
    )

    received = await dashboard.receive_json_from(timeout=5)
    assert received["task_id"] == str(task.pk) and received["progress"] == 7
    assert await dashboard.receive_nothing(timeout=0.5)
    await dashboard.disconnect()


async def test_the_image_stream_carries_only_the_image_stage(owner_and_task):
    from tasks.runner import run_pipeline

    owner, task = owner_and_task
    token = await database_sync_to_async(token_for)(owner)
    image = await connect(f"/ws/image-generation/{task.pk}/?token={token}")
    assert (await image.receive_json_from(timeout=5))["stage"] == "research"  # current state
    everything = await connect(f"/ws/tasks/{task.pk}/?token={token}")
    await everything.receive_json_from(timeout=5)

    assert await database_sync_to_async(run_pipeline)(task.pk) == "done"
    all_events = []
    while not all_events or all_events[-1]["status"] != "awaiting_approval":
        all_events.append(await everything.receive_json_from(timeout=10))
    image_events = []
    while await image.receive_nothing(timeout=0.5) is False:
        image_events.append(await image.receive_json_from(timeout=5))
    assert {e["stage"] for e in all_events} > {"image"}
    assert image_events and all(e["stage"] == "image" for e in image_events)
    assert [e for e in all_events if e["stage"] == "image"] == image_events
    await image.disconnect()
    await everything.disconnect()


async def test_an_editors_dashboard_sees_every_users_tasks(owner_and_task):
    _, task = owner_and_task
    editor = await database_sync_to_async(UserFactory)(editor=True)
    token = await database_sync_to_async(token_for)(editor)
    dashboard = await connect(f"/ws/tasks/?token={token}")
    await database_sync_to_async(broadcast)(
        progress_message(task), created_by_id=task.created_by_id
    )
    assert (await dashboard.receive_json_from(timeout=5))["task_id"] == str(task.pk)
    await dashboard.disconnect()


async def test_a_client_without_origin_connects_with_a_token_and_gets_the_close_codes(
    owner_and_task,
):
    owner, task = owner_and_task
    token = await database_sync_to_async(token_for)(owner)
    plain = WebsocketCommunicator(application, f"/ws/tasks/{task.pk}/?token={token}")
    connected, _ = await plain.connect()
    assert connected
    assert (await plain.receive_json_from(timeout=5))["task_id"] == str(task.pk)
    await plain.disconnect()

    anonymous = WebsocketCommunicator(application, f"/ws/tasks/{task.pk}/")
    assert (await anonymous.connect())[0]
    closed = await anonymous.receive_output(timeout=5)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4401)


async def test_a_browser_from_a_foreign_origin_is_refused(owner_and_task):
    owner, task = owner_and_task
    token = await database_sync_to_async(token_for)(owner)
    for origin in (b"http://evil.example", b"null"):
        communicator = WebsocketCommunicator(
            application, f"/ws/tasks/{task.pk}/?token={token}", headers=[(b"origin", origin)]
        )
        connected, _ = await communicator.connect()
        assert not connected


@pytest.mark.parametrize("path", ["/ws/tasks/not-a-uuid/", "/ws/other/", "/ws/", "/"])
async def test_a_path_nobody_serves_is_closed_with_4404(owner_and_task, path):
    owner, _ = owner_and_task
    token = await database_sync_to_async(token_for)(owner)
    assert await close_code(f"{path}?token={token}") == 4404


@pytest.mark.parametrize(
    "query", [b"token=%00", b"token=a%00b", b"token=%ff%fe", b"token=" + b"x" * 5000, b"\xff=\x00"]
)
async def test_a_malformed_token_makes_the_client_anonymous(owner_and_task, query):
    _, task = owner_and_task
    communicator = WebsocketCommunicator(
        application, f"/ws/tasks/{task.pk}/?{query.decode('latin-1')}", headers=ORIGIN
    )
    communicator.scope["query_string"] = query
    assert (await communicator.connect())[0]
    closed = await communicator.receive_output(timeout=5)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4401)


async def test_a_nul_byte_in_the_session_cookie_is_no_session(owner_and_task):
    _, task = owner_and_task
    cookie = [(b"cookie", b"sessionid=abcdefgh\x00ijkl")]
    communicator = WebsocketCommunicator(
        application, f"/ws/tasks/{task.pk}/", headers=ORIGIN + cookie
    )
    assert (await communicator.connect())[0]
    closed = await communicator.receive_output(timeout=5)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4401)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"text_data": "not json"}, "JSON"),
        ({"text_data": "[" * 2000 + "]" * 2000}, "JSON"),
        ({"text_data": "[" * 100_000 + "]" * 100_000}, "at most"),
        ({"bytes_data": b"\x00\x01binary"}, "Binary"),
        ({"text_data": '"just a string"'}, "Unknown message type"),
        ({"text_data": '{"type": "launch"}'}, "Unknown message type"),
    ],
)
async def test_a_frame_the_consumer_cannot_read_gets_an_error_and_the_socket_stays(
    owner_and_task, frame, expected
):
    owner, task = owner_and_task
    token = await database_sync_to_async(token_for)(owner)
    for path in (f"/ws/tasks/{task.pk}/?token={token}", f"/ws/tasks/?token={token}"):
        communicator = await connect(path)
        if "/ws/tasks/?" not in path:
            await communicator.receive_json_from(timeout=5)  # the current state
        await communicator.send_to(**frame)
        answer = await communicator.receive_json_from(timeout=5)
        assert answer["type"] == "error" and expected in answer["message"]
        await communicator.send_json_to({"type": "ping"})
        assert await communicator.receive_json_from(timeout=5) == {"type": "pong"}
        await communicator.disconnect()


async def test_get_progress_on_the_dashboard_sends_the_users_newest_tasks(owner_and_task):
    owner, first = owner_and_task
    second = await database_sync_to_async(ContentTaskFactory)(created_by=owner)
    await database_sync_to_async(ContentTaskFactory)()  # someone else's
    token = await database_sync_to_async(token_for)(owner)
    dashboard = await connect(f"/ws/tasks/?token={token}")
    await dashboard.send_json_to({"type": "get_progress"})
    states = [await dashboard.receive_json_from(timeout=5) for _ in range(2)]
    assert [s["task_id"] for s in states] == [str(second.pk), str(first.pk)]
    assert all(s["type"] == "task.progress" for s in states)
    assert await dashboard.receive_nothing(timeout=0.5)
    await dashboard.disconnect()


async def receive_states(communicator) -> list[dict]:
    """Every message the socket has for us, until it has been quiet for half a second."""
    states = []
    while not await communicator.receive_nothing(timeout=0.5):
        states.append(await communicator.receive_json_from(timeout=5))
    return states


@database_sync_to_async
def sixty_tasks_of_three_users(owner):
    """60 tasks in all, the owner's taking turns with two others'; one more of the
    owner's, deleted, which no listing shows. Their ids, oldest first."""
    others = [UserFactory(), UserFactory()]
    for n in range(59):
        ContentTaskFactory(created_by=owner if n % 3 == 0 else others[n % 3 - 1])
    deleted = ContentTaskFactory(created_by=owner)
    task_delete(user=owner, task_id=deleted.pk)
    return [
        str(pk)
        for pk in ContentTask.objects.alive().order_by("created_at").values_list("pk", flat=True)
    ]


async def test_get_progress_on_the_dashboard_gives_an_editor_the_newest_50_of_all_tasks(
    owner_and_task,
):
    owner, _ = owner_and_task
    oldest_first = await sixty_tasks_of_three_users(owner)
    assert len(oldest_first) == 60
    editor = await database_sync_to_async(UserFactory)(editor=True)
    dashboard = await connect(f"/ws/tasks/?token={await database_sync_to_async(token_for)(editor)}")
    await dashboard.send_json_to({"type": "get_progress"})
    states = await receive_states(dashboard)
    assert [s["task_id"] for s in states] == oldest_first[::-1][:50]
    assert all(s["type"] == "task.progress" and s["status"] == "pending" for s in states)
    await dashboard.disconnect()


async def test_get_progress_on_the_dashboard_gives_an_integrator_only_their_own_tasks(
    owner_and_task,
):
    owner, first = owner_and_task
    oldest_first = await sixty_tasks_of_three_users(owner)
    owners = await database_sync_to_async(
        lambda: {str(pk) for pk in ContentTask.objects.alive().filter(created_by=owner)
                 .values_list("pk", flat=True)}
    )()  # fmt: skip
    dashboard = await connect(f"/ws/tasks/?token={await database_sync_to_async(token_for)(owner)}")
    await dashboard.send_json_to({"type": "get_progress"})
    states = await receive_states(dashboard)
    assert len(owners) == 21
    assert [s["task_id"] for s in states] == [pk for pk in oldest_first[::-1] if pk in owners]
    await dashboard.disconnect()


async def test_an_open_socket_keeps_its_membership_past_the_layers_group_expiry(
    owner_and_task, settings
):
    owner, task = owner_and_task
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "group_expiry": 3}}
    }
    token = await database_sync_to_async(token_for)(owner)
    communicator = await connect(f"/ws/tasks/{task.pk}/?token={token}")
    await communicator.receive_json_from(timeout=5)
    await asyncio.sleep(5)  # longer than the expiry: only a renewed membership survives
    task.progress = 33
    await database_sync_to_async(broadcast)(progress_message(task), created_by_id=owner.pk)
    assert (await communicator.receive_json_from(timeout=5))["progress"] == 33
    await communicator.disconnect()


async def test_group_keys_expire_in_minutes_not_a_day(owner_and_task, settings):
    import redis.asyncio as aioredis

    owner, task = owner_and_task
    token = await database_sync_to_async(token_for)(owner)
    communicator = await connect(f"/ws/tasks/{task.pk}/?token={token}")
    await communicator.receive_json_from(timeout=5)
    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    client = aioredis.Redis.from_url(config["hosts"][0])
    ttl = await client.ttl(f"{config['prefix']}:group:task-{task.pk}")
    await client.aclose()
    assert 0 < ttl <= 900
    await communicator.disconnect()
