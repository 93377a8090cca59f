"""What the services share: locking a task, saving a change with who and why."""

import datetime
import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, transaction
from django.db.models import Exists, Field, OuterRef, QuerySet, Subquery
from django.utils import timezone

from contentpipeline.database import bound_cursor
from contentpipeline.errors import NotFound
from contentpipeline.roles import SYSTEM_USERNAME, system_user

from ..events import broadcast_on_commit, default_message
from ..models import ContentTask, StageRun, StageRunStatus, Status, Webhook, lease_period
from .webhooks import webhook_deliveries_record

# The fields whose changes are history records (the lease and bookkeeping are not).
_UNTRACKED = {
    "heartbeat_at", "lease_id", "dispatched_at", "lost_runs", "queue_rank", "queue_turn",
    "updated_at",
}  # fmt: skip
TRACKED_FIELDS = tuple(
    field.attname for field in ContentTask._meta.concrete_fields if field.name not in _UNTRACKED
)


def _snapshot(task: ContentTask) -> dict:
    return {name: getattr(task, name) for name in TRACKED_FIELDS}


class Statement(NamedTuple):
    """A query the ORM compiled once, run again with other parameters (`run`)."""

    sql: str
    # The ORM's conversions of the values it reads: (column, (converters, expression)).
    converters: list[tuple[int, tuple[list[Callable], Any]]]

    @classmethod
    def compile(cls, queryset: QuerySet, params: tuple) -> "Statement":
        """`queryset` compiled, checked to take exactly `params` in that order (the
        placeholders `run` gets its values for)."""
        compiler = queryset.query.get_compiler(DEFAULT_DB_ALIAS)
        with transaction.atomic():  # the compiler refuses FOR UPDATE outside a transaction
            sql, compiled_params = compiler.as_sql()
        if tuple(compiled_params) != params:
            raise ValueError(f"{sql!r} takes {compiled_params!r}, not {params!r}")
        columns = [column for column, _, _ in compiler.select]
        return cls(sql, list(compiler.get_converters(columns).items()))

    def run(self, params: list) -> list[list]:
        """The rows, each value converted as the ORM converts it."""
        connection = transaction.get_connection()
        with bound_cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = [list(row) for row in cursor.fetchall()]
        for row in rows:
            for column, (converters, expression) in self.converters:
                for converter in converters:
                    row[column] = converter(row[column], expression, connection)
        return rows


# The hot reads of the services, compiled once per process. Each write on a task starts
# with locking it, a run reads its finished stages and saves as the system user; through
# querysets these cost 1,000-1,500 Python calls each (compiling a select of the task's
# thirty-odd columns, and the like), most of a pipeline step's own work, for statements
# that never change.
_ANY_ID = uuid.UUID(int=0)
FINISHED = (StageRunStatus.SUCCEEDED, StageRunStatus.SKIPPED)


# Whether the task's owner has an active webhook, read with the lock: a status change
# saved in the same transaction is a delivery to each, and for the usual owner with
# none this spares the pipeline a probe of its own for every change.
_OWNER_HAS_WEBHOOKS = Exists(Webhook.objects.filter(owner=OuterRef("created_by"), active=True))
# The parameters of the lock's two reads beside the task (EXISTS selects a constant of
# its own); the task's id follows them.
_LOCK_READS_PARAMS = (1, SYSTEM_USERNAME)
_TASK_COLUMNS = len(ContentTask._meta.concrete_fields)


def _with_lock_reads(locked: QuerySet) -> QuerySet:
    # And the system user's id, whom a run's changes are recorded as: read with the
    # lock too rather than in a statement of its own.
    system = get_user_model().objects.filter(username=SYSTEM_USERNAME).order_by()
    return locked.annotate(
        owner_has_webhooks=_OWNER_HAS_WEBHOOKS,
        system_user_id=Subquery(system.values("pk")[:1]),
    )


@functools.cache
def _lock_statement(alive: bool) -> Statement:
    tasks = ContentTask.objects.alive() if alive else ContentTask.objects.all()
    locked = tasks.select_for_update().filter(pk=_ANY_ID).order_by()
    return Statement.compile(_with_lock_reads(locked), (*_LOCK_READS_PARAMS, _ANY_ID))


# Stand-ins the statements below are compiled with (each run gives the real values).
_ANY_TIME = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
_ANY_CAP = 999_999


