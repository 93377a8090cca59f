"""Celery beat jobs of publishing."""

from celery import shared_task

from .services import post_publish_due


@shared_task
def publish_due_posts() -> int:
    return post_publish_due()
