"""When the model provider fails, a task's owner is told which stage failed and that
the provider failed, nothing more: a provider's error names its server (LLM_BASE_URL,
which may carry a user and password, and an internal address) and what it answered.
The detail goes to the logs and to editors in admin, without the URL's credentials."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from contentpipeline.asgi import application
from tasks.models import StageRun, WebhookDelivery
from tasks.services.webhooks import webhook_create
from tasks.tasks import run_pipeline_task

from ..conftest import client_for
from ..factories import UserFactory, token_for
from ..fakes import FakeLLMServer
from .factories import ContentTaskFactory

USER, PASSWORD = "llmproxy", "s3cret-Pa55word"
OWNERS_ERROR = "Stage research failed: the model provider failed."


@pytest.fixture
def provider(settings):
    """The fake model server failing every call (HTTP 500), reached through a URL with
    a user and password in it."""
    with FakeLLMServer() as server:
        server.configure(settings)
        settings.LLM_BASE_URL = server.base_url.replace("://", f"://{USER}:{PASSWORD}@")
        settings.LLM_MAX_RETRIES = 0
        server.fail = True
        server.address = server.base_url.split("//")[1].split("/")[0]  # 127.0.0.1:port
        yield server


def tells_nothing_of(provider, seen: str) -> bool:
    return PASSWORD not in seen and USER not in seen and provider.address not in seen


def fail(task) -> None:
    """The run as a worker runs it: the stage fails, Celery retries, then gives up."""
    assert run_pipeline_task.apply(args=[str(task.pk)]).get() == "failed"


@pytest.mark.django_db
def test_the_owner_reads_which_stage_failed_and_editors_read_why(provider, settings, editor):
    owner = UserFactory()
    settings.WEBHOOK_ALLOW_PRIVATE = True
    webhook_create(user=owner, url="http://127.0.0.1:9/hooks")
    task = ContentTaskFactory(created_by=owner)
    fail(task)
    task.refresh_from_db()
    assert (task.status, task.error) == ("failed", OWNERS_ERROR)

    owners_task = client_for(owner).get(f"/api/tasks/{task.pk}").json()
    owners_history = client_for(owner).get(f"/api/tasks/{task.pk}/history").json()
    payloads = [delivery.payload for delivery in WebhookDelivery.objects.filter(task=task)]
    for seen in (owners_task, owners_history, payloads):
        assert tells_nothing_of(provider, json.dumps(seen))
    assert owners_task["error"] == OWNERS_ERROR
    assert [p["error"] for p in payloads if p["status"] == "failed"] == [OWNERS_ERROR]
    assert {stage["error"] for stage in owners_task["stages"]} == {
        "This attempt failed; editors see why in the admin."
    }

    # Editors: the provider's own words and its address, never the password.
    attempts = StageRun.objects.filter(task=task, stage="research")
    assert attempts.count() == 4  # the first try and Celery's three retries
    for attempt in attempts:
        assert f"http://{provider.address}/v1 answered HTTP 500" in attempt.error
        assert PASSWORD not in attempt.error and USER not in attempt.error
    desk = client_for(editor)
    desk.force_login(editor)
    page = desk.get(reverse("admin:tasks_contenttask_change", args=[task.pk])).content.decode()
    assert f"http://{provider.address}/v1 answered HTTP 500" in page
    assert PASSWORD not in page and f"{USER}:" not in page
    editors_task = client_for(editor).get(f"/api/tasks/{task.pk}").json()
    assert all(provider.address in stage["error"] for stage in editors_task["stages"])
    assert PASSWORD not in json.dumps(editors_task)


@pytest.mark.django_db(transaction=True)
async def test_the_owners_progress_stream_says_which_stage_failed_and_no_more(provider):
    owner = await database_sync_to_async(UserFactory)()
    task = await database_sync_to_async(ContentTaskFactory)(created_by=owner)
    token = await database_sync_to_async(token_for)(owner)
    stream = WebsocketCommunicator(application, f"/ws/tasks/{task.pk}/?token={token}")
    assert (await stream.connect())[0]
    await stream.receive_json_from(timeout=5)  # the current state

    await database_sync_to_async(fail)(task)
    received = []
    while not received or received[-1]["status"] != "failed":
        received.append(await stream.receive_json_from(timeout=10))
    assert received[-1]["message"] == f"Failed: {OWNERS_ERROR}"
    await stream.send_json_to({"type": "get_progress"})
    received.append(await stream.receive_json_from(timeout=5))
    assert received[-1]["message"] == f"Failed: {OWNERS_ERROR}"
    assert tells_nothing_of(provider, json.dumps(received))
    await stream.disconnect()
