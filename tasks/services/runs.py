"""What the pipeline runner records: its claim on a task (a lease, renewed by a
heartbeat), each stage attempt, and how the run ended.

The lease belongs to the run until the run lets it go: pausing or cancelling a task
does not take it away, so a task paused and resumed while a stage is in flight is not
started a second time beside it; the run in flight sees the resume between stages and
goes on. Every step locks the row and checks the lease, so two workers given the same
task cannot both run it, and a run whose worker died is taken over once its heartbeat
is stale. A task whose runs keep dying is failed after PIPELINE_MAX_LOST_RUNS of them.

A run message is a ticket for one run: the claim serves the task it names only when
that task's run must go on, and otherwise takes the pending task whose turn it is, so
that runs are shared between owners (see services.dispatch), and caps each owner's
runs in flight at MAX_RUNS_PER_USER when that is set.
"""

import logging
import re
import uuid
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import ContentTask, Stage, StageRun, StageRunStatus, Status, lease_period
from ._common import finished_outputs, lock, lock_next_in_turn, lock_to_go_on, save
from ._common import system_actor as system_actor  # the runner runs within it
from .dispatch import run_ended_on_commit

logger = logging.getLogger(__name__)
# One line per stage attempt recorded (its event is `stage_run`).
stage_logger = logging.getLogger("tasks.stage_runs")

LOST_RUN_ERROR = "Lost: the run stopped without finishing (worker killed or time limit)"

# Progress reported once each stage has finished; 100 only when the task is done.
STAGE_PROGRESS = {"research": 20, "draft": 50, "review": 65, "image": 80, "seo": 95}


class Claim(NamedTuple):
    task: ContentTask
    lease_id: uuid.UUID
    # The current generation's finished (or skipped) stage outputs, by stage, as they
    # stood when the run took the lease: what it does not have to do again.
    outputs: dict[str, dict[str, Any]]


# Held by the claim that picks a task while MAX_RUNS_PER_USER caps runs in flight: an
# owner's runs are counted and one more started as one step, so two claims at once
# cannot both take an owner's last free run. A transaction-level advisory lock: it goes
# with the claim's commit or rollback.
_PICK_LOCK_KEY = 0x7461736B70696B  # "taskpik"


@transaction.atomic
def task_claim(*, task_id, in_turn: bool = False) -> Claim | None:
    """Give a new run the lease of a task, moving a pending task to in_progress; None
    when there is nothing to run: the task is gone, not runnable, still held by a live
    run, or failed because its runs kept being lost.

    Without `in_turn` the run is for the named task. With it (a run message: a ticket
    for one run, not for one task) the named task is served only when it is a run that
    must go on: in progress with no live run (a failed stage's retry, or a lost run
    taken over). Otherwise the run takes the pending task whose turn it is, whichever
    message named it (`ContentTaskQuerySet.in_turn`: the highest priority, then owners
    in turn, then the oldest), passing over tasks that other claims are taking, tasks
    whose run is still in its stage (paused and resumed), and, when MAX_RUNS_PER_USER is
    set, owners with that many runs in flight. A task whose runs keep being lost is
    failed on the way, and the next one taken instead."""
    now = timezone.now()
    if not in_turn:
        task = lock(task_id, outputs=True)
        if task is None or not task.may("run") or _lease_alive(task, now):
            # A run still in a stage (a resumed task's run goes on by itself): a second
            # one beside it would pay for the same stage twice.
            return None
        return _start_run(task, now)
    task = lock_to_go_on(task_id, now=now)
    if task is not None and (claim := _start_run(task, now)) is not None:
        return claim
    cap = settings.MAX_RUNS_PER_USER
    if cap:
        with transaction.get_connection().cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PICK_LOCK_KEY])
    # Rows other transactions hold are passed over first; when that leaves nothing they
    # are waited for, so that a task locked for a moment by someone else (a refused
    # user action, say) is not left pending after the only message for it was used.
    for skip_locked in (True, False):
        while (task := lock_next_in_turn(now=now, cap=cap, skip_locked=skip_locked)) is not None:
            if (claim := _start_run(task, now)) is not None:
                return claim
    return None


