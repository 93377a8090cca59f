"""Celery: the queues, the workers' pool, the broker's timeouts, the periodic jobs,
and the runner's leases and fair shares that the workers keep to.

Production gets workers of 100 threads each on the `content` queue (webhook
deliveries on a queue and worker of their own), and no cap on one owner's runs.
"""

from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from contentpipeline.queues import DEFAULT_QUEUE

from .base import env

CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default=DEFAULT_QUEUE)
# The queue a worker consumes unless told otherwise (`-Q`): the pipeline's alone. Webhook
# deliveries go to a queue of their own (`content.webhooks`, declared when first used),
# which only the deliveries' worker consumes (`worker_command(deliveries=True)`): a
# receiver that keeps its deliveries waiting never takes a pipeline run's thread, and a
# backlog of deliveries never sits in front of a run nor counts in the queue's depth.
CELERY_TASK_QUEUES = [
    Queue(
        CELERY_TASK_DEFAULT_QUEUE,
        Exchange(CELERY_TASK_DEFAULT_QUEUE),
        routing_key=CELERY_TASK_DEFAULT_QUEUE,
    )
]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
BROKER_TIMEOUT = env.float("BROKER_TIMEOUT", default=3.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "queue_order_strategy": "priority",
    "priority_steps": list(range(10)),
    # kombu waits forever on a broker that hangs without closing the connection (a
    # frozen server, a dropped route): a publish from an API request would never end.
    # Longer than kombu's 1 s blocking pop, which the worker's event loop reads anyway.
    "socket_timeout": BROKER_TIMEOUT,
    "socket_connect_timeout": BROKER_TIMEOUT,
}
# The database row is the truth: a publish that fails is retried briefly, then the
# periodic dispatcher picks the task up, so the API never hangs on a lost broker.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A pipeline task spends its time waiting on providers (a model call is seconds of
# network wait), so a worker runs tasks in threads: one process keeps WORKER_CONCURRENCY
# tasks' calls in flight on one core (a host runs one per core: WORKER_PROCESSES in
# devtools/processes.py). Every worker reads these (`make run`, the compose file, the
# tests and benches); `celery worker -P/-c` still override them.
# The threads pool does not enforce Celery's time limits: a stage past
# PIPELINE_STAGE_TIME_LIMIT stops renewing its lease, and the dispatcher hands the task
# to a new run (see tasks/runner.py).
WORKER_POOLS = ("threads", "prefork", "solo")
CELERY_WORKER_POOL = env.str("WORKER_POOL", default="threads")
if CELERY_WORKER_POOL not in WORKER_POOLS:
    raise ImproperlyConfigured(
        f"WORKER_POOL={CELERY_WORKER_POOL!r} is unknown; use one of {', '.join(WORKER_POOLS)}"
    )
CELERY_WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", default=100)
if CELERY_WORKER_CONCURRENCY < 1:
    raise ImproperlyConfigured("WORKER_CONCURRENCY is at least 1")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "dispatch-waiting-tasks": {
        "task": "tasks.tasks.dispatch_waiting_tasks",
        "schedule": env.float("DISPATCH_INTERVAL", default=30.0),
    },
    "dispatch-waiting-webhooks": {
        "task": "tasks.tasks.dispatch_waiting_webhooks",
        "schedule": env.float("DISPATCH_INTERVAL", default=30.0),
    },
    # Reviews due within REVIEW_REMINDER_BEFORE: their editors are reminded, once.
    "remind-due-reviews": {
        "task": "tasks.tasks.remind_due_reviews",
        "schedule": env.float("REVIEW_REMINDER_INTERVAL", default=60.0),
    },
    "publish-due-posts": {
        "task": "publishing.tasks.publish_due_posts",
        "schedule": 60.0,
    },
    # Posts whose expiry date has come go off the site (through the workflow: their
    # tasks move back to approved).
    "unpublish-expired-posts": {
        "task": "approvals.tasks.unpublish_expired_posts",
        "schedule": 60.0,
    },
}
PIPELINE_STAGE_TIME_LIMIT = env.int("PIPELINE_STAGE_TIME_LIMIT", default=600)
PIPELINE_DISPATCH_GRACE = env.int("PIPELINE_DISPATCH_GRACE", default=60)
# A running task whose heartbeat is older than this is taken to be lost and run again;
# the runner renews the heartbeat every third of it, also in the middle of a stage.
PIPELINE_LEASE_SECONDS = env.float("PIPELINE_LEASE_SECONDS", default=60.0)
# Runs of a task lost in a row (worker killed, hard time limit) before it is failed.
PIPELINE_MAX_LOST_RUNS = env.int("PIPELINE_MAX_LOST_RUNS", default=3)
# Runs of one owner's tasks in flight at once (0: no cap). Within a priority, owners take
# turns whatever the cap; the cap also keeps one owner's backlog from filling every slot.
MAX_RUNS_PER_USER = env.int("MAX_RUNS_PER_USER", default=0)
if MAX_RUNS_PER_USER < 0:
    raise ImproperlyConfigured("MAX_RUNS_PER_USER is 0 (no cap) or more")
