"""Handing runs to the Celery queue. The database row is the truth: a message that
cannot be sent is logged, and the periodic dispatcher sends it later.

Messages are sent by the task's registered name, so this module needs neither the
Celery task module nor the services that the task calls."""

import logging

from django.conf import settings

from contentpipeline.celery import app

logger = logging.getLogger(__name__)

RUN_PIPELINE_TASK = "tasks.tasks.run_pipeline_task"


def send_run(task_id, priority: int) -> bool:
    """Put one run of the task on the queue; False (and one log line) when the broker
    cannot be reached."""
    try:
        app.send_task(
            RUN_PIPELINE_TASK,
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
    return True
