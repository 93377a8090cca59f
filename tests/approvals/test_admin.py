import pytest
from django.urls import reverse

from approvals.models import ApprovalDecision
from publishing.models import Post
from tasks.models import ContentTask
from tasks.runner import run_pipeline
from tasks.selectors import task_content_hash, task_result

from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory
from .desk import bulk_decide, decide_at_desk

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


@pytest.fixture
def staff_editor(client):
    from django.core.management import call_command

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    user = UserFactory(editor=True, is_staff=True)
    client.force_login(user)
    return user


def drafted(**kwargs) -> ContentTask:
    task = ContentTaskFactory(**kwargs)
    run_pipeline(task.pk)
    task.refresh_from_db()
    return task


def test_tasks_awaiting_approval_come_first_in_the_admin_list(client, staff_editor):
    waiting = drafted(topic="Waiting draft on urban beekeeping")
    ContentTaskFactory(topic="Newer pending task on pond life")
    page = client.get(reverse("admin:tasks_contenttask_changelist")).content.decode()
    assert page.index("Waiting draft on urban beekeeping") < page.index("Newer pending task")
    assert reverse("admin:tasks_contenttask_review", args=[waiting.pk]) in page


def test_an_editor_reads_the_draft_and_approves_it_in_admin(client, staff_editor):
    task = drafted(topic="Admin approval of a guide to hedgehogs")
    url = reverse("admin:tasks_contenttask_review", args=[task.pk])
    page = client.get(url)
    assert page.status_code == 200
    result = task_result(task)
    assert result["title"] in page.content.decode()
    assert "<h2>" in page.content.decode()  # the rendered draft, not raw markdown
    response = decide_at_desk(client, task, page.content.decode(), decision="approve",
                              feedback="Lovely")  # fmt: skip
    assert response.status_code == 302
    post = Post.objects.get(task=task)
    decision = ApprovalDecision.objects.get(task=task)
    assert decision.reviewer == staff_editor and decision.decision == "approved"
    assert client.get(post.get_absolute_url()).status_code == 200


def test_rejecting_in_admin_requires_feedback_and_stores_it(client, staff_editor):
    task = drafted(topic="Admin rejection of a guide to hedgehogs")
    assert decide_at_desk(client, task, decision="reject", feedback="").status_code == 200
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    decide_at_desk(client, task, decision="reject", feedback="Needs sources")
    task.refresh_from_db()
    assert task.status == "rejected" and task.feedback == "Needs sources"


def test_bulk_approve_publishes_each_selected_draft(client, staff_editor):
    tasks = [drafted(topic=f"Bulk approved piece {i} on moths") for i in range(2)]
    response = bulk_decide(client, "approve_selected", tasks)
    assert response.redirect_chain[0][1] == 302
    assert Post.objects.filter(task__in=tasks).count() == 2


def test_a_user_outside_editors_cannot_review(client):
    task = drafted(topic="Not for plain staff")
    plain_staff = UserFactory(is_staff=False)
    client.force_login(plain_staff)
    url = reverse("admin:tasks_contenttask_review", args=[task.pk])
    response = client.post(url, {"decision": "approve", "expected_content_hash":
                                 task_content_hash(task)})  # fmt: skip
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Post.objects.exists()


