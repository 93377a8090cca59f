"""Progress streams as outside clients meet them: a real ASGI server process (daphne,
started as `make run` starts it), the Redis channel layer, and WebSocket clients that
are not browsers (the `websockets` library sends no Origin header and, here, no
pings of its own), left idle a while. The minute-long soak of 1,000 sockets is
bench/socket_fanout.py's (--hold 60)."""

import asyncio
import json
import resource
import time

import pytest
from channels.db import database_sync_to_async as sync_to_async
from websockets.asyncio.client import connect as ws_connect
from websockets.sync.client import connect as ws_connect_sync

from tasks.events import broadcast, progress_message
from tasks.models import ContentTask
from tasks.services import task_create

from ..factories import UserFactory, token_for
from ..fakes import CHAT_PATH, PIPELINE_USAGE, REPLIES, FakeLLMServer, Reply, chat_completion
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

TASKS = 10
SOCKETS_PER_TASK = 90
DASHBOARDS = 100  # half the owner's, half an editor's
IDLE_SECONDS = 5
EVENTS_PER_TASK = 3


def _raise_open_files_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


async def _open(url: str, handshakes: asyncio.Semaphore):
    async with handshakes:
        return await ws_connect(url, ping_interval=None, open_timeout=60, max_queue=None)


async def _receive_json(socket, timeout: float = 30) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def _ping(socket) -> dict:
    await socket.send(json.dumps({"type": "ping"}))
    return await _receive_json(socket)


async def test_a_thousand_idle_sockets_stay_open_and_each_gets_every_event(
    asgi_server,
):
    _raise_open_files_limit(4096)
    owner = await sync_to_async(UserFactory)()
    editor = await sync_to_async(UserFactory)(editor=True)
    owner_token = await sync_to_async(token_for)(owner)
    editor_token = await sync_to_async(token_for)(editor)
    tasks = [await sync_to_async(ContentTaskFactory)(created_by=owner) for _ in range(TASKS)]

    handshakes = asyncio.Semaphore(100)
    watched = {
        task.pk: [f"{asgi_server.ws_url}/ws/tasks/{task.pk}/?token={owner_token}"]
        * SOCKETS_PER_TASK
        for task in tasks
    }
    task_sockets = {
        task_id: await asyncio.gather(*(_open(url, handshakes) for url in urls))
        for task_id, urls in watched.items()
    }
    dashboard_urls = [f"{asgi_server.ws_url}/ws/tasks/?token={owner_token}"] * (DASHBOARDS // 2) + [
        f"{asgi_server.ws_url}/ws/tasks/?token={editor_token}"
    ] * (DASHBOARDS // 2)
    dashboards = await asyncio.gather(*(_open(url, handshakes) for url in dashboard_urls))
    everyone = [s for sockets in task_sockets.values() for s in sockets] + list(dashboards)
    assert len(everyone) == 1000
    try:
        # Each task socket gets the task's current state first; a dashboard has joined
        # its group once it answers a ping.
        for task_id, sockets in task_sockets.items():
            firsts = await asyncio.gather(*(_receive_json(s) for s in sockets))
            assert {(f["task_id"], f["status"]) for f in firsts} == {(str(task_id), "pending")}
        assert all(p == {"type": "pong"} for p in await asyncio.gather(*map(_ping, dashboards)))

        await asyncio.sleep(IDLE_SECONDS)  # nothing sent either way

        sent = {}
        for task in tasks:
            sent[str(task.pk)] = []
            for step in range(1, EVENTS_PER_TASK + 1):
                task.progress = step * 10
                event = progress_message(task, f"step {step}")
                sent[str(task.pk)].append(event)
                await sync_to_async(broadcast)(event, created_by_id=owner.pk)

        async def collect(socket, count: int) -> list[dict]:
            return [await _receive_json(socket) for _ in range(count)]

        for task_id, sockets in task_sockets.items():
            received = await asyncio.gather(*(collect(s, EVENTS_PER_TASK) for s in sockets))
            assert all(got == sent[str(task_id)] for got in received)
        every_event = [e for events in sent.values() for e in events]
        received = await asyncio.gather(*(collect(s, len(every_event)) for s in dashboards))
        assert all(got == every_event for got in received)
        pongs = await asyncio.gather(*map(_ping, everyone))
        assert all(p == {"type": "pong"} for p in pongs)
    finally:
        await asyncio.gather(*(s.close() for s in everyone), return_exceptions=True)
    assert asgi_server.process.poll() is None


def test_a_socket_follows_a_task_through_a_model_call_that_takes_seconds(
    asgi_server, worker_factory
):
    owner = UserFactory()
    token = token_for(owner)
    with FakeLLMServer() as llm:
        # The research stage's call takes 6 s; the socket hears nothing meanwhile.
        research = chat_completion(REPLIES["Research the brief"], usage=PIPELINE_USAGE)
        llm.script(CHAT_PATH, Reply(research, delay=6.0))
        worker_factory(env=llm.env())
        task = task_create(user=owner, topic="Waiting on a slow model", target_length=100,
                           generate_image=False, keywords=["latency"])  # fmt: skip
        url = f"{asgi_server.ws_url}/ws/tasks/{task.pk}/?token={token}"
        arrivals = []
        with ws_connect_sync(url, ping_interval=None, open_timeout=30) as socket:
            while not arrivals or arrivals[-1][1]["status"] != "awaiting_approval":
                message = json.loads(socket.recv(timeout=60))
                if message["type"] == "task.progress":  # not the streamed draft's text
                    arrivals.append((time.monotonic(), message))
            socket.send(json.dumps({"type": "ping"}))
            assert json.loads(socket.recv(timeout=10)) == {"type": "pong"}
    gaps = [later[0] - earlier[0] for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert max(gaps) > 5.5  # silent longer than the old 5 s limit, and still open
    stages = [m["stage"] for _, m in arrivals if m["message"].endswith("succeeded")]
    assert stages == ["research", "draft", "review", "seo"]
    assert ContentTask.objects.get(pk=task.pk).status == "awaiting_approval"
