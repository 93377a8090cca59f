"""Putting tasks on the Celery queue. The database row is the truth: a message that
cannot be sent is logged and the periodic dispatcher sends it later."""

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import ContentTask

logger = logging.getLogger(__name__)


def enqueue(task_id, priority: int) -> bool:
    from .tasks import run_pipeline_task

    try:
        run_pipeline_task.apply_async(
            args=[str(task_id)],
            priority=priority,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            retry=True,
        )
    except Exception as exc:  # the dispatcher sends it later; one line per task is enough
        logger.warning(
            "Broker unreachable (%s: %s); task %s stays pending for the dispatcher",
            exc.__class__.__name__, exc, task_id,
        )  # fmt: skip
        return False
    # Bookkeeping only, outside any transaction and without a history row.
    ContentTask.objects.filter(pk=task_id).update(dispatched_at=timezone.now())
    return True


def enqueue_on_commit(task: ContentTask) -> None:
    task_id, priority = task.id, task.celery_priority
    transaction.on_commit(lambda: enqueue(task_id, priority))
