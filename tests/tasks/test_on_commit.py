"""A task is queued and its change broadcast only once the transaction commits: a
rolled-back write sends nothing, and a worker never looks for a row it cannot see."""

import pytest

from tasks.models import ContentTask
from tasks.services import task_create, task_resume, task_retry

from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


def after_commit(outbox, django_capture_on_commit_callbacks, write):
    """Run `write` in a transaction; return (messages, events) seen before its commit
    callbacks ran, and after."""
    with django_capture_on_commit_callbacks() as callbacks:
        task = write()
    before = (outbox.messages(), outbox.events(wait=0.3))
    for callback in callbacks:
        callback()
    return task, before, (outbox.messages(), outbox.events())


def test_a_created_task_is_queued_and_announced_after_commit(
    outbox, django_capture_on_commit_callbacks, integrator
):
    task, before, after = after_commit(
        outbox, django_capture_on_commit_callbacks,
        lambda: task_create(user=integrator, topic="Composting in small gardens"),
    )  # fmt: skip
    assert before == (0, [])
    messages, events = after
    assert messages == 1
    assert [(e["task_id"], e["message"]) for e in events] == [(str(task.pk), "Task queued")]
    assert ContentTask.objects.get(pk=task.pk).dispatched_at is not None


def test_a_resumed_task_is_queued_and_announced_after_commit(
    outbox, django_capture_on_commit_callbacks, integrator
):
    paused = ContentTaskFactory(created_by=integrator, status="paused")
    _, before, after = after_commit(
        outbox, django_capture_on_commit_callbacks,
        lambda: task_resume(user=integrator, task_id=paused.pk),
    )  # fmt: skip
    assert before == (0, [])
    assert after[0] == 1
    assert [(e["status"], e["message"]) for e in after[1]] == [("pending", "Resumed")]


def test_a_retried_task_is_queued_and_announced_after_commit(
    outbox, django_capture_on_commit_callbacks, integrator
):
    failed = ContentTaskFactory(created_by=integrator, status="failed", error="boom")
    _, before, after = after_commit(
        outbox, django_capture_on_commit_callbacks,
        lambda: task_retry(user=integrator, task_id=failed.pk),
    )  # fmt: skip
    assert before == (0, [])
    assert after[0] == 1
    assert [(e["status"], e["message"]) for e in after[1]] == [("pending", "Retrying")]


def test_a_write_that_rolls_back_sends_nothing(outbox, integrator):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        task_create(user=integrator, topic="A task that never was")
        raise RuntimeError("the request failed after the write")
    assert outbox.messages() == 0
    assert outbox.events(wait=0.3) == []
    assert not ContentTask.objects.filter(topic="A task that never was").exists()
