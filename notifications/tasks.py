"""Celery tasks: interfaces only; they take ids and call a service."""

import logging
import smtplib
from datetime import datetime

from celery import shared_task
from celery.exceptions import Retry
from django.conf import settings
from django.db import DatabaseError

from tasks.queue import delivery_queue

from .queue import NOTIFY_STATUS_CHANGE_TASK, SEND_EMAIL_TASK
from .services import notification_email_deliver, notifications_for_status_change

logger = logging.getLogger(__name__)

# An e-mail's attempts after the first, the first retry EMAIL_RETRY_WAIT seconds later
# (a minute by default) and each wait twice the one before (about 30 minutes in all): a
# mail server down for a while still gets the mail, one that never comes back costs a
# log line.
EMAIL_MAX_RETRIES = 5


@shared_task(
    bind=True, name=NOTIFY_STATUS_CHANGE_TASK, acks_late=True, max_retries=3,
    soft_time_limit=60, time_limit=90,
)  # fmt: skip
def notify_status_change(
    self, task_id: str, old_status: str | None, new_status: str, at: str, user_id: int | None
) -> int:
    """Tell who must hear of a committed status change (safe to run twice: each
    recipient is told once per change)."""
    try:
        made = notifications_for_status_change(
            task_id=task_id, old_status=old_status, new_status=new_status,
            at=datetime.fromisoformat(at), user_id=user_id,
        )  # fmt: skip
    except DatabaseError as exc:
        raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
    return len(made)


@shared_task(
    bind=True, name=SEND_EMAIL_TASK, acks_late=True, max_retries=EMAIL_MAX_RETRIES,
    # Enforced by the prefork pool; under threads each step of the send is bounded by
    # EMAIL_TIMEOUT (the SMTP connection's timeout) instead.
    soft_time_limit=120, time_limit=150,
)  # fmt: skip
def send_notification_email(self, notification_id: int) -> bool:
    """One attempt at a notification's e-mail. A server that refuses, fails or stays
    silent past EMAIL_TIMEOUT gets the attempt again later (exponential backoff, on the
    deliveries' queue) until the attempts run out, then one log line."""
    try:
        return notification_email_deliver(notification_id=notification_id)
    except (smtplib.SMTPException, OSError) as exc:  # a timeout is an OSError
        if self.request.retries >= self.max_retries:
            logger.error("Notification %s not mailed after %d attempts (%s: %s)",
                         notification_id, self.request.retries + 1,
                         exc.__class__.__name__, exc)  # fmt: skip
            return False
        logger.warning("Notification %s not mailed (%s: %s); trying again",
                       notification_id, exc.__class__.__name__, exc)  # fmt: skip
        try:
            raise self.retry(
                exc=exc, countdown=settings.EMAIL_RETRY_WAIT * 2**self.request.retries,
                queue=delivery_queue(),
            ) from exc  # fmt: skip
        except Retry:
            raise
        except Exception as broker_exc:  # broker unreachable: this mail is lost
            logger.warning("Could not schedule the next attempt of notification %s (%s)",
                           notification_id, broker_exc)  # fmt: skip
            return False
