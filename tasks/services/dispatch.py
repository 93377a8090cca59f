"""Handing runs to the queue. The row is the truth: what could not be sent, or was
lost with a worker, is sent again by `task_dispatch_waiting` on every beat.

A run message is a ticket for one run, not for one task: the claim takes the pending
task whose turn it is (`task_claim`). Each move to pending sends one, so there are at
least as many messages as pending tasks; a message that finds nothing to run is spent.
Fair shares come from the turn a task gets when it becomes pending (`enqueue_on_commit`):
within a priority, an owner with nothing queued takes the current turn and one with a
backlog the turn after their last task, so owners take turns, one run each, however
many tasks one of them queued. With MAX_RUNS_PER_USER, the messages of an owner at the
cap are spent on others' tasks or on nothing, so each of their runs that ends sends one
for them.
"""

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import RECOVERY_PRIORITY, ContentTask
from ..queue import send_run, send_runs
from ..selectors import task_ids_to_dispatch, task_next_of_owner, task_turns

logger = logging.getLogger(__name__)


def task_dispatch(*, task_id, priority: int) -> bool:
    """Send one run of the task to the queue and note when; False when the broker is
    unreachable (the task stays as it is for the dispatcher)."""
    return bool(task_dispatch_many(runs=[(task_id, priority)]))


def task_dispatch_many(*, runs: Iterable[tuple[Any, int]]) -> int:
    """Send one run of each (task id, priority) over one broker connection, noting when
    in one UPDATE; returns how many were sent. What the broker refused stays unsent for
    the dispatcher."""
    runs = list(runs)
    ids = [task_id for task_id, _ in runs]
    # Noted before sending, outside any transaction: an UPDATE after the send would hold
    # the rows while the runs that the messages start look for a task to take.
    ContentTask.objects.filter(pk__in=ids).update(dispatched_at=timezone.now())
    sent = send_runs(runs)
    if len(sent) < len(ids):
        unsent = set(ids) - set(sent)
        ContentTask.objects.filter(pk__in=unsent).update(dispatched_at=None)
    return len(sent)


def enqueue_on_commit(task: ContentTask) -> None:
    """The task (locked, just moved to pending) takes its turn in the queue of its
    priority, and a run is queued once the surrounding transaction commits.

    Its turn is the queue's current one (that of the latest run in progress, or else
    the first turn waiting), or the one after its owner's latest task pending or in
    progress if that is later: an owner with nothing queued goes before the next turn
    of those with a backlog, who each wait for their own tasks, one turn after the
    other."""
    turns = task_turns(task=task)
    current = turns.running if turns.running is not None else turns.first_waiting
    following = turns.owners_last + 1 if turns.owners_last is not None else None
    task.queue_turn = max((turn for turn in (current, following) if turn is not None), default=0)
    # Noted now: nothing writes the row after the message goes (see task_dispatch_many).
    task.dispatched_at = timezone.now()
    ContentTask.objects.filter(pk=task.pk).update(
        queue_turn=task.queue_turn, dispatched_at=task.dispatched_at
    )
    task_id, priority = task.id, task.celery_priority
    transaction.on_commit(lambda: _send_or_leave(task_id, priority))


def _send_or_leave(task_id, priority: int) -> None:
    if not send_run(task_id, priority):  # the dispatcher sends it
        ContentTask.objects.filter(pk=task_id).update(dispatched_at=None)


def run_ended_on_commit(task: ContentTask) -> None:
    """A run of the task's owner ended (finished, failed, or let go when paused or
    cancelled). With MAX_RUNS_PER_USER, once the transaction commits, a run is sent for
    the owner's next pending task, if any: the messages their tasks were queued with
    may have been spent while they were at the cap."""
    if settings.MAX_RUNS_PER_USER:
        owner_id = task.created_by_id
        transaction.on_commit(lambda: task_dispatch_next(owner_id=owner_id))


def task_dispatch_next(*, owner_id) -> bool:
    """Send a run for the owner's pending task whose turn comes first; False when they
    have none, or the broker refused (the dispatcher sends it later)."""
    following = task_next_of_owner(owner_id=owner_id)
    return following is not None and task_dispatch(task_id=following[0], priority=following[1])


def task_dispatch_waiting() -> int:
    """Send again what the queue lost: pending tasks nobody claimed within the grace
    period, and running tasks whose worker stopped renewing its lease (these go to the
    front of the queue). A task is sent again at most once per grace period (lease
    period for lost runs), so one only waiting behind a backlog does not pile up
    copies; an owner at MAX_RUNS_PER_USER gets a run when one of theirs ends instead.
    Returns how many messages were sent."""
    waiting, lost = task_ids_to_dispatch(now=timezone.now())
    count = task_dispatch_many(runs=waiting)
    if count == len(waiting):  # else the broker is down: the lost runs wait for the next beat
        count += task_dispatch_many(runs=[(task_id, RECOVERY_PRIORITY) for task_id in lost])
    if count:
        logger.info("Dispatched %d waiting task(s) again", count)
    return count
