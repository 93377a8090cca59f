"""Editors decide a task's plan before its draft: over the API (POST
/api/tasks/{id}/plan) and at the review desk, each decision an audit record (who,
when, the outline decided, the feedback, the IP) in the task's history."""

import re
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from approvals.models import AppendOnlyError, PlanDecision
from approvals.services import plan_decide
from contentpipeline.errors import Forbidden, InvalidTransition
from tasks.models import ContentTask
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


def awaiting_plan(**kwargs) -> ContentTask:
    task = ContentTaskFactory(review_plan=True, generate_image=False, **kwargs)
    assert run_pipeline(task.pk) == "stopped"
    task.refresh_from_db()
    assert task.status == "awaiting_plan"
    return task


def plan_url(task) -> str:
    return f"/api/tasks/{task.pk}/plan"


def test_a_task_created_with_review_plan_shows_its_plan_and_others_show_none(integrator_client):
    asked = integrator_client.post(
        "/api/tasks", {"topic": "Planning a pond", "review_plan": True}, format="json"
    )
    plain = integrator_client.post("/api/tasks", {"topic": "Planning a shed"}, format="json")
    assert asked.status_code == plain.status_code == 201
    assert asked.json()["review_plan"] is True
    assert asked.json()["plan"] == {"outline": [], "status": None}
    assert plain.json()["review_plan"] is False and plain.json()["plan"] is None
    assert ContentTask.objects.get(pk=asked.json()["id"]).review_plan is True


