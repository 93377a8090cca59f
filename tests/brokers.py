"""Pointing this process's Celery app at another broker, for the tests of a broker that is
down or hangs: the one place the tests reach into Celery's private names.

Celery has no public way to change a running app's broker: `conf.broker_url` is read
when the app's connection pool (`app.pool`) and the producer pool on it are first made,
and both are kept. Setting them to None makes the next send build new pools for the new
URL; the old ones are left to the garbage collector, as code elsewhere may hold them."""

from contentpipeline.celery import app as celery_app


def use_broker(url: str) -> None:
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