def _lease_alive(task: ContentTask, now) -> bool:
    return (
        task.lease_id is not None
        and task.heartbeat_at is not None
        and task.heartbeat_at >= now - lease_period()
    )


def _start_run(task: ContentTask, now) -> Claim | None:
    """The lease of the locked task for a new run: a lost run's lease is taken over
    (None when that fails the task), a pending task moves to in_progress."""
    if task.lease_id is not None and not _take_over_lost_run(task):
        return None
    if task.status == Status.IN_PROGRESS:
        message = "Pipeline resumed after a lost run" if task.lost_runs else "Pipeline retrying"
    else:
        task.move("run")
        task.started_at = task.started_at or now
        task.error = ""
        message = "Pipeline started"
    task.lease_id = uuid.uuid4()
    task.heartbeat_at = now
    save(
        task, reason=message.lower(), message=message,
        update_fields=["status", "started_at", "error", "lease_id", "heartbeat_at",
                       "lost_runs", "updated_at"],
    )  # fmt: skip
    return Claim(task, task.lease_id, finished_outputs(task))


def _take_over_lost_run(task: ContentTask) -> bool:
    """The run holding the lease stopped renewing it: its worker died or hit the hard
    time limit. Record its stage attempt as lost; after PIPELINE_MAX_LOST_RUNS losses
    without a stage finishing, fail the task instead of sending it round again.
    Returns whether the task may be run again."""
    lost_at = timezone.now()
    running = StageRun.objects.filter(
        task=task, generation=task.generation, status=StageRunStatus.RUNNING
    )
    lost = list(running)
    running.update(status=StageRunStatus.FAILED, finished_at=lost_at, error=LOST_RUN_ERROR)
    for stage_run in lost:
        stage_run.finished_at, stage_run.error = lost_at, LOST_RUN_ERROR
        transaction.on_commit(partial(log_stage_run, stage_run, "lost"))
    stage = task.stage  # task_stage_begin set it when the lost attempt started
    task.lost_runs += 1
    task.lease_id = None
    task.heartbeat_at = None
    if task.lost_runs < settings.PIPELINE_MAX_LOST_RUNS:
        logger.warning(
            "Task %s: run lost in stage %s (%d of %d)",
            task.pk, stage, task.lost_runs, settings.PIPELINE_MAX_LOST_RUNS,
        )  # fmt: skip
        return True
    task.move("give_up")
    task.error = (
        f"Stage {stage} was lost {task.lost_runs} times in a row (its worker was killed or "
        "hit the time limit); the task was stopped. Retry it once the cause is fixed."
    )
    task.completed_at = lost_at
    save(task, reason="pipeline failed: runs lost", message=f"Failed: {task.error}")
    logger.error("Task %s failed: %s", task.pk, task.error)
    return False


def task_heartbeat(*, task_id, lease_id: uuid.UUID) -> None:
    """Renew the run's lease while its stage works (whatever the status: a paused
    task's stage in flight is still running). Bookkeeping only: no history row."""
    ContentTask.objects.filter(pk=task_id, lease_id=lease_id).update(heartbeat_at=timezone.now())


def task_release_lease(*, task_id, lease_id: uuid.UUID) -> None:
    """Let go of the run's lease (if it is still the run's), so the next message for
    the task claims it at once instead of waiting for the heartbeat to go stale."""
    ContentTask.objects.filter(pk=task_id, lease_id=lease_id).update(
        lease_id=None, heartbeat_at=None
    )


