"""A draft written by a streaming provider reaches `/ws/tasks/{id}/` as it is written:
the fake OpenAI-compatible server streams server-sent events, the runner runs in a
thread, and a client that is not a browser (no Origin, a token) follows the task."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection

from contentpipeline.asgi import application
from tasks.events import DRAFT_EVENTS_PER_SECOND
from tasks.runner import run_pipeline

from ..factories import token_for
from ..fakes import CHAT_PATH, FakeLLMServer, Reply, chat_completion
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

LONG_DRAFT = "# Rain Barrels at Length\n\n" + "\n\n".join(
    f"## Part {n}\n\nRain barrels keep water for dry weeks, part {n}." for n in range(12)
)


def run_in_thread(task_id) -> str:
    try:
        return run_pipeline(task_id)
    finally:
        connection.close()  # the thread's own connection, or the test database stays in use


async def follow(task, token: str, *, until: str = "awaiting_approval") -> list[tuple]:
    communicator = WebsocketCommunicator(application, f"/ws/tasks/{task.pk}/?token={token}")
    connected, _ = await communicator.connect()
    assert connected
    await communicator.receive_json_from(timeout=5)  # the current state
    run = asyncio.get_running_loop().run_in_executor(None, run_in_thread, task.pk)
    events = []
    while True:
        message = await communicator.receive_json_from(timeout=20)
        events.append((time.monotonic(), message))
        if message["type"] == "task.progress" and message["status"] == until:
            break
    assert await run == "done"
    await communicator.disconnect()
    return events


async def test_a_streamed_draft_reaches_a_websocket_client_a_few_times_a_second(settings):
    with FakeLLMServer() as server:
        server.configure(settings)
        server.chunk_size, server.chunk_delay = 10, 0.03
        task = await database_sync_to_async(ContentTaskFactory)()
        token = await database_sync_to_async(token_for)(task.created_by)
        await database_sync_to_async(server.script)(
            CHAT_PATH,
            Reply(chat_completion('{"angle": "a", "outline": ["Why"]}')),
            Reply(chat_completion(LONG_DRAFT)),
        )
        events = await follow(task, token)

    drafts = [(at, message) for at, message in events if message["type"] == "task.draft"]
    texts = [message["text"] for _, message in drafts]
    assert len(texts) >= 4
    assert all(earlier in later for earlier, later in zip(texts, texts[1:], strict=False))
    assert texts[-1] == LONG_DRAFT  # the whole text last
    assert {message["task_id"] for _, message in drafts} == {str(task.pk)}
    # At most DRAFT_EVENTS_PER_SECOND, plus the last text sent when the stream ends.
    span = drafts[-1][0] - drafts[0][0]
    assert len(drafts) <= span * DRAFT_EVENTS_PER_SECOND + 2
    # Streamed before the draft stage was recorded as finished.
    finished = next(
        at for at, message in events
        if message["type"] == "task.progress" and message["stage"] != "draft"
        and message["progress"] >= 50
    )  # fmt: skip
    assert drafts[-1][0] <= finished


async def test_without_streaming_the_draft_is_not_sent_as_it_is_written(settings):
    settings.LLM_STREAM = False
    with FakeLLMServer() as server:
        server.configure(settings)
        task = await database_sync_to_async(ContentTaskFactory)()
        token = await database_sync_to_async(token_for)(task.created_by)
        events = await follow(task, token)
        streamed = [r for r in server.requests if r.json and r.json.get("stream")]
    assert [m for _, m in events if m["type"] == "task.draft"] == []
    assert streamed == []


async def test_a_draft_from_a_server_that_does_not_stream_is_sent_once_whole(settings):
    with FakeLLMServer() as server:
        server.configure(settings)
        task = await database_sync_to_async(ContentTaskFactory)()
        token = await database_sync_to_async(token_for)(task.created_by)
        await database_sync_to_async(server.script)(
            CHAT_PATH,
            Reply(chat_completion('{"angle": "a", "outline": ["Why"]}')),
            Reply({"error": {"message": "streaming is not supported"}}, status=400),
            Reply(chat_completion(LONG_DRAFT)),
        )
        events = await follow(task, token)
    assert [m["text"] for _, m in events if m["type"] == "task.draft"] == [LONG_DRAFT]


async def test_a_provider_that_never_streams_sends_no_draft_events(settings):
    settings.LLM_CHAIN = ("offline",)
    task = await database_sync_to_async(ContentTaskFactory)()
    token = await database_sync_to_async(token_for)(task.created_by)
    events = await follow(task, token)
    assert {message["type"] for _, message in events} == {"task.progress"}
