"""A task that asks for its plan to be approved (`review_plan`): the run stops after
research at awaiting_plan with an outline, and no draft is asked for; approved (edited
or not) it goes on with a draft written to the plan; sent back it is researched again
with the feedback. With the offline writer and with a fake OpenAI-compatible server."""

import json
import re
import threading
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection

from contentpipeline.asgi import application
from contentpipeline.errors import ApplicationError, InvalidTransition
from tasks.models import StageRun, WebhookDelivery
from tasks.runner import run_pipeline
from tasks.selectors import task_result
from tasks.services import (
    task_pause,
    task_plan_approve,
    task_plan_send_back,
    task_resume,
)
from tasks.services.webhooks import webhook_create, webhook_deliver

from ..factories import UserFactory, token_for
from ..fakes import CHAT_PATH, DRAFT, FakeLLMServer, Reply, chat_completion
from .factories import ContentTaskFactory
from .receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


@pytest.fixture
def fake_llm(settings):
    with FakeLLMServer() as server:
        server.configure(settings)
        yield server


def prompts(server: FakeLLMServer, start: str) -> list[str]:
    return [
        r.json["messages"][-1]["content"]
        for r in server.requests
        if r.path == CHAT_PATH and r.json["messages"][-1]["content"].startswith(start)
    ]


def headings(markdown: str) -> list[str]:
    return re.findall(r"^## (.+)$", markdown, re.MULTILINE)


def planned(**kwargs):
    task = ContentTaskFactory(review_plan=True, generate_image=False, **kwargs)
    assert run_pipeline(task.pk) == "stopped"
    task.refresh_from_db()
    return task


def test_a_task_asking_for_a_plan_stops_after_research_awaiting_it_with_an_outline():
    task = planned()
    assert task.status == "awaiting_plan" and task.lease_id is None
    research = StageRun.objects.get(task=task, stage="research").output
    assert task.plan["status"] == "proposed" and task.plan["generation"] == 1
    assert [s["heading"] for s in task.plan["outline"]] == research["outline"]
    assert all(s["point"] for s in task.plan["outline"])
    assert list(StageRun.objects.filter(task=task).values_list("stage", flat=True)) == ["research"]
    assert task.history.first().history_change_reason == "plan proposed"
    # Nothing more to run until an editor decides: another run message is spent.
    assert run_pipeline(task.pk) == "skipped"


def test_a_task_without_review_plan_is_drafted_without_stopping():
    task = ContentTaskFactory(generate_image=False)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.plan is None and task.status == "awaiting_approval"


def test_no_draft_is_asked_of_the_model_before_the_plan_is_approved(fake_llm, editor):
    task = planned()
    assert task.status == "awaiting_plan"
    assert len(prompts(fake_llm, "Research the brief")) == 1
    assert prompts(fake_llm, "Write the piece") == []
    assert {s["heading"] for s in task.plan["outline"]} == {"Why", "How"}

    outline = [dict(s) for s in task.plan["outline"]]
    outline[0]["heading"] = "Why rain barrels pay off"
    task_plan_approve(task_id=task.pk, user=editor, outline=outline)
    assert run_pipeline(task.pk) == "done"

    [draft_prompt] = prompts(fake_llm, "Write the piece")
    assert "## Why rain barrels pay off\n" in draft_prompt and "## How\n" in draft_prompt
    assert draft_prompt.index("## Why rain barrels pay off") < draft_prompt.index("## How")
    assert "Use exactly these `## ` headings, in this order" in draft_prompt
    assert len(prompts(fake_llm, "Research the brief")) == 1  # research was not run again


def test_a_rewrite_for_quality_is_told_to_keep_the_approved_headings(fake_llm, editor, settings):
    settings.QUALITY_THRESHOLD, settings.QUALITY_MAX_REFINEMENTS = 75, 1
    low = json.dumps({"quality_score": 40, "qa_feedback": "Thin", "issues": ["Too short"]})
    task = planned()
    outline = [{"heading": "Barrels on a budget", "point": "", "sources": []}]
    task_plan_approve(task_id=task.pk, user=editor, outline=outline)
    fake_llm.script(
        CHAT_PATH,
        Reply(chat_completion(DRAFT)),  # the draft
        Reply(chat_completion(low)),  # its review asks for a rewrite
    )
    assert run_pipeline(task.pk) == "done"
    [refine_prompt] = prompts(fake_llm, "Revise this draft")
    assert "keep exactly these `## ` headings, in this order" in refine_prompt
    assert "## Barrels on a budget\n" in refine_prompt


def test_an_approved_plan_with_an_edited_heading_gives_the_offline_draft_its_headings(editor):
    task = planned(topic="Composting kitchen scraps at home")
    outline = [dict(s) for s in task.plan["outline"]]
    outline[0]["heading"] = "What your compost heap needs first"
    outline = outline[:2]
    task_plan_approve(task_id=task.pk, user=editor, outline=outline)
    task.refresh_from_db()
    assert task.status == "pending" and task.plan["status"] == "approved"

    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    drafted = headings(task_result(task)["body_markdown"])
    # The writer closes with a conclusion of its own after the approved sections.
    assert drafted[: len(outline)] == [s["heading"] for s in outline]
    research_runs = StageRun.objects.filter(task=task, stage="research")
    assert research_runs.count() == 1  # the run went on from the draft


