"""Celery tasks: interfaces only; they take ids and call the pipeline or a service."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from contentpipeline.pipeline import StageFailed, fail_task, lease, run_pipeline

from .models import ContentTask, Status
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
        return run_pipeline(task_id, resume_running=self.request.retries > 0)
    except StageFailed as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
        fail_task(task_id, str(exc))
        return "failed"


@shared_task
def dispatch_waiting_tasks() -> int:
    """Send again what the queue lost: pending tasks nobody claimed within the grace
    period, and running tasks whose worker stopped renewing its lease."""
    now = timezone.now()
    waiting = ContentTask.objects.alive().filter(
        status=Status.PENDING,
        updated_at__lt=now - timedelta(seconds=settings.PIPELINE_DISPATCH_GRACE),
    )
    orphaned = ContentTask.objects.alive().filter(
        Q(heartbeat_at__lt=now - lease()) | Q(heartbeat_at__isnull=True),
        status=Status.IN_PROGRESS,
    )
    count = 0
    for task in list(waiting) + list(orphaned):
        if enqueue(task.id, task.celery_priority):
            count += 1
    if count:
        logger.info("Dispatched %d waiting task(s) again", count)
    return count
