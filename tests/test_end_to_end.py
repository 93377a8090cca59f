"""The whole flow on real components: HTTP request -> Celery worker process -> live
progress over a WebSocket -> editor approval -> public post."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from contentpipeline.asgi import application
from tasks.models import PIPELINE_STAGES

from .conftest import client_for
from .factories import UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


async def receive_until(communicator, done, timeout: float = 90) -> list[dict]:
    messages = []
    async with asyncio.timeout(timeout):
        while True:
            message = await communicator.receive_json_from(timeout=timeout)
            messages.append(message)
            if done(message):
                return messages


async def test_a_requested_task_is_drafted_streamed_approved_and_published(celery_worker):
    integrator = await database_sync_to_async(UserFactory)()
    editor = await database_sync_to_async(UserFactory)(editor=True)
    token = await database_sync_to_async(token_for)(integrator)

    # The integrator's dashboard stream is open before the task exists.
    dashboard = WebsocketCommunicator(application, f"/ws/tasks/?token={token}", headers=ORIGIN)
    connected, _ = await dashboard.connect()
    assert connected

    client = await database_sync_to_async(client_for)(integrator)
    response = await database_sync_to_async(client.post)(
        "/api/tasks",
        {
            "topic": "Rainwater harvesting for city gardens",
            "keywords": ["rain barrel", "drip irrigation"],
            "target_length": 400,
            "tone": "casual",
            "style": "listicle",
            "category": "Gardening",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    task_id = response.json()["id"]

    # A second client follows just this task: its first message is the current state.
    follower = WebsocketCommunicator(
        application, f"/ws/tasks/{task_id}/?token={token}", headers=ORIGIN
    )
    connected, _ = await follower.connect()
    assert connected
    first = await follower.receive_json_from(timeout=10)
    assert first["type"] == "task.progress" and first["task_id"] == task_id

    events = await receive_until(dashboard, lambda m: m["status"] == "awaiting_approval")
    assert all(event["task_id"] == task_id for event in events)
    stages_seen = [e["stage"] for e in events if e["status"] == "in_progress"]
    assert [s for s in PIPELINE_STAGES if s in stages_seen] == list(PIPELINE_STAGES)
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 100

    follower_events = await receive_until(
        follower, lambda m: m["status"] == "awaiting_approval", timeout=10
    )
    assert follower_events[-1]["stage"] == "done"
    await dashboard.disconnect()
    await follower.disconnect()

    task = (await database_sync_to_async(client.get)(f"/api/tasks/{task_id}")).json()
    assert task["status"] == "awaiting_approval"
    assert task["result"]["title"] and task["result"]["image_url"]
    assert {s["stage"] for s in task["stages"]} == set(PIPELINE_STAGES)

    # The draft is not public before an editor approves it.
    anonymous = await database_sync_to_async(client_for)()
    home = await database_sync_to_async(anonymous.get)("/")
    assert task["result"]["title"] not in home.content.decode()

    editor_client = await database_sync_to_async(client_for)(editor)
    decision = await database_sync_to_async(editor_client.post)(
        f"/api/tasks/{task_id}/approval", {"approved": True, "feedback": "Good"}, format="json"
    )
    assert decision.status_code == 200, decision.content
    slug = decision.json()["post"]["slug"]

    home = await database_sync_to_async(anonymous.get)("/")
    assert task["result"]["title"] in home.content.decode()
    page = await database_sync_to_async(anonymous.get)(f"/posts/{slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert task["result"]["title"] in html and task["result"]["image_url"] in html
    image = await database_sync_to_async(anonymous.get)(task["result"]["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"

    published = (await database_sync_to_async(client.get)(f"/api/tasks/{task_id}")).json()
    assert published["status"] == "published" and published["post"]["slug"] == slug