def may_go_on(task: ContentTask, lease_id: uuid.UUID) -> bool:
    """Between stages, on the locked row: whether this run goes on. A task resumed
    while the run was in its stage is taken back; a paused, cancelled or deleted one
    is let go (the lease released, so a later resume starts a new run at once); one
    taken over by another run is left to it."""
    if task.lease_id != lease_id:
        return False
    if task.deleted_at is not None or not task.may("run"):
        task_release_lease(task_id=task.pk, lease_id=lease_id)
        run_ended_on_commit(task)
        return False
    if task.status != Status.IN_PROGRESS:  # resumed while the stage ran
        task.move("run")
        save(
            task, reason="pipeline resumed", message="Pipeline resumed",
            update_fields=["status", "updated_at"],
        )  # fmt: skip
    return True


@transaction.atomic
def task_stage_begin(
    *, task_id, stage: str, lease_id: uuid.UUID, worker: str = ""
) -> tuple[ContentTask, StageRun] | None:
    """Record the start of a stage attempt by `worker` (the Celery node running it);
    None when the run must stop instead (paused, cancelled, deleted or taken over)."""
    task = lock(task_id, alive=False)
    if task is None or not may_go_on(task, lease_id):
        return None
    now = timezone.now()
    task.stage = stage
    task.heartbeat_at = now
    attempt = StageRun.objects.filter(task=task, generation=task.generation, stage=stage).count()
    stage_run = StageRun.objects.create(
        task=task,
        generation=task.generation,
        stage=stage,
        attempt=attempt + 1,
        started_at=now,
        worker=worker[:255],
    )
    save(
        task, reason=f"stage {stage} started", message=f"Stage {stage} started",
        update_fields=["stage", "heartbeat_at", "updated_at"],
    )  # fmt: skip
    return task, stage_run


@transaction.atomic
def task_stage_record(
    *,
    task_id,
    stage_run: StageRun,
    status: str,
    output: dict[str, Any],
    model: str = "",
    tokens_in: int = 0,
    tokens_out: int = 0,
    cost: Decimal = Decimal("0"),
    provider: str = "",
    calls: int = 0,
    cache_hits: int = 0,
) -> dict[str, Any]:
    """Store a finished (or skipped) stage's output and usage (which provider wrote it,
    its model calls and how many the cache answered), and return the output
    that stands: ours, or the one another run stored first (a unique constraint keeps
    one per stage and generation)."""
    task = lock(task_id, alive=False)
    stage_run.status = status
    stage_run.output = output
    stage_run.finished_at = timezone.now()
    stage_run.model, stage_run.cost = model, cost
    stage_run.tokens_in, stage_run.tokens_out = tokens_in, tokens_out
    stage_run.provider, stage_run.calls, stage_run.cache_hits = provider, calls, cache_hits
    try:
        with transaction.atomic():
            stage_run.save()
    except IntegrityError:
        transaction.on_commit(partial(log_stage_run, stage_run, "duplicate"))
        StageRun.objects.filter(pk=stage_run.pk).update(
            status=StageRunStatus.FAILED,
            finished_at=stage_run.finished_at,
            error="duplicate: another run stored this stage first",
            output=None,
        )
        winner = StageRun.objects.get(
            task_id=task_id,
            generation=stage_run.generation,
            stage=stage_run.stage,
            status__in=[StageRunStatus.SUCCEEDED, StageRunStatus.SKIPPED],
        )
        return winner.output or {}
    transaction.on_commit(partial(log_stage_run, stage_run, status))
    # The output is kept even if the task was paused meanwhile: finished work stands.
    task.progress = max(task.progress, STAGE_PROGRESS[stage_run.stage])
    task.heartbeat_at = timezone.now()
    task.lost_runs = 0  # a stage finished: earlier losses were not this stage's
    save(
        task,
        reason=f"stage {stage_run.stage} {status}",
        message=f"Stage {stage_run.stage} {status}",
        update_fields=["progress", "heartbeat_at", "lost_runs", "updated_at"],
        image=stage_run.stage == Stage.IMAGE,
    )
    return output


# The user information of a URL (`https://user:password@host`), up to its last `@`.
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s/?#]*@", re.IGNORECASE)


def without_credentials(text: str) -> str:
    """`text` with the user and password of every URL in it left out: a provider's
    error names its server's URL, which may carry them (LLM_BASE_URL)."""
    return _URL_USERINFO.sub(r"\1", text)


