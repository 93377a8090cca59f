"""A task's review deadline (`due_at`): given at creation over the API or from a shell,
kept in the task and its history, and what the task list sorts and filters by."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tasks.models import ContentTask, Status

from ..factories import UserFactory
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_deadline_given_at_creation_comes_back_and_is_in_the_tasks_history(integrator_client):
    due = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    given = due.astimezone(timezone.get_fixed_timezone(120)).isoformat()  # +02:00
    response = integrator_client.post("/api/tasks", {"topic": "Pruning roses", "due_at": given})
    assert response.status_code == 201, response.content
    assert response.json()["due_at"] == iso(due)
    task_id = response.json()["id"]
    assert integrator_client.get(f"/api/tasks/{task_id}").json()["due_at"] == iso(due)
    task = ContentTask.objects.get(pk=task_id)
    assert task.due_at == due
    assert task.history.earliest().due_at == due


def test_a_task_without_a_deadline_has_none(integrator_client):
    response = integrator_client.post("/api/tasks", {"topic": "Pruning roses"})
    assert response.status_code == 201
    assert response.json()["due_at"] is None


@pytest.mark.parametrize("due_at", ["2020-01-01T09:00:00Z", "yesterday", "2026-13-01T00:00"])
def test_a_deadline_in_the_past_or_not_a_time_is_refused_and_nothing_is_created(
    integrator_client, due_at
):
    response = integrator_client.post("/api/tasks", {"topic": "Pruning roses", "due_at": due_at})
    assert response.status_code == 400, response.content
    assert "due_at" in response.json()
    assert not ContentTask.objects.exists()


def test_the_service_refuses_a_deadline_without_a_time_zone():
    from contentpipeline.errors import ApplicationError
    from tasks.services import task_create

    naive = datetime.now() + timedelta(days=1)  # noqa: DTZ005 - the case under test
    with pytest.raises(ApplicationError, match="time zone"):
        task_create(user=UserFactory(), topic="Pruning roses", due_at=naive)


def test_submit_takes_a_deadline_from_the_shell():
    user = UserFactory()
    due = datetime(2099, 5, 1, 15, 0, tzinfo=UTC)
    out = io.StringIO()
    call_command(
        "submit", "--topic", "Pruning roses", "--as", user.username,
        "--due-at", "2099-05-01T17:00+02:00", stdout=out,
    )  # fmt: skip
    assert ContentTask.objects.get(pk=out.getvalue().strip()).due_at == due
    with pytest.raises(CommandError, match="--due-at"):
        call_command("submit", "--topic", "Pruning roses", "--as", user.username,
                     "--due-at", "2001-01-01T00:00Z", stdout=io.StringIO())  # fmt: skip


def due_in(hours: float | None, **fields) -> ContentTask:
    due = None if hours is None else timezone.now() + timedelta(hours=hours)
    return ContentTaskFactory(due_at=due, **fields)


def test_the_task_list_orders_by_deadline_soonest_first_and_those_without_one_last(
    editor_client,
):
    later, none, soon, past = (
        due_in(48, status=Status.AWAITING_APPROVAL),
        due_in(None, status=Status.AWAITING_APPROVAL),
        due_in(2, status=Status.AWAITING_APPROVAL),
        due_in(-3, status=Status.AWAITING_PLAN),
    )
    ids = lambda body: [task["id"] for task in body["results"]]  # noqa: E731
    ascending = editor_client.get("/api/tasks", {"ordering": "due_at"}).json()
    assert ids(ascending) == [str(t.pk) for t in (past, soon, later, none)]
    descending = editor_client.get("/api/tasks", {"ordering": "-due_at"}).json()
    assert ids(descending) == [str(t.pk) for t in (later, soon, past, none)]


def test_the_overdue_filter_lists_tasks_awaiting_review_past_their_deadline(editor_client):
    overdue_draft = due_in(-1, status=Status.AWAITING_APPROVAL)
    overdue_plan = due_in(-1, status=Status.AWAITING_PLAN)
    due_in(-1, status=Status.PUBLISHED)  # decided in time or not: nothing waits on it
    due_in(-1, status=Status.IN_PROGRESS)  # no draft to review yet
    due_in(1, status=Status.AWAITING_APPROVAL)
    due_in(None, status=Status.AWAITING_APPROVAL)
    body = editor_client.get("/api/tasks", {"overdue": "true"}).json()
    assert {task["id"] for task in body["results"]} == {str(overdue_draft.pk), str(overdue_plan.pk)}
    others = editor_client.get("/api/tasks", {"overdue": "false"}).json()
    assert others["count"] == 4


def test_the_overdue_filter_lists_only_the_users_own_tasks(integrator, integrator_client):
    mine = due_in(-1, status=Status.AWAITING_APPROVAL, created_by=integrator)
    due_in(-1, status=Status.AWAITING_APPROVAL)
    body = integrator_client.get("/api/tasks", {"overdue": "true"}).json()
    assert [task["id"] for task in body["results"]] == [str(mine.pk)]
