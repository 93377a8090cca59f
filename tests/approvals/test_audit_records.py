"""The audit trail an auditor would accept: append-only in the ORM and in PostgreSQL,
every status change with who and why (the system user for what nobody asked for in a
request), no record for a save that changes nothing, and one decision however many
editors decide at once."""

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from approvals.models import AppendOnlyError, ApprovalDecision
from approvals.services import approval_decide
from contentpipeline.errors import InvalidTransition
from publishing.models import Post
from tasks.models import ContentTask
from tasks.runner import run_pipeline

from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


@pytest.fixture
def decision(editor):
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    record, _ = approval_decide(task_id=task.pk, reviewer=editor, approved=False,
                                feedback="Too short")  # fmt: skip
    return record


def unchanged(record: ApprovalDecision) -> bool:
    stored = ApprovalDecision.objects.values().get(pk=record.pk)
    return stored["feedback"] == "Too short" and stored["decision"] == "rejected"


def test_saving_a_recorded_decision_again_is_refused(decision):
    decision.feedback = "Rewritten history"
    with pytest.raises(AppendOnlyError):
        decision.save()
    assert unchanged(decision)


def test_deleting_a_decision_is_refused(decision):
    with pytest.raises(AppendOnlyError):
        decision.delete()
    with pytest.raises(AppendOnlyError):
        ApprovalDecision.objects.filter(pk=decision.pk).delete()
    assert unchanged(decision)


def test_updating_decisions_through_a_queryset_is_refused(decision):
    with pytest.raises(AppendOnlyError):
        ApprovalDecision.objects.filter(pk=decision.pk).update(feedback="x")
    with pytest.raises(AppendOnlyError):
        ApprovalDecision.objects.bulk_update([decision], ["feedback"])
    assert unchanged(decision)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE approvals_approvaldecision SET feedback = 'forged' WHERE id = %s",
        "DELETE FROM approvals_approvaldecision WHERE id = %s",
    ],
)
def test_postgresql_itself_refuses_to_change_a_decision(decision, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement, [decision.pk])
    assert unchanged(decision)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tasks_historicalcontenttask SET history_change_reason = 'forged' WHERE id = %s",
        "DELETE FROM tasks_historicalcontenttask WHERE id = %s",
    ],
)
def test_postgresql_refuses_to_change_a_tasks_history(decision, statement):
    reasons = list(decision.task.history.values_list("history_change_reason", flat=True))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement, [decision.task_id])
    assert list(decision.task.history.values_list("history_change_reason", flat=True)) == reasons


def test_every_status_change_has_who_and_why_the_pipelines_by_the_system_user(editor):
    owner = UserFactory()
    task = ContentTaskFactory(created_by=owner)
    assert run_pipeline(task.pk) == "done"
    approval_decide(task_id=task.pk, reviewer=editor, approved=True)
    history = task.history.order_by("history_date").select_related("history_user")
    status_changes = []
    for record in history:
        if not status_changes or status_changes[-1][0] != record.status:
            who = record.history_user.username if record.history_user else None
            status_changes.append((record.status, who, record.history_change_reason))
    assert status_changes[1:] == [
        ("in_progress", "system", "pipeline started"),
        ("awaiting_approval", "system", "pipeline finished"),
        ("published", editor.username, f"approved by {editor.username}"),
    ]
    # The first record is the factory's row, written outside the services.
    assert all(record.history_user is not None for record in list(history)[1:])


def test_a_save_that_changes_nothing_writes_no_history_record(editor):
    from tasks.services import task_claim, task_release_lease

    task = ContentTaskFactory(status="in_progress")
    before = task.history.count()
    claim = task_claim(task_id=task.pk)  # takes the lease only: nothing a reader sees
    task_release_lease(task_id=task.pk, lease_id=claim.lease_id)
    assert task.history.count() == before
    assert ContentTask.objects.get(pk=task.pk).status == "in_progress"


def test_a_scheduled_publication_is_in_the_history_by_the_system_user(editor):
    from datetime import timedelta

    from django.utils import timezone

    from publishing.services import post_publish_due

    task = ContentTaskFactory()
    run_pipeline(task.pk)
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True,
                              publish_at=timezone.now() + timedelta(hours=1))  # fmt: skip
    Post.objects.filter(pk=post.pk).update(published_at=timezone.now() - timedelta(seconds=1))
    assert post_publish_due() == 1
    last = task.history.order_by("-history_date").select_related("history_user").first()
    assert (last.status, last.history_user.username, last.history_change_reason) == (
        "published", "system", "scheduled post published")  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_twenty_editors_approving_one_draft_at_once_make_one_decision_and_one_post():
    editors = [UserFactory(editor=True) for _ in range(20)]
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    start = threading.Barrier(len(editors))
    outcomes: list[str] = []

    def approve(editor) -> None:
        try:
            start.wait()
            approval_decide(task_id=task.pk, reviewer=editor, approved=True)
            outcomes.append("approved")
        except InvalidTransition:
            outcomes.append("409")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(editor,)) for editor in editors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["409"] * 19 + ["approved"]
    assert ApprovalDecision.objects.filter(task=task).count() == 1
    assert Post.objects.filter(task=task).count() == 1
    reasons = [h.history_change_reason or "" for h in task.history.all()]
    approved = [reason for reason in reasons if reason.startswith("approved")]
    assert len(approved) == 1
