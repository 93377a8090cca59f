"""Progress streams over real WebSocket connections (Channels' communicator, the
project's ASGI application, the Redis channel layer)."""

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from contentpipeline.asgi import application
from tasks.events import broadcast, progress_message

from ..factories import ContentTaskFactory, UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://localhost")]


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
    from contentpipeline.pipeline import run_pipeline

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
