"""Celery beat jobs of the approval workflow."""

from celery import shared_task

from .services import post_expire_due


@shared_task
def unpublish_expired_posts() -> int:
    return post_expire_due()
