from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import ContentTask
from tasks.tasks import dispatch_waiting_tasks

from ..factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


def age(task, seconds: int, **fields) -> None:
    ContentTask.objects.filter(pk=task.pk).update(
        updated_at=timezone.now() - timedelta(seconds=seconds), **fields
    )


def test_the_dispatcher_resends_pending_tasks_nobody_picked_up(settings):
    settings.PIPELINE_DISPATCH_GRACE = 60
    forgotten = ContentTaskFactory()
    age(forgotten, 120)
    ContentTaskFactory()  # just created: its own message is still on the way
    assert dispatch_waiting_tasks() == 1


def test_the_dispatcher_resends_running_tasks_whose_lease_expired(settings):
    settings.PIPELINE_STAGE_TIME_LIMIT = 10
    orphan = ContentTaskFactory(status="in_progress")
    age(orphan, 0, heartbeat_at=timezone.now() - timedelta(seconds=300))
    alive = ContentTaskFactory(status="in_progress")
    age(alive, 0, heartbeat_at=timezone.now())
    assert dispatch_waiting_tasks() == 1


def test_the_dispatcher_leaves_deleted_and_finished_tasks_alone(settings):
    settings.PIPELINE_DISPATCH_GRACE = 60
    age(ContentTaskFactory(deleted_at=timezone.now()), 120)
    age(ContentTaskFactory(status="awaiting_approval"), 120)
    assert dispatch_waiting_tasks() == 0