@functools.cache
def _go_on_statement() -> Statement:
    tasks = ContentTask.objects.in_progress_without_live_run(_ANY_TIME)
    locked = tasks.select_for_update().filter(pk=_ANY_ID).order_by()
    fresh = _ANY_TIME - lease_period()
    params = (*_LOCK_READS_PARAMS, Status.IN_PROGRESS, fresh, _ANY_ID)
    return Statement.compile(_with_lock_reads(locked), params)


@functools.cache
def _next_in_turn_statement(*, capped: bool, skip_locked: bool) -> Statement:
    tasks = ContentTask.objects.in_turn(_ANY_TIME)
    fresh = _ANY_TIME - lease_period()
    params: tuple = (*_LOCK_READS_PARAMS, Status.PENDING, fresh)
    if capped:
        tasks = tasks.exclude(created_by__in=ContentTask.objects.owners_at_cap(_ANY_TIME, _ANY_CAP))
        params += (Status.IN_PROGRESS, fresh, _ANY_CAP)
    locked = tasks.select_for_update(skip_locked=skip_locked, no_key=True)[:1]
    return Statement.compile(_with_lock_reads(locked), params)


@functools.cache
def _outputs_statement() -> Statement:
    finished = (
        StageRun.objects.filter(task_id=_ANY_ID).filter(generation=0).filter(status__in=FINISHED)
    )
    return Statement.compile(finished.values_list("stage", "output"), (_ANY_ID, 0, *FINISHED))


def lock(task_id, *, alive: bool = True) -> ContentTask | None:
    """The task's row, locked until the transaction ends; None if there is none (or
    the id is malformed)."""
    try:
        pk = ContentTask._meta.pk.to_python(task_id)
    except (ValueError, ValidationError):
        return None
    return _locked_task(_lock_statement(alive).run([*_LOCK_READS_PARAMS, pk]))


def _locked_task(rows: list[list]) -> ContentTask | None:
    if not rows:
        return None
    row = rows[0]
    task = ContentTask.from_db(transaction.get_connection().alias, None, row[:_TASK_COLUMNS])
    task._as_loaded = _snapshot(task)
    task._owner_has_webhooks, task._system_user_id = row[_TASK_COLUMNS:]
    return task


def lock_to_go_on(task_id, *, now: datetime.datetime) -> ContentTask | None:
    """The task's row, locked, if it is a run that must go on: in progress with no live
    run (a failed stage waiting for its retry, or a lost run). None otherwise, without
    locking or waiting for anything (a pending task is not locked)."""
    try:
        pk = ContentTask._meta.pk.to_python(task_id)
    except (ValueError, ValidationError):
        return None
    fresh = now - lease_period()
    rows = _go_on_statement().run([*_LOCK_READS_PARAMS, Status.IN_PROGRESS, fresh, pk])
    return _locked_task(rows)


def lock_next_in_turn(
    *, now: datetime.datetime, cap: int = 0, skip_locked: bool = True
) -> ContentTask | None:
    """The pending task whose turn it is (`ContentTaskQuerySet.in_turn`), locked; with
    a `cap`, none of an owner who has that many runs in flight. Rows that other
    transactions hold are passed over (`skip_locked`), or waited for."""
    fresh = now - lease_period()
    params: list = [*_LOCK_READS_PARAMS, Status.PENDING, fresh]
    if cap:
        params += [Status.IN_PROGRESS, fresh, cap]
    statement = _next_in_turn_statement(capped=bool(cap), skip_locked=skip_locked)
    return _locked_task(statement.run(params))


def finished_outputs(task: ContentTask) -> dict[str, dict[str, Any]]:
    """The current generation's finished (or skipped) stage outputs, by stage."""
    rows = _outputs_statement().run([task.pk, task.generation, *FINISHED])
    return {stage: output or {} for stage, output in rows}


# Within a pipeline run (its thread), the system user's id once known: a run saves a
# dozen times, as the same user.
_run_user: ContextVar[list[int] | None] = ContextVar("run_user", default=None)


@contextmanager
def system_actor() -> Iterator[None]:
    """Changes saved within it, in this thread, that nobody asked for are recorded as
    the system user's, whose id is read at the first of them only."""
    token = _run_user.set([])
    try:
        yield
    finally:
        _run_user.reset(token)


