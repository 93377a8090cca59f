"""Celery tasks: interfaces only; they take ids and call the runner or a service."""

import logging
import smtplib

from celery import shared_task
from celery.exceptions import Retry
from django.conf import settings

from .queue import (
    DELIVER_WEBHOOK_TASK,
    RUN_PIPELINE_TASK,
    SEND_REVIEW_REMINDER_TASK,
    delivery_queue,
)
from .runner import StageFailed, run_pipeline
from .services import task_dispatch_waiting, task_fail
from .services.deadlines import review_reminder_deliver, task_remind_due_reviews
from .services.webhooks import webhook_deliver, webhook_dispatch_waiting

logger = logging.getLogger(__name__)

MAX_RETRIES = 3
# A reminder's attempts after the first, waiting REMINDER_RETRY_WAIT seconds, doubled
# each time (about 15 minutes in all), for an SMTP server that is down or slow.
REMINDER_MAX_RETRIES = 4
REMINDER_RETRY_WAIT = 60


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


@shared_task
def remind_due_reviews() -> int:
    """Mark reviews due soon and queue their reminders (see `task_remind_due_reviews`)."""
    return len(task_remind_due_reviews())


@shared_task(
    bind=True, name=SEND_REVIEW_REMINDER_TASK, acks_late=True, max_retries=REMINDER_MAX_RETRIES
)
def send_review_reminder(self, task_id: str) -> int:
    """One task's review reminder e-mail. Each attempt waits on the server for at most
    EMAIL_TIMEOUT a step; a server that fails or does not answer gets the attempt again
    later, on the deliveries' queue, until the attempts run out (then a log line)."""
    try:
        return review_reminder_deliver(task_id=task_id)
    except (smtplib.SMTPException, OSError) as exc:  # a timeout is an OSError
        if self.request.retries >= self.max_retries:
            logger.error(
                "Review reminder of task %s not sent after %d attempts (%s: %s)",
                task_id, self.request.retries + 1, exc.__class__.__name__, exc,
            )  # fmt: skip
            return 0
        wait = REMINDER_RETRY_WAIT * 2**self.request.retries
        raise self.retry(exc=exc, countdown=wait, queue=delivery_queue()) from exc
