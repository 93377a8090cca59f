"""The names of the Celery queues, in plain Python: the settings (CELERY_QUEUE's
default), tasks.queue and the development tools that start the workers read them, the
last before Django is configured."""

# The pipeline's queue unless CELERY_QUEUE names another.
DEFAULT_QUEUE = "content"


def webhook_queue(queue: str) -> str:
    """The queue of webhook deliveries beside the pipeline's `queue`, consumed by the
    deliveries' worker alone, so a delivery never takes a pipeline run's thread."""
    return f"{queue}.webhooks"