def test_the_audit_trail_is_read_only_in_admin(client, staff_editor):
    task = drafted(topic="Audited draft about owls")
    decide_at_desk(client, task, decision="approve", feedback="ok")
    decision = ApprovalDecision.objects.get()
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    change = reverse("admin:approvals_approvaldecision_change", args=[decision.pk])
    client.post(change, {"feedback": "tampered"})
    delete = reverse("admin:approvals_approvaldecision_delete", args=[decision.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    decision.refresh_from_db()
    assert decision.feedback == "ok"


@pytest.mark.parametrize(
    ("action", "before", "after"),
    [
        ("pause_selected", "pending", "paused"),
        ("resume_selected", "paused", "pending"),
        ("cancel_selected", "in_progress", "cancelled"),
        ("retry_selected", "failed", "pending"),
    ],
)
def test_editors_control_tasks_from_admin_through_the_same_services(
    client, staff_editor, action, before, after
):
    tasks = ContentTaskFactory.create_batch(2, status=before)
    illegal = ContentTaskFactory(status="published")
    client.post(
        reverse("admin:tasks_contenttask_changelist"),
        {"action": action, "_selected_action": [str(t.pk) for t in [*tasks, illegal]]},
    )
    assert {t.status for t in ContentTask.objects.filter(pk__in=[t.pk for t in tasks])} == {after}
    illegal.refresh_from_db()
    assert illegal.status == "published"


def test_deleting_from_admin_is_soft(client, staff_editor):
    task = ContentTaskFactory(status="pending")
    client.post(
        reverse("admin:tasks_contenttask_changelist"),
        {"action": "delete_selected_softly", "_selected_action": [str(task.pk)]},
    )
    task.refresh_from_db()
    assert task.deleted_at is not None and task.status == "cancelled"


def log_in_through_the_form(client, user):
    """The admin's own login page, as a browser uses it (client.login would skip the
    form and its checks)."""
    return client.post(
        reverse("admin:login") + "?next=/admin/",
        {"username": user.username, "password": "a-long-test-password", "next": "/admin/"},
    )


def test_an_editor_who_is_not_staff_logs_in_and_decides_at_the_review_desk(client):
    editor = UserFactory(editor=True, is_staff=False)
    task = drafted(topic="Reviewed by an editor who is not staff")
    response = log_in_through_the_form(client, editor)
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200
    listing = client.get(reverse("admin:tasks_contenttask_changelist"))
    assert listing.status_code == 200
    assert "Reviewed by an editor who is not staff" in listing.content.decode()
    url = reverse("admin:tasks_contenttask_review", args=[task.pk])
    assert client.get(url).status_code == 200
    assert decide_at_desk(client, task, decision="approve", feedback="Good").status_code == 302
    decision = ApprovalDecision.objects.get(task=task)
    assert decision.reviewer == editor and Post.objects.filter(task=task).exists()


def test_staff_without_the_editor_role_cannot_use_the_review_desk(client, editor):
    from ..conftest import client_for

    staff = UserFactory(is_staff=True)
    task = drafted(topic="Not for staff who are not editors")
    client.force_login(staff)
    assert client.get(reverse("admin:index")).status_code == 200  # staff still log in
    url = reverse("admin:tasks_contenttask_review", args=[task.pk])
    assert client.get(url).status_code == 403
    form = {"decision": "approve", "expected_content_hash": task_content_hash(task)}
    assert client.post(url, form).status_code == 403
    assert client.get(reverse("admin:tasks_contenttask_changelist")).status_code == 403
    api = client_for(staff).post(f"/api/tasks/{task.pk}/approval", {"approved": True},
                                 format="json")  # fmt: skip
    assert api.status_code == 403
    task.refresh_from_db()
    assert task.status == "awaiting_approval" and not Post.objects.exists()


def test_a_user_who_is_neither_staff_nor_an_editor_cannot_log_into_admin(client):
    user = UserFactory()
    refused = log_in_through_the_form(client, user)
    assert refused.status_code == 200 and "staff member or an editor" in refused.content.decode()
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    # Even with a session of their own (logged in elsewhere), the admin stays shut.
    assert client.login(username=user.username, password="a-long-test-password")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_staff_who_are_not_editors_still_log_in_through_the_form(client):
    staff = UserFactory(is_staff=True)
    response = log_in_through_the_form(client, staff)
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_an_inactive_editor_cannot_log_in(client):
    editor = UserFactory(editor=True, is_active=False)
    assert log_in_through_the_form(client, editor).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_tasks_history_is_read_only_in_admin(client, staff_editor):
    task = drafted(topic="History that must not be rewritten")
    decide_at_desk(client, task, decision="approve", feedback="ok")
    task.refresh_from_db()
    assert task.status == "published"
    old = task.history.filter(status="awaiting_approval").first()
    url = reverse("admin:tasks_contenttask_simple_history", args=[task.pk, old.history_id])
    page = client.get(url)
    assert page.status_code == 200 and "Revert" not in page.content.decode()
    assert client.post(url, {"_continue": "1"}).status_code == 403
    change = reverse("admin:tasks_contenttask_change", args=[task.pk])
    assert client.post(change, {"topic": "rewritten"}).status_code == 403
    task.refresh_from_db()
    assert task.status == "published" and task.topic == "History that must not be rewritten"
    # The next decision is still refused with a clear 409, not a 500.
    from ..conftest import client_for

    answer = client_for(staff_editor).post(f"/api/tasks/{task.pk}/approval",
                                           {"approved": True}, format="json")  # fmt: skip
    assert answer.status_code == 409
