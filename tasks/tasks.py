"""Celery tasks: interfaces only; they take ids and call the runner or a service."""

import logging

from celery import shared_task
from celery.exceptions import Retry
from django.conf import settings

from .queue import DELIVER_WEBHOOK_TASK, RUN_PIPELINE_TASK, delivery_queue
from .runner import StageFailed, run_pipeline
from .services import task_dispatch_waiting, task_fail
from .services.webhooks import webhook_deliver, webhook_dispatch_waiting

logger = logging.getLogger(__name__)

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
        # The message is a ticket for one run: the task whose turn it is runs.
        return run_pipeline(task_id, worker=self.request.hostname or "", in_turn=True)
    except StageFailed as exc:
        # The task that was run, which may not be the one named: the retry names it, and
        # its claim serves it first.
        ran = str(exc.task_id or task_id)
        if not exc.final and self.request.retries < self.max_retries:
            raise self.retry(args=[ran], exc=exc, countdown=2**self.request.retries) from exc
        task_fail(task_id=ran, error=str(exc))
        return "failed"


@shared_task
def dispatch_waiting_tasks() -> int:
    """Send again what the queue lost (see `task_dispatch_waiting`)."""
    return task_dispatch_waiting()


@shared_task(bind=True, name=DELIVER_WEBHOOK_TASK, acks_late=True, max_retries=None)
def deliver_webhook(self, delivery_id: int, attempt: int = 1) -> None:
    """One attempt of a webhook delivery; the next one, if any, is this task retried
    with the wait the service gives (exponential backoff), on the deliveries' queue.
    The attempts are counted in the delivery's row, which caps them."""
    wait = webhook_deliver(delivery_id=delivery_id, attempt=attempt)
    if wait is None:
        return
    try:
        raise self.retry(args=[delivery_id, attempt + 1], countdown=wait, queue=delivery_queue())
    except Retry:
        raise
    except Exception as exc:  # broker unreachable: the dispatcher sends it once overdue
        logger.warning("Could not schedule attempt %d of webhook delivery %s (%s: %s)",
                       attempt + 1, delivery_id, exc.__class__.__name__, exc)  # fmt: skip


@shared_task
def dispatch_waiting_webhooks() -> int:
    """Send again overdue webhook deliveries (see `webhook_dispatch_waiting`)."""
    return webhook_dispatch_waiting()
