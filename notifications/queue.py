"""Handing notifications' work to the Celery queue, by the tasks' registered names (so
the services need not import the Celery tasks that call them).

Both go to the deliveries' queue (`tasks.queue.delivery_queue`, the webhook
deliveries' worker), never the pipeline's: a notification is a delivery to a person,
and neither waits behind a backlog of runs nor takes a run's thread. The fan-out (who
is told of a status change) is a few queries; each e-mail waits on a mail server
outside, so a slow or silent one holds a delivery thread, never a pipeline run's, and
never the request or run that made the change."""

import logging
from datetime import datetime

from contentpipeline.celery import app
from tasks.queue import delivery_queue

logger = logging.getLogger(__name__)

NOTIFY_STATUS_CHANGE_TASK = "notifications.tasks.notify_status_change"
SEND_EMAIL_TASK = "notifications.tasks.send_notification_email"


def send_status_change(
    *, task_id: str, old_status: str | None, new_status: str, at: datetime, user_id: int | None
) -> bool:
    """Queue the notifications of a status change; False (one log line) when the broker
    cannot be reached: they are lost, the change is not."""
    try:
        app.send_task(
            NOTIFY_STATUS_CHANGE_TASK,
            args=[task_id, old_status, new_status, at.isoformat(), user_id],
            queue=delivery_queue(),
            retry=True,
        )
    except Exception as exc:
        logger.warning("Broker unreachable (%s: %s); task %s's %s notifications are lost",
                       exc.__class__.__name__, exc, task_id, new_status)  # fmt: skip
        return False
    return True


def send_emails(notification_ids: list[int]) -> list[int]:
    """Queue one e-mail per notification on the deliveries' queue; returns those sent."""
    sent = []
    try:
        with app.producer_or_acquire() as producer:
            for notification_id in notification_ids:
                app.send_task(
                    SEND_EMAIL_TASK, args=[notification_id], queue=delivery_queue(),
                    retry=True, producer=producer,
                )  # fmt: skip
                sent.append(notification_id)
    except Exception as exc:
        logger.warning("Broker unreachable (%s: %s); %d notification e-mails not queued",
                       exc.__class__.__name__, exc, len(notification_ids) - len(sent))  # fmt: skip
    return sent
