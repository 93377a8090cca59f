"""Pause, resume, cancel, retry, delete and bulk over the API: legal moves change the
task, illegal ones answer 409 and change nothing."""

import uuid

import pytest

from tasks.models import ContentTask, Status
from tasks.runner import run_pipeline

from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db

# The contract's transitions, written out independently of the status machine.
ACTIONS = {"pause": Status.PAUSED, "resume": Status.PENDING, "cancel": Status.CANCELLED,
           "retry": Status.PENDING}  # fmt: skip
FROM = {"pause": ["pending", "in_progress"], "resume": ["paused"],
        "cancel": ["pending", "in_progress", "paused"], "retry": ["failed"]}  # fmt: skip


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("status", [s.value for s in Status])
def test_each_action_is_legal_exactly_where_the_status_machine_says(
    integrator_client, integrator, action, status
):
    task = ContentTaskFactory(created_by=integrator, status=status)
    response = integrator_client.post(f"/api/tasks/{task.pk}/{action}")
    task.refresh_from_db()
    if status in FROM[action]:
        assert response.status_code == 200, response.content
        assert response.json()["status"] == ACTIONS[action] == task.status
    else:
        assert response.status_code == 409
        assert status in response.json()["detail"]
        assert task.status == status
        assert task.history.count() == 1  # nothing was written


def test_another_users_task_cannot_be_controlled(integrator_client):
    task = ContentTaskFactory(status="pending")
    assert integrator_client.post(f"/api/tasks/{task.pk}/cancel").status_code == 404
    assert integrator_client.delete(f"/api/tasks/{task.pk}").status_code == 404
    task.refresh_from_db()
    assert task.status == "pending" and task.deleted_at is None


def test_an_editor_may_control_any_task(editor_client):
    task = ContentTaskFactory(status="pending")
    assert editor_client.post(f"/api/tasks/{task.pk}/pause").json()["status"] == "paused"


def test_delete_is_soft_cancels_a_live_task_and_keeps_the_history(integrator_client, integrator):
    task = ContentTaskFactory(created_by=integrator, status="in_progress")
    assert integrator_client.delete(f"/api/tasks/{task.pk}").status_code == 204
    assert integrator_client.get(f"/api/tasks/{task.pk}").status_code == 404
    assert integrator_client.get("/api/tasks").json()["count"] == 0
    row = ContentTask.objects.get(pk=task.pk)
    assert row.deleted_at is not None and row.status == "cancelled"
    assert [h.history_change_reason for h in row.history.all()][0] == "deleted"
    assert integrator_client.delete(f"/api/tasks/{task.pk}").status_code == 404


def test_a_deleted_task_is_never_run():
    task = ContentTaskFactory(status="pending")
    ContentTask.objects.filter(pk=task.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert run_pipeline(task.pk) == "skipped"


def test_a_resumed_task_continues_at_the_first_unfinished_stage(integrator_client, integrator):
    task = ContentTaskFactory(created_by=integrator)
    run_pipeline(task.pk)
    finished = {r.stage: r.pk for r in task.stage_runs.filter(stage__in=["research", "draft"])}
    task.stage_runs.exclude(stage__in=["research", "draft"]).delete()
    ContentTask.objects.filter(pk=task.pk).update(status="paused", stage="review", progress=50)
    assert integrator_client.post(f"/api/tasks/{task.pk}/resume").status_code == 200
    assert run_pipeline(task.pk) == "done"
    runs = task.stage_runs.filter(status="succeeded")
    assert {r.stage: r.pk for r in runs if r.stage in finished} == finished
    assert runs.count() == 5


def test_bulk_gives_each_id_its_own_result(integrator_client, integrator):
    pending = ContentTaskFactory(created_by=integrator, status="pending")
    done = ContentTaskFactory(created_by=integrator, status="awaiting_approval")
    foreign = ContentTaskFactory(status="pending")
    missing = uuid.uuid4()
    response = integrator_client.post(
        "/api/tasks/bulk",
        {"action": "cancel",
         "task_ids": [str(pending.pk), str(done.pk), str(foreign.pk), str(missing), "junk"]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["ok"] for r in results] == [True, False, False, False, False]
    assert results[0] == {"task_id": str(pending.pk), "ok": True, "status": "cancelled",
                          "error": None}  # fmt: skip
    assert (
        results[1]["status"] == "awaiting_approval" and "awaiting_approval" in results[1]["error"]
    )
    assert results[2]["error"] == "Task not found." and results[4]["task_id"] == "junk"
    foreign.refresh_from_db()
    assert foreign.status == "pending"


@pytest.mark.parametrize(
    "payload",
    [
        {"action": "cancel", "task_ids": []},
        {"action": "cancel", "task_ids": [str(uuid.uuid4())] * 501},
        {"action": "explode", "task_ids": [str(uuid.uuid4())]},
        {"action": "cancel"},
        {"action": "cancel", "task_ids": "all"},
    ],
)
def test_a_bad_bulk_request_answers_400(integrator_client, payload):
    assert integrator_client.post("/api/tasks/bulk", payload, format="json").status_code == 400


def test_bulk_delete_and_pause(integrator_client, integrator):
    a, b = ContentTaskFactory.create_batch(2, created_by=integrator, status="pending")
    body = integrator_client.post(
        "/api/tasks/bulk", {"action": "pause", "task_ids": [str(a.pk)]}, format="json"
    ).json()
    assert body["results"][0]["status"] == "paused"
    body = integrator_client.post(
        "/api/tasks/bulk", {"action": "delete", "task_ids": [str(a.pk), str(b.pk)]}, format="json"
    ).json()
    assert all(r["ok"] for r in body["results"])
    assert ContentTask.objects.alive().count() == 0 and ContentTask.objects.count() == 2
