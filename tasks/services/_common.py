"""What the services share: locking a task, saving a change with who and why."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from contentpipeline.errors import NotFound

from ..events import broadcast_on_commit
from ..models import ContentTask


def lock(task_id, *, alive: bool = True) -> ContentTask | None:
    """The task's row, locked until the transaction ends; None if there is none (or
    the id is malformed)."""
    tasks = ContentTask.objects.alive() if alive else ContentTask.objects.all()
    try:
        return tasks.select_for_update().filter(pk=task_id).first()
    except (ValueError, ValidationError):
        return None


def lock_or_404(task_id) -> ContentTask:
    task = lock(task_id)
    if task is None:
        raise NotFound("Task not found.")
    return task


def save(
    task: ContentTask,
    *,
    reason: str,
    message: str,
    user: AbstractBaseUser | None = None,
    update_fields: list[str] | None = None,
    image: bool | None = None,
) -> ContentTask:
    """Save the change as a history record (who, why) and broadcast it after commit."""
    task._history_user = user
    task._change_reason = reason
    task.save(update_fields=update_fields)
    broadcast_on_commit(task, message, image=image)
    return task
