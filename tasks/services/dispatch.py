"""Handing runs to the queue. The row is the truth: what could not be sent, or was
lost with a worker, is sent again by `task_dispatch_waiting` on every beat."""

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import RECOVERY_PRIORITY, ContentTask
from ..queue import send_runs
from ..selectors import task_ids_to_dispatch

logger = logging.getLogger(__name__)


def task_dispatch(*, task_id, priority: int) -> bool:
    """Send one run of the task to the queue and note when; False when the broker is
    unreachable (the task stays as it is for the dispatcher)."""
    return bool(task_dispatch_many(runs=[(task_id, priority)]))


def task_dispatch_many(*, runs: Iterable[tuple[Any, int]]) -> int:
    """Send one run of each (task id, priority) over one broker connection, then note
    when in one UPDATE; returns how many were sent. What the broker refused stays as it
    is for the dispatcher."""
    sent = send_runs(runs)
    if sent:
        # Bookkeeping only, outside any transaction and without a history row.
        ContentTask.objects.filter(pk__in=sent).update(dispatched_at=timezone.now())
    return len(sent)


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
    count = task_dispatch_many(runs=waiting)
    if count == len(waiting):  # else the broker is down: the lost runs wait for the next beat
        count += task_dispatch_many(runs=[(task_id, RECOVERY_PRIORITY) for task_id in lost])
    if count:
        logger.info("Dispatched %d waiting task(s) again", count)
    return count
