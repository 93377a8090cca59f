"""What the services share: locking a task, saving a change with who and why.

Everything here is the ORM and simple-history's public API: a task's row is locked
with `select_for_update`, a change is saved with `save(update_fields=...)` (or the
`QuerySet.update` it makes, without its signals), and its history record, with who and
why, written by simple-history's `bulk_history_create` when a tracked field changed (a
lease renewal is no history record)."""

import datetime
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone

from contentpipeline.errors import NotFound
from contentpipeline.roles import SYSTEM_USERNAME, system_user

from ..events import broadcast_on_commit, default_message
from ..interfaces import StatusChange, announce_status_change, status_listeners
from ..models import ContentTask, StageRun, StageRunStatus, Status, Webhook
from .webhooks import webhook_deliveries_record

# The fields whose changes are history records (the lease and bookkeeping are not):
# those simple-history records for a task.
TRACKED_FIELDS = tuple(
    field.attname
    for field in ContentTask._meta.concrete_fields
    if field.name in {f.name for f in ContentTask.history.model._meta.concrete_fields}
)
FINISHED = (StageRunStatus.SUCCEEDED, StageRunStatus.SKIPPED)
# simple-history's manager of the tasks' records. `ContentTask.history` builds a new
# manager class at each access, as its post_save handler does for every record: a
# third of a save's cost, spared by writing the record with the manager's
# bulk_history_create (what bulk_update_with_history uses) on this one.
_HISTORY = ContentTask.history


def _snapshot(task: ContentTask) -> dict:
    return {name: getattr(task, name) for name in TRACKED_FIELDS}


@functools.cache
def _lock_reads() -> dict[str, Any]:
    """What a task's writes need, read in the same statement as its lock: whether its
    owner has an active webhook (a status change saved in the same transaction is a
    delivery to each, and for the usual owner with none this spares a probe of its
    own), and the system user's id, whom a run's changes are recorded as. Built once:
    the ORM copies an expression for each query it goes into."""
    system = get_user_model().objects.filter(username=SYSTEM_USERNAME).order_by()
    webhooks = Webhook.objects.filter(owner=OuterRef("created_by"), active=True)
    return {
        "owner_has_webhooks": Exists(webhooks),
        "system_user_id": Subquery(system.values("pk")[:1]),
    }


@functools.cache
def _locking(
    *,
    alive: bool,
    system: bool,
    outputs: bool = False,
    skip_locked: bool = False,
    no_key: bool = False,
    pending_in_turn: bool = False,
) -> QuerySet:
    """The tasks (the alive ones only, with `alive`), locked when read, with the lock's
    reads (the system user's id only with `system`, the finished outputs only with
    `outputs`). Built once per process, as a view's queryset is: each lock filters a
    clone of it, and annotating it anew for every lock cost more than the rest of the
    statement's building. With `pending_in_turn`, those tasks in turn
    (`ContentTaskQuerySet.pending_in_turn`)."""
    tasks = ContentTask.objects.alive() if alive else ContentTask.objects.all()
    if pending_in_turn:
        tasks = tasks.pending_in_turn()
    wanted = _lock_reads()
    if not system:
        wanted = {"owner_has_webhooks": wanted["owner_has_webhooks"]}
    if outputs:
        wanted = {**wanted, "finished_stage_outputs": _finished_read()}
    tasks = tasks.select_for_update(skip_locked=skip_locked, no_key=no_key)
    return (tasks if pending_in_turn else tasks.order_by()).annotate(**wanted)


def _finished_read() -> ArraySubquery:
    """The current generation's finished (or skipped) stage outputs, as (stage, output)
    objects, read in the same statement as a claim's lock. The lock's snapshot is as
    good as a read after it: a stage is recorded with the task locked and its heartbeat
    renewed, so a claim that waited for that lock finds a live run and takes nothing."""
    finished = StageRun.objects.filter(
        task=OuterRef("pk"), generation=OuterRef("generation"), status__in=FINISHED
    )
    return ArraySubquery(
        finished.order_by().values(item=JSONObject(stage="stage", output="output"))
    )


def _lockable(*, alive: bool = False, **options: bool) -> QuerySet:
    """`_locking`'s tasks for this thread: the system user's id is not read again once
    the run knows the user."""
    return _locking(alive=alive, system=not _run_user.get(), **options)


def _first_locked(locked: QuerySet) -> ContentTask | None:
    """The first row of `locked` (a `_lockable` queryset)."""
    for task in locked[:1]:
        task._as_loaded = _snapshot(task)
        return task
    return None


def _pk(task_id):
    try:
        return ContentTask._meta.pk.to_python(task_id)
    except (ValueError, ValidationError):
        return None


def lock(task_id, *, alive: bool = True, outputs: bool = False) -> ContentTask | None:
    """The task's row, locked until the transaction ends; None if there is none (or
    the id is malformed). With `outputs`, `finished_outputs` of it needs no query."""
    pk = _pk(task_id)
    if pk is None:
        return None
    return _first_locked(_lockable(alive=alive, outputs=outputs).filter(pk=pk))


@functools.cache
def _in_progress() -> QuerySet:
    return ContentTask.objects.filter(status=Status.IN_PROGRESS)