def test_a_plan_sent_back_is_researched_again_with_the_feedback_and_awaits_approval_again(
    fake_llm, editor
):
    task = planned()
    task_plan_send_back(task_id=task.pk, user=editor, feedback="Cover the costs of a barrel")
    task.refresh_from_db()
    assert (task.status, task.generation, task.plan["status"]) == ("pending", 2, "sent_back")

    assert run_pipeline(task.pk) == "stopped"
    task.refresh_from_db()
    assert task.status == "awaiting_plan"
    assert task.plan["generation"] == 2 and task.plan["status"] == "proposed"
    assert task.plan["feedback"] == "Cover the costs of a barrel"
    runs = StageRun.objects.filter(task=task, stage="research").order_by("generation")
    assert [(r.generation, r.status) for r in runs] == [(1, "succeeded"), (2, "succeeded")]
    first, second = prompts(fake_llm, "Research the brief")
    assert "Cover the costs of a barrel" not in first
    assert "Cover the costs of a barrel" in second
    assert prompts(fake_llm, "Write the piece") == []


def test_deciding_a_plan_that_is_not_awaited_is_refused_and_changes_nothing(editor):
    task = ContentTaskFactory(review_plan=True)
    with pytest.raises(InvalidTransition):
        task_plan_approve(task_id=task.pk, user=editor)
    with pytest.raises(InvalidTransition):
        task_plan_send_back(task_id=task.pk, user=editor, feedback="More")
    task.refresh_from_db()
    assert task.status == "pending" and task.plan is None and task.generation == 1


def test_a_bad_outline_or_a_send_back_without_feedback_is_refused(editor):
    task = planned()
    with pytest.raises(ApplicationError, match="1 to 200"):
        task_plan_approve(task_id=task.pk, user=editor, outline=[{"heading": ""}])
    with pytest.raises(ApplicationError, match="Feedback is required"):
        task_plan_send_back(task_id=task.pk, user=editor, feedback="  ")
    task.refresh_from_db()
    assert task.status == "awaiting_plan" and task.plan["status"] == "proposed"


@pytest.mark.django_db(transaction=True)
def test_a_task_paused_during_research_is_proposed_its_plan_when_resumed(
    fake_llm, queue_without_worker
):
    task = ContentTaskFactory(review_plan=True, generate_image=False)
    fake_llm.delay = 0.5
    outcome = []

    def run() -> None:
        try:
            outcome.append(run_pipeline(task.pk))
        finally:
            connection.close()

    running = threading.Thread(target=run)
    running.start()
    deadline = time.monotonic() + 10
    while not fake_llm.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    task_pause(user=task.created_by, task_id=task.pk)  # while research asks the model
    running.join()
    task.refresh_from_db()
    assert outcome == ["stopped"] and task.status == "paused" and task.plan is None

    task_resume(user=task.created_by, task_id=task.pk)
    assert run_pipeline(task.pk) == "stopped"
    task.refresh_from_db()
    assert task.status == "awaiting_plan" and task.plan["status"] == "proposed"
    assert StageRun.objects.filter(task=task, stage="research").count() == 1
    assert prompts(fake_llm, "Write the piece") == []


def test_the_owners_webhook_receiver_is_told_the_task_awaits_its_plan(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    owner = UserFactory()
    with WebhookReceiver() as receiver:
        webhook = webhook_create(user=owner, url=receiver.url("/hooks"))
        receiver.secret = webhook.secret
        task = planned(created_by=owner)
        delivery = WebhookDelivery.objects.get(webhook=webhook, status="awaiting_plan")
        assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is None
    [request] = receiver.requests
    assert request.verified
    assert request.json["status"] == "awaiting_plan"
    assert request.json["previous_status"] == "in_progress"
    assert request.json["task_id"] == str(task.pk)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_following_the_task_sees_it_await_its_plan():
    task = await database_sync_to_async(ContentTaskFactory)(review_plan=True)
    token = await database_sync_to_async(token_for)(task.created_by)
    follower = WebsocketCommunicator(
        application, f"/ws/tasks/{task.pk}/?token={token}", headers=ORIGIN
    )
    connected, _ = await follower.connect()
    assert connected
    assert (await follower.receive_json_from(timeout=5))["status"] == "pending"

    assert await database_sync_to_async(run_pipeline)(task.pk) == "stopped"
    events = []
    while not events or events[-1]["status"] != "awaiting_plan":
        events.append(await follower.receive_json_from(timeout=10))
    assert events[-1]["message"] == "Plan ready for approval"
    assert events[-1]["stage"] == "research"
    assert await follower.receive_nothing(timeout=0.5)  # no draft stage follows
    await follower.disconnect()


def test_each_planned_section_names_the_sources_it_draws_on_and_the_draft_prompt_too(
    fake_llm, editor, settings
):
    from .pipeline.test_sources import SourceServer

    settings.SOURCES_ALLOW_PRIVATE = True  # the pages are on loopback
    research = {"angle": "", "audience_notes": "",
                "outline": ["Storing roof water in a barrel", "What it costs"],
                "key_points": ["A barrel under a downspout", "Prices vary"]}  # fmt: skip
    fake_llm.script(CHAT_PATH, Reply(chat_completion(json.dumps(research))))
    with SourceServer() as pages:
        sources = [pages.url("/missing"), pages.url("/article")]
        task = planned(sources=sources)
    # Numbered by their place, as the claims check numbers them: the readable one is 2.
    assert [s["sources"] for s in task.plan["outline"]] == [[2], []]

    task_plan_approve(task_id=task.pk, user=editor)
    assert run_pipeline(task.pk) == "done"
    [draft_prompt] = prompts(fake_llm, "Write the piece")
    assert (
        "## Storing roof water in a barrel\n   Point: A barrel under a downspout\n"
        "   Draw on sources: [2]\n## What it costs\n   Point: Prices vary" in draft_prompt
    )
