"""Celery tasks: interfaces only; they take ids and call the runner or a service."""

from celery import shared_task
from django.conf import settings

from .queue import RUN_PIPELINE_TASK
from .runner import StageFailed, run_pipeline
from .services import task_dispatch_waiting, task_fail

MAX_RETRIES = 3


@shared_task(
    bind=True,
    name=RUN_PIPELINE_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    # Enforced by the prefork pool only. Under the threads pool (the default) a stage
    # past PIPELINE_STAGE_TIME_LIMIT stops renewing its lease instead (runner.Heartbeat).
    soft_time_limit=settings.PIPELINE_STAGE_TIME_LIMIT * 5,
    time_limit=settings.PIPELINE_STAGE_TIME_LIMIT * 5 + 60,
)
def run_pipeline_task(self, task_id: str) -> str:
    try:
        return run_pipeline(task_id, worker=self.request.hostname or "")
    except StageFailed as exc:
        if not exc.final and self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
        task_fail(task_id=task_id, error=str(exc))
        return "failed"


@shared_task
def dispatch_waiting_tasks() -> int:
    """Send again what the queue lost (see `task_dispatch_waiting`)."""
    return task_dispatch_waiting()