def lock_to_go_on(task_id, *, now: datetime.datetime) -> ContentTask | None:
    """The task's row, locked, if it is a run that must go on: in progress with no live
    run (a failed stage waiting for its retry, or a lost run). None otherwise, without
    locking or waiting for anything (a pending task is not locked)."""
    pk = _pk(task_id)
    if pk is None:
        return None
    # Asked for every run message, and a message usually names a pending task: whether
    # it is in progress at all is asked first, without reading (or locking) its row.
    # The lock below holds the whole condition; a task that was not in progress is not
    # found by it either.
    if not _in_progress().filter(pk=pk).exists():
        return None
    return _first_locked(_lockable(outputs=True).in_progress_without_live_run(now).filter(pk=pk))


def lock_next_in_turn(
    *, now: datetime.datetime, cap: int = 0, skip_locked: bool = True
) -> ContentTask | None:
    """The pending task whose turn it is (`ContentTaskQuerySet.in_turn`: priority, then
    turn, then age), locked; with a `cap`, none of an owner who has that many runs in
    flight. Rows that other transactions hold are passed over (`skip_locked`), or
    waited for. The lock does not block inserts that refer to the task (NO KEY)."""
    tasks = _lockable(
        pending_in_turn=True, outputs=True, skip_locked=skip_locked, no_key=True
    ).without_live_run(now)  # in_turn(now), its time-free part built once
    if cap:
        tasks = tasks.exclude(created_by__in=ContentTask.objects.owners_at_cap(now, cap))
    return _first_locked(tasks)


def finished_outputs(task: ContentTask) -> dict[str, dict[str, Any]]:
    """The current generation's finished (or skipped) stage outputs, by stage: as the
    claim's lock read them (`lock_to_go_on`, `lock_next_in_turn`, `lock(outputs=True)`),
    or else read now."""
    read = getattr(task, "finished_stage_outputs", None)
    if read is not None:
        return {item["stage"]: item["output"] or {} for item in read}
    finished = StageRun.objects.filter(
        task_id=task.pk, generation=task.generation, status__in=FINISHED
    ).values_list("stage", "output")
    return {stage: output or {} for stage, output in finished}


def lock_or_404(task_id) -> ContentTask:
    task = lock(task_id)
    if task is None:
        raise NotFound("Task not found.")
    return task


# Within a pipeline run (its thread), the system user once known: a run saves a dozen
# times, as the same user.
_run_user: ContextVar[list[AbstractBaseUser] | None] = ContextVar("run_user", default=None)


@contextmanager
def system_actor() -> Iterator[None]:
    """Changes saved within it, in this thread, that nobody asked for are recorded as
    the system user's, who is looked up at the first of them only."""
    token = _run_user.set([])
    try:
        yield
    finally:
        _run_user.reset(token)


def _system_user(task: ContentTask) -> AbstractBaseUser:
    """The system user: the run's, else the one whose id the task's lock read, else
    looked up (and made again if it went missing)."""
    known = _run_user.get()
    if known:
        return known[0]
    user_id = getattr(task, "system_user_id", None)
    if user_id is not None:
        # The history record keeps the user's key only: the row the lock found stands
        # for the user, without a query of its own.
        user = get_user_model()(pk=user_id, username=SYSTEM_USERNAME, is_active=False)
    else:
        user = system_user()
    if known is not None:
        known.append(user)
    return user


def _update(task: ContentTask, fields: list[str]) -> None:
    """Write the locked task's `fields` as `save(update_fields=fields)` would (each
    field's value before saving: `updated_at` is now), with one `QuerySet.update`: a
    model's save also sends pre_save and post_save, which nothing of ours receives, and
    simple-history's post_save would only be told to skip (`save` records the change)."""
    values = {name: ContentTask._meta.get_field(name).pre_save(task, False) for name in fields}
    if not ContentTask.objects.filter(pk=task.pk).update(**values):
        raise DatabaseError("Save with update_fields did not affect any rows.")


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
    (only the lease, say) writes no history record. A new task, or a changed status,
    is also a delivery to each of the owner's webhooks."""
    loaded = getattr(task, "_as_loaded", None)
    changed = loaded is None or loaded != _snapshot(task)
    adding = task._state.adding
    if update_fields and not adding:
        _update(task, update_fields)
    else:
        task.skip_history_when_saving = True  # recorded below, when a tracked field changed
        try:
            task.save(update_fields=update_fields)
        finally:
            del task.skip_history_when_saving
    if changed:
        _HISTORY.bulk_history_create(
            [task],
            update=not adding,
            default_user=user if user is not None else _system_user(task),
            default_change_reason=reason,
        )
    if adding or (loaded is not None and loaded["status"] != task.status):
        previous = None if adding else loaded["status"]
        webhook_deliveries_record(
            task=task,
            previous_status=previous,
            message=message or default_message(task),
            owner_has_webhooks=getattr(task, "owner_has_webhooks", None),
        )
        if status_listeners():
            change = StatusChange(
                task_id=str(task.pk), old_status=previous, new_status=task.status,
                at=timezone.now(), reason=reason, user_id=getattr(user, "pk", None),
            )  # fmt: skip
            # robust: what a listener raises never reaches the caller, whose change is
            # committed by then.
            transaction.on_commit(lambda: announce_status_change(change), robust=True)
    task._as_loaded = _snapshot(task)
    broadcast_on_commit(task, message, image=image)
    return task
