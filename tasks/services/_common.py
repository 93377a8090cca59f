"""What the services share: locking a task, saving a change with who and why."""

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import QuerySet
from simple_history.manager import HistoryDescriptor

from contentpipeline.errors import NotFound
from contentpipeline.roles import SYSTEM_USERNAME, system_user

from ..events import broadcast_on_commit
from ..models import ContentTask, StageRun, StageRunStatus


def _history_manager(descriptor: HistoryDescriptor, instance, owner):
    manager_class = descriptor.__dict__.get("_manager_class")
    if manager_class is None:
        manager_class = descriptor.manager_class.from_queryset(descriptor.queryset_class)
        descriptor._manager_class = manager_class
    return manager_class(descriptor.model, instance)


# simple-history makes a new manager class (`from_queryset`, which walks the queryset
# class with `inspect`) on every `instance.history`, and reads it for each history
# record it writes: some 1,100 Python calls, a fifth of a pipeline step. The class is
# the same each time, so it is made once per model.
HistoryDescriptor.__get__ = _history_manager

# The fields whose changes are history records (the lease and bookkeeping are not).
_UNTRACKED = {"heartbeat_at", "lease_id", "dispatched_at", "lost_runs", "updated_at"}
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
        with connection.cursor() as cursor:
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


@functools.cache
def _lock_statement(alive: bool) -> Statement:
    tasks = ContentTask.objects.alive() if alive else ContentTask.objects.all()
    return Statement.compile(tasks.select_for_update().filter(pk=_ANY_ID).order_by(), (_ANY_ID,))


@functools.cache
def _outputs_statement() -> Statement:
    finished = (
        StageRun.objects.filter(task_id=_ANY_ID).filter(generation=0).filter(status__in=FINISHED)
    )
    return Statement.compile(finished.values_list("stage", "output"), (_ANY_ID, 0, *FINISHED))


@functools.cache
def _system_user_statement() -> Statement:
    users = get_user_model().objects.filter(username=SYSTEM_USERNAME).order_by()
    return Statement.compile(users, (SYSTEM_USERNAME,))


def lock(task_id, *, alive: bool = True) -> ContentTask | None:
    """The task's row, locked until the transaction ends; None if there is none (or
    the id is malformed)."""
    try:
        pk = ContentTask._meta.pk.to_python(task_id)
    except (ValueError, ValidationError):
        return None
    rows = _lock_statement(alive).run([pk])
    if not rows:
        return None
    task = ContentTask.from_db(transaction.get_connection().alias, None, rows[0])
    task._as_loaded = _snapshot(task)
    return task


def finished_outputs(task: ContentTask) -> dict[str, dict[str, Any]]:
    """The current generation's finished (or skipped) stage outputs, by stage."""
    rows = _outputs_statement().run([task.pk, task.generation, *FINISHED])
    return {stage: output or {} for stage, output in rows}


# Within a pipeline run (its thread), the system user once looked up: a run saves a
# dozen times, each a round trip to PostgreSQL for the same row.
_run_user: ContextVar[list[AbstractBaseUser] | None] = ContextVar("run_user", default=None)


@contextmanager
def system_actor() -> Iterator[None]:
    """Changes saved within it, in this thread, that nobody asked for are recorded as
    the system user's, read from the database at the first of them only."""
    token = _run_user.set([])
    try:
        yield
    finally:
        _run_user.reset(token)


def _system_user() -> AbstractBaseUser:
    known = _run_user.get()
    if known:
        return known[0]
    rows = _system_user_statement().run([SYSTEM_USERNAME])
    if rows:
        user = get_user_model().from_db(transaction.get_connection().alias, None, rows[0])
    else:
        user = system_user()  # made again if it went missing
    if known is not None:
        known.append(user)
    return user


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
    task._history_user = user or _system_user()
    task._change_reason = reason
    try:
        task.save(update_fields=update_fields)
    finally:
        if unchanged:
            del task.skip_history_when_saving
    task._as_loaded = _snapshot(task)
    broadcast_on_commit(task, message, image=image)
    return task
