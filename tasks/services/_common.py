"""What the services share: locking a task, saving a change with who and why."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from contentpipeline.errors import NotFound
from contentpipeline.roles import system_user

from ..events import broadcast_on_commit
from ..models import ContentTask

# The fields whose changes are history records (the lease and bookkeeping are not).
_UNTRACKED = {"heartbeat_at", "lease_id", "dispatched_at", "lost_runs", "updated_at"}
TRACKED_FIELDS = tuple(
    field.attname for field in ContentTask._meta.concrete_fields if field.name not in _UNTRACKED
)


def _snapshot(task: ContentTask) -> dict:
    return {name: getattr(task, name) for name in TRACKED_FIELDS}


def lock(task_id, *, alive: bool = True) -> ContentTask | None:
    """The task's row, locked until the transaction ends; None if there is none (or
    the id is malformed)."""
    tasks = ContentTask.objects.alive() if alive else ContentTask.objects.all()
    try:
        task = tasks.select_for_update().filter(pk=task_id).first()
    except (ValueError, ValidationError):
        return None
    if task is not None:
        task._as_loaded = _snapshot(task)
    return task


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
    """Save the change as a history record, who (the system user when no one asked for
    it) and why, and broadcast it after commit. A save that changes no tracked field
    (only the lease, say) writes no history record."""
    loaded = getattr(task, "_as_loaded", None)
    unchanged = loaded is not None and loaded == _snapshot(task)
    if unchanged:
        task.skip_history_when_saving = True  # simple-history checks that it exists
    task._history_user = user or system_user()
    task._change_reason = reason
    try:
        task.save(update_fields=update_fields)
    finally:
        if unchanged:
            del task.skip_history_when_saving
    task._as_loaded = _snapshot(task)
    broadcast_on_commit(task, message, image=image)
    return task
