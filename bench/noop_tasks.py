"""A bare Celery no-op task: the baseline of bench/queue_overhead.py.

A worker loads it with `--include bench.noop_tasks`. It records, in a Redis list, when
it was sent and when the worker started it, and does nothing else. The list lives in the
broker's Redis database, not the cache's: the test suite clears the cache database
before each test, and may run at the same time on the same Redis.
"""

import functools
import time

import redis
from celery import shared_task
from django.conf import settings


@functools.cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


@shared_task(ignore_result=True)
def noop(key: str, sent_at: float) -> None:
    started = time.time()
    _redis().rpush(key, f"{sent_at!r} {started!r}")
