from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import ContentTask
from tasks.tasks import dispatch_waiting_tasks

from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


def age(task, seconds: int, **fields) -> None:
    ContentTask.objects.filter(pk=task.pk).update(
        updated_at=timezone.now() - timedelta(seconds=seconds), **fields
    )


def test_the_dispatcher_resends_pending_tasks_nobody_picked_up(settings, outbox):
    settings.PIPELINE_DISPATCH_GRACE = 60
    forgotten = ContentTaskFactory()
    age(forgotten, 120)
    fresh = ContentTaskFactory()  # just created: its own message is still on the way
    assert outbox.runs() == []
    assert dispatch_waiting_tasks() == 1
    assert outbox.runs() == [str(forgotten.pk)]
    assert ContentTask.objects.get(pk=forgotten.pk).dispatched_at is not None
    assert ContentTask.objects.get(pk=fresh.pk).dispatched_at is None


def test_the_dispatcher_resends_running_tasks_whose_lease_expired(settings):
    settings.PIPELINE_LEASE_SECONDS = 60
    orphan = ContentTaskFactory(status="in_progress")
    age(orphan, 0, heartbeat_at=timezone.now() - timedelta(seconds=61))
    alive = ContentTaskFactory(status="in_progress")
    age(alive, 0, heartbeat_at=timezone.now() - timedelta(seconds=50))
    assert dispatch_waiting_tasks() == 1
    # A longer lease: the same silence is no longer a lost run.
    settings.PIPELINE_LEASE_SECONDS = 120
    age(orphan, 0, heartbeat_at=timezone.now() - timedelta(seconds=61), dispatched_at=None)
    assert dispatch_waiting_tasks() == 0


def test_the_dispatcher_leaves_deleted_and_finished_tasks_alone(settings):
    settings.PIPELINE_DISPATCH_GRACE = 60
    age(ContentTaskFactory(deleted_at=timezone.now()), 120)
    age(ContentTaskFactory(status="awaiting_approval"), 120)
    assert dispatch_waiting_tasks() == 0


def test_a_waiting_task_is_sent_again_at_most_once_per_grace_period(settings):
    settings.PIPELINE_DISPATCH_GRACE = 60
    task = ContentTaskFactory()
    age(task, 120)
    assert dispatch_waiting_tasks() == 1
    assert dispatch_waiting_tasks() == 0  # still waiting behind a backlog, say
    ContentTask.objects.filter(pk=task.pk).update(
        dispatched_at=timezone.now() - timedelta(seconds=61)
    )
    assert dispatch_waiting_tasks() == 1


def test_a_lost_run_goes_to_the_front_of_the_queue(settings):
    import uuid

    from contentpipeline.celery import app as celery_app
    from tasks.metrics import broker_queue_lengths

    settings.CELERY_TASK_DEFAULT_QUEUE = f"dispatch-{uuid.uuid4().hex[:6]}"
    settings.PIPELINE_LEASE_SECONDS = 10
    orphan = ContentTaskFactory(status="in_progress", priority="low")
    age(orphan, 0, heartbeat_at=timezone.now() - timedelta(seconds=300))
    try:
        assert dispatch_waiting_tasks() == 1
        assert broker_queue_lengths() == {"urgent": 1, "high": 0, "normal": 0, "low": 0}
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


def test_an_owner_at_the_cap_is_left_to_their_runs_ending_not_sent_again(settings):
    from tasks.services import task_claim

    settings.MAX_RUNS_PER_USER = 1
    settings.PIPELINE_DISPATCH_GRACE = 60
    running = ContentTaskFactory()
    waiting = ContentTaskFactory(created_by=running.created_by)
    others = ContentTaskFactory()
    assert task_claim(task_id=running.pk, in_turn=True).task == running
    for task in (waiting, others):
        age(task, 120)
    # The other owner's task is sent again; the capped owner's waits for their run to
    # end, which sends a run for it (it would only be spent now).
    assert dispatch_waiting_tasks() == 1
    assert ContentTask.objects.get(pk=others.pk).dispatched_at is not None
    assert ContentTask.objects.get(pk=waiting.pk).dispatched_at is None
    settings.MAX_RUNS_PER_USER = 0
    assert dispatch_waiting_tasks() == 1
