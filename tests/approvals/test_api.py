import pytest

from approvals.models import ApprovalDecision
from publishing.models import Post
from tasks.models import ContentTask
from tasks.runner import run_pipeline

from ..tasks.factories import ContentTaskFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


@pytest.fixture
def drafted_task(integrator):
    """A task that went through the real (offline) pipeline, in this process."""
    task = ContentTaskFactory(created_by=integrator)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    return task


def test_an_editor_approving_publishes_a_post(editor_client, editor, drafted_task):
    response = editor_client.post(
        f"/api/tasks/{drafted_task.pk}/approval",
        {"approved": True, "feedback": "Ship it"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["approval_status"] == "approved" and body["reviewer"] == editor.username
    post = Post.objects.get(task=drafted_task)
    assert body["post"]["slug"] == post.slug
    drafted_task.refresh_from_db()
    assert drafted_task.status == "published"
    decision = ApprovalDecision.objects.get(task=drafted_task)
    assert decision.reviewer == editor and decision.feedback == "Ship it"


def test_a_non_editor_approving_answers_403(integrator_client, drafted_task):
    response = integrator_client.post(
        f"/api/tasks/{drafted_task.pk}/approval", {"approved": True}, format="json"
    )
    assert response.status_code == 403
    drafted_task.refresh_from_db()
    assert drafted_task.status == "awaiting_approval"
    assert not Post.objects.exists() and not ApprovalDecision.objects.exists()


def test_approving_twice_answers_409(editor_client, drafted_task):
    url = f"/api/tasks/{drafted_task.pk}/approval"
    assert editor_client.post(url, {"approved": True}, format="json").status_code == 200
    second = editor_client.post(url, {"approved": True}, format="json")
    assert second.status_code == 409
    assert "awaiting approval" in second.json()["detail"]
    assert Post.objects.count() == 1 and ApprovalDecision.objects.count() == 1


def test_approving_a_task_still_running_answers_409(editor_client):
    task = ContentTaskFactory(status="in_progress")
    response = editor_client.post(
        f"/api/tasks/{task.pk}/approval", {"approved": True}, format="json"
    )
    assert response.status_code == 409
    assert ContentTask.objects.get(pk=task.pk).status == "in_progress"


def test_rejecting_stores_the_feedback_and_publishes_nothing(editor_client, drafted_task):
    response = editor_client.post(
        f"/api/tasks/{drafted_task.pk}/approval",
        {"approved": False, "feedback": "Too generic; add examples."},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["approval_status"] == "rejected"
    drafted_task.refresh_from_db()
    assert drafted_task.status == "rejected"
    assert drafted_task.feedback == "Too generic; add examples."
    assert not Post.objects.exists()


def test_rejecting_without_feedback_answers_400(editor_client, drafted_task):
    response = editor_client.post(
        f"/api/tasks/{drafted_task.pk}/approval", {"approved": False}, format="json"
    )
    assert response.status_code == 400
    drafted_task.refresh_from_db()
    assert drafted_task.status == "awaiting_approval"


def test_an_approval_without_a_decision_answers_400(editor_client, drafted_task):
    response = editor_client.post(f"/api/tasks/{drafted_task.pk}/approval", {}, format="json")
    assert response.status_code == 400 and "approved" in response.json()


def test_approving_an_unknown_task_answers_404(editor_client):
    import uuid

    url = f"/api/tasks/{uuid.uuid4()}/approval"
    assert editor_client.post(url, {"approved": True}, format="json").status_code == 404


def test_rejecting_with_regenerate_requeues_the_task_with_the_feedback(editor_client, drafted_task):
    response = editor_client.post(
        f"/api/tasks/{drafted_task.pk}/approval",
        {"approved": False, "feedback": "Mention rainfall statistics.", "regenerate": True},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["approval_status"] == "changes_requested"
    drafted_task.refresh_from_db()
    assert drafted_task.status == "pending" and drafted_task.generation == 2
    assert run_pipeline(drafted_task.pk) == "done"
    drafted_task.refresh_from_db()
    assert drafted_task.status == "awaiting_approval"
    assert drafted_task.stage_runs.filter(generation=2, stage="draft").count() == 1


def test_a_decision_records_the_ip_it_came_from_and_the_text_it_decided(
    editor_client, drafted_task
):
    from tasks.pipeline.text import content_hash
    from tasks.selectors import task_result

    decided_text = content_hash(task_result(drafted_task))
    editor_client.post(f"/api/tasks/{drafted_task.pk}/approval", {"approved": True},
                       format="json", REMOTE_ADDR="198.51.100.23")  # fmt: skip
    decision = ApprovalDecision.objects.get(task=drafted_task)
    assert decision.request_ip == "198.51.100.23"
    assert decision.content_hash == decided_text