def task_stage_fail(
    *, stage_run: StageRun, error: str, lease_id: uuid.UUID, cost: Decimal = Decimal("0")
) -> None:
    """Record a failed stage attempt (with what its calls cost before it failed) and
    let go of the lease, so the Celery retry claims the task afresh. The error is the
    detail, for the logs and editors in admin, without any URL's credentials; the
    task's owner is told less (runner.StageFailed)."""
    error = without_credentials(error)[:2000]
    stage_run.finished_at, stage_run.error, stage_run.cost = timezone.now(), error, cost
    StageRun.objects.filter(pk=stage_run.pk).update(
        status=StageRunStatus.FAILED,
        finished_at=stage_run.finished_at,
        error=stage_run.error,
        cost=cost,
    )
    task_release_lease(task_id=stage_run.task_id, lease_id=lease_id)
    log_stage_run(stage_run, "failed")


def log_stage_run(stage_run: StageRun, outcome: str) -> None:
    """The attempt's log line (once it is stored): task, stage, attempt, outcome
    (`succeeded`, `skipped`, `failed`, `lost`, `duplicate`), duration, provider, model,
    calls, cache hits, tokens and cost; the request id comes with the run's context."""
    duration_ms = None
    if stage_run.finished_at and stage_run.started_at:
        duration_ms = round((stage_run.finished_at - stage_run.started_at).total_seconds() * 1000)
    outcome = str(outcome)
    ok = outcome in (StageRunStatus.SUCCEEDED, StageRunStatus.SKIPPED)
    stage_logger.log(
        logging.INFO if ok else logging.WARNING,
        "Stage %s of task %s %s in %s ms (model %s, %d+%d tokens, %s USD)%s",
        stage_run.stage, stage_run.task_id, outcome, duration_ms, stage_run.model or "-",
        stage_run.tokens_in, stage_run.tokens_out, stage_run.cost,
        "" if ok else f": {stage_run.error}",
        extra={"event": "stage_run", "task_id": str(stage_run.task_id),
               "stage": stage_run.stage, "generation": stage_run.generation,
               "attempt": stage_run.attempt, "outcome": outcome, "duration_ms": duration_ms,
               "provider": stage_run.provider, "model": stage_run.model,
               "calls": stage_run.calls, "cache_hits": stage_run.cache_hits,
               "tokens_in": stage_run.tokens_in, "tokens_out": stage_run.tokens_out,
               "cost": float(stage_run.cost or 0), "error": stage_run.error[:500] or None},
    )  # fmt: skip


@transaction.atomic
def task_complete(*, task_id, lease_id: uuid.UUID) -> bool:
    """in_progress -> awaiting_approval once every stage has finished; False when the
    run must stop instead (paused, cancelled, deleted or taken over)."""
    task = lock(task_id, alive=False)
    if task is None or not may_go_on(task, lease_id):
        return False
    task.move("finish")
    task.stage = Stage.DONE
    task.progress = 100
    task.completed_at = timezone.now()
    task.heartbeat_at = None
    task.lease_id = None
    save(
        task, reason="pipeline finished", message="Draft ready for approval",
        update_fields=["status", "stage", "progress", "completed_at", "heartbeat_at",
                       "lease_id", "updated_at"],
    )  # fmt: skip
    run_ended_on_commit(task)
    return True


@transaction.atomic
def task_fail(*, task_id, error: str) -> None:
    """in_progress -> failed once the run's retries are exhausted; a task that has
    moved on meanwhile (paused, cancelled) is left as it is."""
    task = lock(task_id, alive=False)
    if task is None:
        return
    run_ended_on_commit(task)
    if not task.may("fail"):
        return
    task.move("fail")
    task.error = without_credentials(error)[:2000]
    task.heartbeat_at = None
    task.lease_id = None
    save(task, reason="pipeline failed", message=f"Failed: {task.error}")
