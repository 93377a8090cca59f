"""Who is told what when a draft reaches review or is decided: the inbox's items and
the e-mails (Django's locmem outbox here; a real SMTP server on loopback in
test_delivery.py). The Celery work runs in this process, as a worker would run it."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from approvals.models import Workflow, WorkflowStep
from approvals.services import approval_decide, plan_decide
from notifications.models import Kind, Notification
from notifications.selectors import reviewer_group_names
from notifications.services import notification_settings_update
from notifications.tasks import notify_status_change
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


def drafted(capture, **fields):
    """A task run through the pipeline to awaiting_approval, its commit's work done."""
    task = ContentTaskFactory(generate_image=False, **fields)
    with capture(execute=True):
        assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


def test_the_default_workflow_and_a_plan_are_reviewed_by_editors():
    assert reviewer_group_names(ContentTaskFactory(status="awaiting_approval")) == ["Editors"]
    assert reviewer_group_names(ContentTaskFactory(status="awaiting_plan")) == ["Editors"]


def test_a_draft_approved_at_its_first_step_tells_the_next_steps_group_and_only_it(
    editors, queued, mailoutbox, django_capture_on_commit_callbacks
):
    legal = Group.objects.create(name="Legal")
    lawyer = UserFactory(email="lawyer@example.com")
    lawyer.groups.add(legal)
    workflow = Workflow.objects.create(name="Editorial and legal", category="Contracts")
    WorkflowStep.objects.create(workflow=workflow, position=1, name="Editorial",
                                group=Group.objects.get(name="Editors"))  # fmt: skip
    WorkflowStep.objects.create(workflow=workflow, position=2, name="Legal check", group=legal)
    task = drafted(django_capture_on_commit_callbacks, category="Contracts")
    queued.run()
    assert not Notification.objects.filter(recipient=lawyer).exists()  # not its step yet
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        approval_decide(task_id=task.pk, reviewer=editors[0], approved=True)
    queued.run()

    [told] = Notification.objects.filter(task=task, recipient=lawyer)
    assert told.kind == Kind.DRAFT_WAITING
    assert [m.to for m in mailoutbox] == [["lawyer@example.com"]]
    assert Notification.objects.filter(task=task).exclude(recipient=lawyer).count() == 3


def test_a_draft_awaiting_approval_tells_each_editor_in_the_inbox_and_mails_those_with_an_address(
    editors, queued, mailoutbox, django_capture_on_commit_callbacks
):
    outsider = UserFactory()  # not in Editors: told nothing
    task = drafted(django_capture_on_commit_callbacks)
    assert task.status == "awaiting_approval"
    queued.run()

    told = Notification.objects.filter(task=task)
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted(u.pk for u in editors)
    assert not Notification.objects.filter(recipient=outsider).exists()
    review = "http://localhost:8000" + reverse("admin:tasks_contenttask_review", args=[task.pk])
    assert {(n.kind, n.url) for n in told} == {(Kind.DRAFT_WAITING, review)}
    # The two with an address are mailed; the one without is not.
    assert sorted(m.to[0] for m in mailoutbox) == sorted(u.email for u in editors[:2])
    mail = mailoutbox[0]
    assert review in mail.body and task.topic in mail.subject
    body = task_result(task)["body_markdown"]
    for sentence in ("Because it helps.", "Step by step."):
        assert sentence in body and sentence not in mail.body + mail.subject
    assert told.filter(emailed_at__isnull=False).count() == 2


def test_the_fan_out_handled_twice_tells_each_editor_once(
    editors, queued, mailoutbox, django_capture_on_commit_callbacks
):
    task = drafted(django_capture_on_commit_callbacks)
    work = queued.take()
    assert [name for name, _ in work] == ["notifications.tasks.notify_status_change"]
    for _ in range(2):  # a message delivered again (acks_late) after a lost worker
        with django_capture_on_commit_callbacks(execute=True):
            notify_status_change.apply(args=work[0][1], throw=True)
    queued.run()
    assert Notification.objects.filter(task=task).count() == 3
    assert len(mailoutbox) == 2


def test_an_editor_who_turned_email_off_gets_the_inbox_item_and_no_mail(
    editors, queued, mailoutbox, django_capture_on_commit_callbacks
):
    quiet = editors[0]
    notification_settings_update(user=quiet, email_enabled=False)
    task = drafted(django_capture_on_commit_callbacks)
    queued.run()
    assert Notification.objects.filter(task=task, recipient=quiet).exists()
    assert [m.to for m in mailoutbox] == [[editors[1].email]]


def test_a_plan_awaiting_approval_tells_the_editors(
    editors, queued, mailoutbox, django_capture_on_commit_callbacks
):
    task = ContentTaskFactory(generate_image=False, review_plan=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_pipeline(task.pk) == "stopped"
    queued.run()
    kinds = set(Notification.objects.filter(task=task).values_list("kind", flat=True))
    assert kinds == {Kind.PLAN_WAITING}
    assert len(mailoutbox) == 2 and "Plan waiting" in mailoutbox[0].subject


@pytest.mark.parametrize(
    ("decision", "words"),
    [
        ({"approved": True}, "approved"),
        ({"approved": False, "feedback": "No."}, "rejected"),
        ({"approved": False, "feedback": "Shorter.", "regenerate": True}, "changes requested"),
    ],
)
def test_the_requester_is_mailed_the_decision_with_a_link_to_the_task(
    decision, words, editors, queued, mailoutbox, django_capture_on_commit_callbacks
):
    task = drafted(django_capture_on_commit_callbacks)
    queued.run()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        approval_decide(task_id=task.pk, reviewer=editors[0], **decision)
    ran = [name for name, _, _ in queued.run() if name.startswith("notifications.")]
    assert "notifications.tasks.notify_status_change" in ran

    owner_mail = [m for m in mailoutbox if m.to == [task.created_by.email]]
    assert len(owner_mail) == 1
    assert words in owner_mail[0].subject
    assert f"http://localhost:8000/api/tasks/{task.pk}" in owner_mail[0].body
    assert "Because it helps." not in owner_mail[0].body
    decision_items = Notification.objects.filter(task=task, kind=Kind.DECISION)
    assert list(decision_items.values_list("recipient_id", flat=True)) == [task.created_by_id]


def test_a_requester_who_decides_their_own_draft_is_not_told_of_it(
    editors, queued, mailoutbox, django_capture_on_commit_callbacks
):
    task = drafted(django_capture_on_commit_callbacks, created_by=editors[0])
    queued.run()
    with django_capture_on_commit_callbacks(execute=True):
        approval_decide(task_id=task.pk, reviewer=editors[0], approved=True)
    queued.run()
    assert not Notification.objects.filter(task=task, kind=Kind.DECISION).exists()


def test_a_superuser_outside_editors_is_not_told_of_every_draft(
    editors, queued, django_capture_on_commit_callbacks
):
    boss = UserFactory(is_superuser=True, is_staff=True)
    Group.objects.get_or_create(name="Legal")
    drafted(django_capture_on_commit_callbacks)
    queued.run()
    assert not Notification.objects.filter(recipient=boss).exists()


def test_a_plan_decision_tells_the_requester_nothing(
    editors, queued, mailoutbox, django_capture_on_commit_callbacks
):
    task = ContentTaskFactory(generate_image=False, review_plan=True)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_pipeline(task.pk) == "stopped"
    queued.run()
    with django_capture_on_commit_callbacks(execute=True):
        plan_decide(task_id=task.pk, reviewer=editors[0], approved=True)
    queued.run()
    assert not Notification.objects.filter(recipient=task.created_by).exists()
