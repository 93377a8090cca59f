"""Celery tasks: interfaces only; they take ids and call the pipeline or a service."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from contentpipeline.pipeline import StageFailed, fail_task, lease, run_pipeline

from .models import RECOVERY_PRIORITY, ContentTask, Status
from .queue import enqueue

logger = logging.getLogger(__name__)

MAX_RETRIES = 3


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=settings.PIPELINE_STAGE_TIME_LIMIT * 5,
    time_limit=settings.PIPELINE_STAGE_TIME_LIMIT * 5 + 60,
)
def run_pipeline_task(self, task_id: str) -> str:
    try:
        return run_pipeline(task_id)
    except StageFailed as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
        fail_task(task_id, str(exc))
        return "failed"


@shared_task
def dispatch_waiting_tasks() -> int:
    """Send again what the queue lost: pending tasks nobody claimed within the grace
    period, and running tasks whose worker stopped renewing its lease (these go to the
    front of the queue). A task is sent again at most once per grace period (lease
    period for lost runs), so one only waiting behind a backlog does not pile up copies."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.PIPELINE_DISPATCH_GRACE)
    expired = now - lease()
    waiting = ContentTask.objects.alive().filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=grace),
        status=Status.PENDING,
        updated_at__lt=grace,
    )
    orphaned = ContentTask.objects.alive().filter(
        Q(heartbeat_at__lt=expired) | Q(heartbeat_at__isnull=True),
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=expired),
        status=Status.IN_PROGRESS,
    )
    count = 0
    for task in waiting:
        count += enqueue(task.id, task.celery_priority)
    for task in orphaned:
        count += enqueue(task.id, RECOVERY_PRIORITY)
    if count:
        logger.info("Dispatched %d waiting task(s) again", count)
    return count