def test_an_editor_approves_an_edited_plan_over_the_api(editor_client, editor):
    task = awaiting_plan()
    outline = [
        {"heading": "Why a pond brings wildlife", "point": "Frogs and newts", "sources": []},
        {"heading": task.plan["outline"][1]["heading"], "point": "", "sources": [1]},
    ]
    response = editor_client.post(
        plan_url(task), {"approved": True, "outline": outline}, format="json",
        REMOTE_ADDR="203.0.113.7",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(task.pk) and body["status"] == "pending"
    assert body["plan"] == {"outline": outline, "status": "approved"}
    record = PlanDecision.objects.get(task=task)
    assert (record.decision, record.reviewer, record.generation) == ("approved", editor, 1)
    assert record.outline == outline and record.request_ip == "203.0.113.7"

    history = editor_client.get(f"/api/tasks/{task.pk}/history").json()["events"]
    [decided] = [event for event in history if event["kind"] == "plan_decision"]
    assert decided["decision"] == "approved" and decided["reviewer"] == editor.username
    assert decided["outline"] == outline
    assert any(e["kind"] == "status" and e["status"] == "awaiting_plan" for e in history)


def test_an_editor_sends_a_plan_back_with_feedback_over_the_api(editor_client):
    task = awaiting_plan()
    response = editor_client.post(
        plan_url(task), {"approved": False, "feedback": "Say what it costs"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending" and response.json()["generation"] == 2
    assert response.json()["plan"]["status"] == "sent_back"
    record = PlanDecision.objects.get(task=task)
    assert (record.decision, record.feedback, record.generation) == (
        "sent_back", "Say what it costs", 1)  # fmt: skip
    assert record.outline == task.plan["outline"]


@pytest.mark.parametrize(
    "body",
    [
        {"approved": False},
        {"approved": False, "feedback": "   "},
        {"approved": True, "outline": []},
        {"approved": True, "outline": [{"heading": "x" * 201}]},
        {"approved": True, "outline": [{"heading": f"H{i}"} for i in range(13)]},
        {"approved": True, "outline": [{"heading": "H", "sources": ["one"]}]},
        {"approved": True, "outline": [{"heading": "H", "point": "p" * 1001}]},
        {"approved": True, "outline": [{"heading": "\x00"}]},
    ],
)
def test_a_bad_outline_or_a_send_back_without_feedback_answers_400(editor_client, body):
    task = awaiting_plan()
    response = editor_client.post(plan_url(task), body, format="json")
    assert response.status_code == 400, response.content
    task.refresh_from_db()
    assert task.status == "awaiting_plan" and not PlanDecision.objects.exists()


def test_deciding_the_plan_of_a_task_not_awaiting_one_answers_409(editor_client):
    task = ContentTaskFactory(review_plan=True)
    response = editor_client.post(plan_url(task), {"approved": True}, format="json")
    assert response.status_code == 409
    assert response.json()["status"] == "pending" and "plan" in response.json()["detail"]
    assert not PlanDecision.objects.exists()


def test_a_non_editor_gets_403_even_for_their_own_task(integrator):
    task = awaiting_plan(created_by=integrator)
    response = client_for(integrator).post(plan_url(task), {"approved": True}, format="json")
    assert response.status_code == 403
    assert client_for().post(plan_url(task), {"approved": True}, format="json").status_code == 401
    task.refresh_from_db()
    assert task.status == "awaiting_plan" and not PlanDecision.objects.exists()
    with pytest.raises(Forbidden):
        plan_decide(task_id=task.pk, reviewer=integrator, approved=True)


def test_an_unknown_task_answers_404(editor_client):
    fake = "00000000-0000-0000-0000-000000000000"
    assert editor_client.post(f"/api/tasks/{fake}/plan", {"approved": True}).status_code == 404


def test_plan_decisions_are_never_changed_or_deleted(editor):
    task = awaiting_plan()
    record, _ = plan_decide(task_id=task.pk, reviewer=editor, approved=True)
    with pytest.raises(AppendOnlyError):
        record.save()
    with pytest.raises(AppendOnlyError):
        PlanDecision.objects.filter(pk=record.pk).delete()


@pytest.mark.django_db(transaction=True)
def test_ten_editors_deciding_one_plan_at_once_make_one_decision(queue_without_worker):
    editors = [UserFactory(editor=True) for _ in range(10)]
    task = awaiting_plan()
    start = threading.Barrier(len(editors))
    outcomes: list[str] = []

    def decide(editor, approved: bool) -> None:
        try:
            start.wait()
            plan_decide(task_id=task.pk, reviewer=editor, approved=approved, feedback="Again")
            outcomes.append("decided")
        except InvalidTransition:
            outcomes.append("409")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(editor, index % 2 == 0))
        for index, editor in enumerate(editors)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["409"] * 9 + ["decided"]
    assert PlanDecision.objects.filter(task=task).count() == 1
    task.refresh_from_db()
    assert task.status == "pending" and task.generation in (1, 2)


# --- The review desk ------------------------------------------------------------------


@pytest.fixture
def desk(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


def review_url(task) -> str:
    return reverse("admin:tasks_contenttask_review", args=[task.pk])


def test_the_review_queue_lists_tasks_awaiting_a_plan_first_and_filters_them(desk):
    waiting = awaiting_plan(topic="Plan awaited for a wildlife pond")
    ContentTaskFactory(topic="Newer pending task on hedges")
    changelist = reverse("admin:tasks_contenttask_changelist")
    page = desk.get(changelist).content.decode()
    assert page.index("Plan awaited for a wildlife pond") < page.index("Newer pending task")
    assert "Review plan" in page and review_url(waiting) in page
    filtered = desk.get(changelist, {"waiting": "plan"}).content.decode()
    assert "Plan awaited for a wildlife pond" in filtered
    assert "Newer pending task" not in filtered


def test_an_editor_edits_and_approves_a_plan_at_the_review_desk(desk, editor):
    task = awaiting_plan(topic="Desk plan for a wildlife pond")
    page = desk.get(review_url(task)).content.decode()
    first = task.plan["outline"][0]
    assert first["heading"] in page and first["point"] in page
    assert 'value="plan"' in page

    response = desk.post(
        review_url(task),
        {
            "step": "plan",
            "decision": "approve",
            "outline": "Where to dig the pond | Sun and shade | 1, 2\nPlanting the margins",
            "feedback": "",
        },
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == "pending" and task.plan["status"] == "approved"
    assert task.plan["outline"] == [
        {"heading": "Where to dig the pond", "point": "Sun and shade", "sources": [1, 2]},
        {"heading": "Planting the margins", "point": "", "sources": []},
    ]
    record = PlanDecision.objects.get(task=task)
    assert record.reviewer == editor and record.outline == task.plan["outline"]


def test_the_plan_page_lists_the_readable_sources_by_their_numbers(desk, settings):
    from ..tasks.pipeline.test_sources import SourceServer

    settings.SOURCES_ALLOW_PRIVATE = True  # the pages are on loopback
    with SourceServer() as pages:
        task = awaiting_plan(sources=[pages.url("/missing"), pages.url("/article")])
        page = desk.get(review_url(task)).content.decode()
        article, missing = pages.url("/article"), pages.url("/missing")
    assert f'<li value="2"><a href="{article}"' in page
    assert "Rain barrels for city gardens" in page and missing not in page


def test_sending_a_plan_back_at_the_desk_needs_feedback(desk):
    task = awaiting_plan()
    lines = "Only heading"
    page = desk.post(review_url(task), {"step": "plan", "decision": "send_back", "outline": lines})
    assert page.status_code == 200 and "Feedback is required" in page.content.decode()
    task.refresh_from_db()
    assert task.status == "awaiting_plan"

    desk.post(
        review_url(task),
        {"step": "plan", "decision": "send_back", "outline": lines, "feedback": "Deeper"},
    )
    task.refresh_from_db()
    assert task.status == "pending" and task.plan["status"] == "sent_back"
    assert PlanDecision.objects.get(task=task).feedback == "Deeper"


def test_a_malformed_outline_at_the_desk_is_shown_as_an_error(desk):
    task = awaiting_plan()
    page = desk.post(
        review_url(task), {"step": "plan", "decision": "approve", "outline": "H | p | one"}
    )
    assert page.status_code == 200 and "the sources are numbers" in page.content.decode()
    task.refresh_from_db()
    assert task.status == "awaiting_plan" and not PlanDecision.objects.exists()


def test_plan_decisions_are_read_only_in_the_admin_audit_trail(desk, editor):
    task = awaiting_plan()
    record, _ = plan_decide(task_id=task.pk, reviewer=editor, approved=True)
    listing = desk.get(reverse("admin:approvals_plandecision_changelist"))
    assert listing.status_code == 200 and task.topic[:30] in listing.content.decode()
    change = reverse("admin:approvals_plandecision_change", args=[record.pk])
    assert desk.get(change).status_code == 200
    desk.post(change, {"feedback": "tampered"})
    delete = reverse("admin:approvals_plandecision_delete", args=[record.pk])
    assert desk.post(delete, {"post": "yes"}).status_code == 403
    assert desk.get(reverse("admin:approvals_plandecision_add")).status_code == 403
    record.refresh_from_db()
    assert record.feedback == ""


# --- With a real worker ---------------------------------------------------------------


def wait_for_status(task_id, status: str, timeout: float = 90) -> ContentTask:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = ContentTask.objects.get(pk=task_id)
        if task.status == status:
            return task
        assert task.status not in ("failed", "cancelled"), task.error
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} never reached {status}; it is {task.status}")


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_a_task_to_its_plan_and_after_approval_to_its_draft(
    celery_worker, integrator_client, editor_client
):
    created = integrator_client.post(
        "/api/tasks",
        {"topic": "Building a wildlife pond in a small garden", "review_plan": True,
         "target_length": 300, "generate_image": False},
        format="json",
    )  # fmt: skip
    assert created.status_code == 201, created.content
    task_id = created.json()["id"]

    task = wait_for_status(task_id, "awaiting_plan")
    assert list(task.stage_runs.values_list("stage", flat=True)) == ["research"]
    assert task.lease_id is None
    outline = [dict(section) for section in task.plan["outline"]]
    outline[0]["heading"] = "Choosing the spot for the pond"

    decided = editor_client.post(
        f"/api/tasks/{task_id}/plan", {"approved": True, "outline": outline}, format="json"
    )
    assert decided.status_code == 200, decided.content

    task = wait_for_status(task_id, "awaiting_approval")
    assert task.stage_runs.filter(stage="research").count() == 1
    body = task_result(task)["body_markdown"]
    drafted = re.findall(r"^## (.+)$", body, re.MULTILINE)
    assert drafted[: len(outline)] == [section["heading"] for section in outline]
