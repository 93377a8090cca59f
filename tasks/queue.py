"""Handing runs to the Celery queue. The database row is the truth: a message that
cannot be sent is logged, and the periodic dispatcher sends it later.

Messages are sent by the task's registered name, so this module needs neither the
Celery task module nor the services that the task calls. Webhook deliveries have a
queue and a worker of their own (`delivery_queue`, `size_deliveries_worker`)."""

import logging
from collections.abc import Iterable
from typing import Any

from celery.signals import worker_init
from django.conf import settings

from contentpipeline.celery import app
from contentpipeline.queues import webhook_queue

logger = logging.getLogger(__name__)

RUN_PIPELINE_TASK = "tasks.tasks.run_pipeline_task"
DELIVER_WEBHOOK_TASK = "tasks.tasks.deliver_webhook"
SEND_REVIEW_REMINDER_TASK = "tasks.tasks.send_review_reminder"


def send_run(task_id, priority: int, *, producer=None) -> bool:
    """Put one run on the queue, naming the task; False (and one log line) when the
    broker cannot be reached. The message is a ticket for one run: its claim runs the
    task whose turn it is, the named one only when that task's run must go on
    (services.runs.task_claim). `producer` (from `producer()`) sends over a connection
    already held, instead of taking one from the pool for this message."""
    try:
        app.send_task(
            RUN_PIPELINE_TASK,
            args=[str(task_id)],
            priority=priority,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            retry=True,
            producer=producer,
        )
    except Exception as exc:  # the dispatcher sends it later; one line per task is enough
        logger.warning(
            "Broker unreachable (%s: %s); task %s stays pending for the dispatcher",
            exc.__class__.__name__, exc, task_id,
        )  # fmt: skip
        return False
    return True


def send_runs(runs: Iterable[tuple[Any, int]]) -> list[Any]:
    """Put a run of each (task id, priority) on the queue over one broker connection;
    returns the ids sent. The first message the broker refuses ends the sending: the
    rest would wait out the same outage one by one, and the dispatcher sends them later."""
    sent = []
    try:
        with app.producer_or_acquire() as producer:
            for task_id, priority in runs:
                if not send_run(task_id, priority, producer=producer):
                    break
                sent.append(task_id)
    except Exception as exc:  # taking or giving back the pool's connection
        logger.warning("Broker unreachable (%s: %s)", exc.__class__.__name__, exc)
    return sent


def delivery_queue() -> str:
    """The queue of webhook deliveries, beside the pipeline's: only the deliveries'
    worker consumes it, so a delivery never takes a pipeline run's thread (nor a run a
    delivery's), and a backlog of deliveries never waits in front of a run."""
    return webhook_queue(settings.CELERY_TASK_DEFAULT_QUEUE)


@worker_init.connect(dispatch_uid="size-deliveries-worker")
def size_deliveries_worker(*, sender: Any, **kwargs: Any) -> None:
    """The deliveries' worker (one started on their queue: `-Q <CELERY_QUEUE>.webhooks`)
    runs a pool of WEBHOOK_CONCURRENCY threads, and consumes no other queue: it refuses
    to start with one beside it. So receivers that keep their deliveries waiting hold
    at most that pool, and never a pipeline run's thread. Celery sends `worker_init`
    once the worker has chosen its queues and concurrency, before it makes its pool."""
    consumed = set(sender.app.amqp.queues.consume_from)
    if delivery_queue() not in consumed:
        return
    if consumed != {delivery_queue()}:
        # Not an Exception: Celery logs those from a signal handler and goes on.
        raise SystemExit(
            f"The webhook deliveries' worker consumes {delivery_queue()} alone (-Q), not "
            f"{','.join(sorted(consumed))}: a pipeline run must never wait behind a delivery"
        )
    sender.concurrency = settings.WEBHOOK_CONCURRENCY
    logger.info("Webhook deliveries' worker: %d threads (WEBHOOK_CONCURRENCY)", sender.concurrency)


def send_deliveries(attempts: Iterable[tuple[int, int]]) -> list[int]:
    """Put each (delivery id, attempt number) on the deliveries' queue over one broker
    connection; returns the ids sent. What the broker refuses is logged once and left
    to the dispatcher (`webhook_dispatch_waiting`), which sends overdue deliveries."""
    sent = []
    try:
        with app.producer_or_acquire() as producer:
            for delivery_id, attempt in attempts:
                app.send_task(
                    DELIVER_WEBHOOK_TASK,
                    args=[delivery_id, attempt],
                    queue=delivery_queue(),
                    retry=True,
                    producer=producer,
                )
                sent.append(delivery_id)
    except Exception as exc:  # the dispatcher sends them later; one line is enough
        logger.warning(
            "Broker unreachable (%s: %s); webhook deliveries wait for the dispatcher",
            exc.__class__.__name__, exc,
        )  # fmt: skip
    return sent


def send_review_reminders(task_ids: Iterable[Any]) -> list[Any]:
    """Put the reminder e-mail of each task on the deliveries' queue (mail, like a
    webhook, waits on a server outside: a slow one holds a delivery's thread, never a
    pipeline run's), over one broker connection; returns the ids sent. What the broker
    refuses is logged once; the caller marks those tasks not reminded again."""
    sent = []
    try:
        with app.producer_or_acquire() as producer:
            for task_id in task_ids:
                app.send_task(
                    SEND_REVIEW_REMINDER_TASK,
                    args=[str(task_id)],
                    queue=delivery_queue(),
                    retry=True,
                    producer=producer,
                )
                sent.append(task_id)
    except Exception as exc:  # the next beat reminds again; one line is enough
        logger.warning(
            "Broker unreachable (%s: %s); review reminders wait for the next beat",
            exc.__class__.__name__, exc,
        )  # fmt: skip
    return sent
