"""Handing runs to the queue. The row is the truth: what could not be sent, or was
lost with a worker, is sent again by `task_dispatch_waiting` on every beat."""

import logging

from django.db import transaction
from django.utils import timezone

from ..models import RECOVERY_PRIORITY, ContentTask
from ..queue import send_run
from ..selectors import task_ids_to_dispatch

logger = logging.getLogger(__name__)


def task_dispatch(*, task_id, priority: int) -> bool:
    """Send one run of the task to the queue and note when; False when the broker is
    unreachable (the task stays as it is for the dispatcher)."""
    if not send_run(task_id, priority):
        return False
    # Bookkeeping only, outside any transaction and without a history row.
    ContentTask.objects.filter(pk=task_id).update(dispatched_at=timezone.now())
    return True


def enqueue_on_commit(task: ContentTask) -> None:
    """Queue a run of the task once the surrounding transaction commits."""
    task_id, priority = task.id, task.celery_priority
    transaction.on_commit(lambda: task_dispatch(task_id=task_id, priority=priority))


def task_dispatch_waiting() -> int:
    """Send again what the queue lost: pending tasks nobody claimed within the grace
    period, and running tasks whose worker stopped renewing its lease (these go to the
    front of the queue). A task is sent again at most once per grace period (lease
    period for lost runs), so one only waiting behind a backlog does not pile up
    copies. Returns how many messages were sent."""
    waiting, lost = task_ids_to_dispatch(now=timezone.now())
    count = 0
    for task_id, priority in waiting:
        count += task_dispatch(task_id=task_id, priority=priority)
    for task_id in lost:
        count += task_dispatch(task_id=task_id, priority=RECOVERY_PRIORITY)
    if count:
        logger.info("Dispatched %d waiting task(s) again", count)
    return count