def _system_user_id(task: ContentTask) -> int:
    """The system user's id: the run's, else as the task's lock read it, else looked up
    (and made again if it went missing)."""
    known = _run_user.get()
    if known:
        return known[0]
    user_id = getattr(task, "_system_user_id", None)
    if user_id is None:
        user_id = system_user().pk
    if known is not None:
        known.append(user_id)
    return user_id


# The two writes of a service's save, compiled once per process. Through the ORM a
# pipeline step's save compiles an UPDATE of the changed fields, then simple-history
# builds a history model instance and compiles the INSERT of its thirty-odd columns:
# about 60% of a step's Python, for statements that never change. The values are
# prepared by the same fields the ORM would use (`pre_save`, `get_db_prep_save`), and
# tests/tasks/test_history_records.py holds both writes to the rows the ORM and
# simple-history write, and keeps the task's save signals, which these skip, without
# receivers: the services are the only writers of a task.
class Write(NamedTuple):
    sql: str
    fields: list[Field]  # whose prepared values the placeholders take, in order

    def execute(self, values: list[Any]) -> int:
        """Run it with each field's value prepared; the number of rows it changed."""
        connection = transaction.get_connection()
        params = [
            field.get_db_prep_save(value, connection)
            for field, value in zip(self.fields, values, strict=False)
        ]
        params.extend(values[len(self.fields) :])
        with bound_cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.rowcount


def _quote(name: str) -> str:
    return transaction.get_connection().ops.quote_name(name)


@functools.cache
def _update_write(names: tuple[str, ...]) -> Write:
    meta = ContentTask._meta
    fields = [meta.get_field(name) for name in names]
    assignments = ", ".join(f"{_quote(field.column)} = %s" for field in fields)
    where = f"{_quote(meta.pk.column)} = %s"  # the key: a value past the fields'
    # Names from the models' metadata, quoted; every value is a parameter.
    sql = f"UPDATE {_quote(meta.db_table)} SET {assignments} WHERE {where}"  # noqa: S608
    return Write(sql, fields)


@functools.cache
def _history_write() -> Write:
    model = ContentTask.history.model
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(_quote(field.column) for field in fields)
    values = ", ".join(["%s"] * len(fields))
    table = _quote(model._meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({values})"  # noqa: S608 - as above
    return Write(sql, fields)


def _update_fields(task: ContentTask, names: list[str]) -> None:
    """`task.save(update_fields=names)` for a task that exists, without its signals."""
    write = _update_write(tuple(names))
    values = [field.pre_save(task, False) for field in write.fields]  # auto_now too
    if write.execute([*values, task.pk]) != 1:
        raise DatabaseError("Save with update_fields did not affect any rows.")


def _write_history(task: ContentTask, *, history_type: str, user_id: int, reason: str) -> None:
    """The history record simple-history writes when the task is saved."""
    given = {
        "history_date": getattr(task, "_history_date", None) or timezone.now(),
        "history_type": history_type,
        "history_user_id": user_id,
        "history_change_reason": reason,
    }
    write = _history_write()
    write.execute(
        [
            given[field.attname] if field.attname in given else getattr(task, field.attname)
            for field in write.fields
        ]
    )


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
    (only the lease, say) writes no history record. A new task, or a changed status,
    is also a delivery to each of the owner's webhooks."""
    loaded = getattr(task, "_as_loaded", None)
    changed = loaded is None or loaded != _snapshot(task)
    adding = task._state.adding
    user_id = user.pk if user is not None else _system_user_id(task)
    if update_fields is not None and not adding:
        _update_fields(task, update_fields)
    else:
        task.skip_history_when_saving = True  # written below, when there is a change
        try:
            task.save(update_fields=update_fields)
        finally:
            del task.skip_history_when_saving
    if changed:
        _write_history(task, history_type="+" if adding else "~", user_id=user_id, reason=reason)
    if adding or (loaded is not None and loaded["status"] != task.status):
        previous = None if adding else loaded["status"]
        webhook_deliveries_record(
            task=task,
            previous_status=previous,
            message=message or default_message(task),
            owner_has_webhooks=getattr(task, "_owner_has_webhooks", None),
        )
    task._as_loaded = _snapshot(task)
    broadcast_on_commit(task, message, image=image)
    return task
