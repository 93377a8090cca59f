"""Writes on content tasks. Admin, API and Celery all come through here."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from .events import broadcast_on_commit
from .models import ContentTask, Priority, Quality, Style, TaskType, Tone
from .queue import enqueue_on_commit


@transaction.atomic
def task_create(
    *,
    user: AbstractBaseUser,
    topic: str,
    task_type: str = TaskType.BLOG_POST,
    keywords: list[str] | None = None,
    primary_keyword: str = "",
    target_audience: str = "",
    category: str = "",
    tone: str = Tone.PROFESSIONAL,
    style: str = Style.EDUCATIONAL,
    target_length: int = 800,
    generate_image: bool = True,
    quality_preference: str = Quality.BALANCED,
    priority: str = Priority.NORMAL,
) -> ContentTask:
    """Store a validated task as `pending` and queue it once the row is committed."""
    task = ContentTask(
        created_by=user,
        topic=topic,
        task_type=task_type,
        keywords=list(keywords or []),
        primary_keyword=primary_keyword or (keywords[0] if keywords else ""),
        target_audience=target_audience,
        category=category,
        tone=tone,
        style=style,
        target_length=target_length,
        generate_image=generate_image,
        quality_preference=quality_preference,
        priority=priority,
    )
    task.full_clean()
    task._change_reason = "created"
    task.save()
    broadcast_on_commit(task, "Task queued")
    enqueue_on_commit(task)
    return task
