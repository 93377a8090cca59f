"""Writes on content tasks. Admin, API and Celery all come through here."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contentpipeline.errors import ApplicationError, NotFound
from contentpipeline.roles import is_editor

from .events import broadcast_on_commit
from .models import ACTIONS, ContentTask, Priority, Quality, Style, TaskType, Tone
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


def _lock_for_user(*, user, task_id) -> ContentTask:
    """The task, locked, if the user may control it (owner or editor); NotFound
    otherwise, so a stranger cannot learn that the id exists."""
    try:
        task = ContentTask.objects.alive().select_for_update().filter(pk=task_id).first()
    except (ValueError, ValidationError):
        task = None
    if task is None or not (task.created_by_id == user.pk or is_editor(user)):
        raise NotFound("Task not found.")
    return task


def _save(task: ContentTask, user, reason: str, message: str) -> ContentTask:
    task._history_user = user
    task._change_reason = reason
    task.save()
    broadcast_on_commit(task, message)
    return task


@transaction.atomic
def task_pause(*, user, task_id) -> ContentTask:
    """pending | in_progress -> paused. A running task finishes the stage it is in
    (its output is kept) and starts no further one; its run keeps the lease until
    then, so a resume does not start a second run beside it."""
    task = _lock_for_user(user=user, task_id=task_id)
    task.act("pause")
    return _save(task, user, "paused", "Paused")


@transaction.atomic
def task_resume(*, user, task_id) -> ContentTask:
    """paused -> pending, queued again; the run continues at the first stage that had
    not finished (a run still in its stage goes on by itself)."""
    task = _lock_for_user(user=user, task_id=task_id)
    task.act("resume")
    _save(task, user, "resumed", "Resumed")
    enqueue_on_commit(task)
    return task


@transaction.atomic
def task_cancel(*, user, task_id) -> ContentTask:
    """pending | in_progress | paused -> cancelled (terminal); a running task stops
    before its next stage."""
    task = _lock_for_user(user=user, task_id=task_id)
    task.act("cancel")
    task.completed_at = timezone.now()
    return _save(task, user, "cancelled", "Cancelled")


@transaction.atomic
def task_retry(*, user, task_id) -> ContentTask:
    """failed -> pending, queued again from the stage that failed."""
    task = _lock_for_user(user=user, task_id=task_id)
    task.act("retry")
    task.error = ""
    task.lost_runs = 0
    task.completed_at = None
    _save(task, user, "retried", "Retrying")
    enqueue_on_commit(task)
    return task


@transaction.atomic
def task_delete(*, user, task_id) -> ContentTask:
    """Soft delete: the task leaves every listing and answers 404, the row and its
    history stay for the audit trail. A task that may still run is cancelled first."""
    task = _lock_for_user(user=user, task_id=task_id)
    if task.status in ACTIONS["cancel"][1]:
        task.act("cancel")
        task.completed_at = timezone.now()
    task.deleted_at = timezone.now()
    return _save(task, user, "deleted", "Deleted")


BULK_ACTIONS = {
    "cancel": task_cancel,
    "pause": task_pause,
    "resume": task_resume,
    "delete": task_delete,
}


def task_bulk(*, user, task_ids: list, action: str) -> list[dict]:
    """Apply one action to many tasks, each in its own transaction: one bad id gets
    its own error and does not stop the others."""
    service = BULK_ACTIONS[action]
    results = []
    for task_id in task_ids:
        try:
            task = service(user=user, task_id=task_id)
        except ApplicationError as exc:
            status = exc.extra.get("status")
            results.append({"task_id": str(task_id), "ok": False, "status": status,
                            "error": exc.message})  # fmt: skip
        else:
            results.append({"task_id": str(task.pk), "ok": True, "status": task.status,
                            "error": None})  # fmt: skip
    return results
