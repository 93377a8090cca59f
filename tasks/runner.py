"""The pipeline runner: claims a task, runs its unfinished stages in order, records
each attempt, and stops between stages when the task was paused, cancelled or taken
over by another run.

A claim gives the run a lease (`lease_id`, renewed through `heartbeat_at`, also while a
stage is running). The lease belongs to the run until the run lets it go: pausing or
cancelling a task does not take it away, so a task paused and resumed while a stage is
in flight is not started a second time beside it; the run in flight sees the resume
between stages and goes on. Every step locks the row and checks the lease, so two
workers given the same task cannot both run it, and a run whose worker died is taken
over once its heartbeat is stale. A task whose runs keep dying is failed after
PIPELINE_MAX_LOST_RUNS of them. A stage's output is stored once per generation: a
unique constraint backs this up when two runs finish the same stage.
"""

import importlib
import logging
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tasks.events import broadcast_on_commit
from tasks.models import (
    PIPELINE_STAGES,
    ContentTask,
    Stage,
    StageRun,
    StageRunStatus,
    Status,
)

logger = logging.getLogger(__name__)

LOST_RUN_ERROR = "Lost: the run stopped without finishing (worker killed or time limit)"

# Progress reported once each stage has finished; 100 only when the task is done.
STAGE_PROGRESS = {"research": 20, "draft": 50, "review": 65, "image": 80, "seo": 95}


class StageFailed(Exception):
    def __init__(self, stage: str, message: str) -> None:
        super().__init__(f"Stage {stage} failed: {message}")
        self.stage = stage


def lease() -> timedelta:
    return timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)


def stage_module(stage: str):
    return importlib.import_module(f"contentpipeline.stages.{stage}")


class Heartbeat:
    """Renews the run's lease from a background thread while a stage is running, so a
    long provider call is not mistaken for a dead worker."""

    def __init__(self, task_id, lease_id: uuid.UUID) -> None:
        self.task_id, self.lease_id = task_id, lease_id
        self.interval = max(0.05, settings.PIPELINE_LEASE_SECONDS / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="heartbeat")

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        # Bounded: a renewal stuck behind a row lock must not hold up the run.
        self._thread.join(timeout=self.interval)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                # Whatever the status: a paused task's stage in flight is still running.
                ContentTask.objects.filter(pk=self.task_id, lease_id=self.lease_id).update(
                    heartbeat_at=timezone.now()
                )
        except Exception:
            logger.warning("Heartbeat of task %s failed", self.task_id, exc_info=True)
        finally:
            connection.close()


def run_pipeline(task_id) -> str:
    """Run what is left of the task's pipeline. Returns what happened, for logs:
    `skipped` (not ours to run), `stopped` (paused, cancelled or taken over), `done`."""
    claim = _claim(task_id)
    if claim is None:
        return "skipped"
    task, lease_id = claim
    context = _finished_outputs(task)
    for stage in PIPELINE_STAGES:
        if stage in context:
            continue
        started = _begin_stage(task_id, stage, lease_id)
        if started is None:
            return "stopped"
        task, stage_run = started
        if stage == Stage.IMAGE and not task.generate_image:
            context[stage] = _record_stage(
                task_id, stage_run, status=StageRunStatus.SKIPPED, output={}
            )
            continue
        try:
            with Heartbeat(task_id, lease_id):
                output = stage_module(stage).run(task, context)
        except Exception as exc:
            _record_failure(stage_run, exc, lease_id)
            raise StageFailed(stage, str(exc)) from exc
        context[stage] = _record_stage(
            task_id,
            stage_run,
            status=StageRunStatus.SUCCEEDED,
            output=output.data,
            model=output.model,
            tokens_in=output.tokens_in,
            tokens_out=output.tokens_out,
            cost=output.cost,
        )
    return "done" if _complete(task_id, lease_id) else "stopped"


def _lease_alive(task: ContentTask, now) -> bool:
    return (
        task.lease_id is not None
        and task.heartbeat_at is not None
        and task.heartbeat_at >= now - lease()
    )


@transaction.atomic
def _claim(task_id) -> tuple[ContentTask, uuid.UUID] | None:
    task = ContentTask.objects.select_for_update().filter(pk=task_id).first()
    if task is None or task.deleted_at is not None:
        return None
    if task.status not in (Status.PENDING, Status.IN_PROGRESS):
        return None
    now = timezone.now()
    if _lease_alive(task, now):
        # A run is still in a stage (a resumed task's run goes on by itself): a second
        # one beside it would pay for the same stage twice.
        return None
    if task.lease_id is not None and not _take_over_lost_run(task):
        return None
    if task.status == Status.IN_PROGRESS:
        message = "Pipeline resumed after a lost run" if task.lost_runs else "Pipeline retrying"
    else:
        task.transition(Status.IN_PROGRESS)
        task.started_at = task.started_at or now
        task.error = ""
        message = "Pipeline started"
    task.lease_id = uuid.uuid4()
    task.heartbeat_at = now
    task._change_reason = message.lower()
    task.save()
    broadcast_on_commit(task, message)
    return task, task.lease_id


def _take_over_lost_run(task: ContentTask) -> bool:
    """The run holding the lease stopped renewing it: its worker died or hit the hard
    time limit. Record its stage attempt as lost; after PIPELINE_MAX_LOST_RUNS losses
    without a stage finishing, fail the task instead of sending it round again.
    Returns whether the task may be run again."""
    lost_at = timezone.now()
    StageRun.objects.filter(
        task=task, generation=task.generation, status=StageRunStatus.RUNNING
    ).update(status=StageRunStatus.FAILED, finished_at=lost_at, error=LOST_RUN_ERROR)
    stage = task.stage  # _begin_stage set it when the lost attempt started
    task.lost_runs += 1
    task.lease_id = None
    task.heartbeat_at = None
    if task.lost_runs < settings.PIPELINE_MAX_LOST_RUNS:
        logger.warning(
            "Task %s: run lost in stage %s (%d of %d)",
            task.pk, stage, task.lost_runs, settings.PIPELINE_MAX_LOST_RUNS,
        )  # fmt: skip
        return True
    if task.status == Status.PENDING:
        task.transition(Status.IN_PROGRESS)  # failed is reached from a run, as always
    task.transition(Status.FAILED)
    task.error = (
        f"Stage {stage} was lost {task.lost_runs} times in a row (its worker was killed or "
        "hit the time limit); the task was stopped. Retry it once the cause is fixed."
    )
    task.completed_at = lost_at
    task._change_reason = "pipeline failed: runs lost"
    task.save()
    broadcast_on_commit(task, f"Failed: {task.error}")
    logger.error("Task %s failed: %s", task.pk, task.error)
    return False


def _finished_outputs(task: ContentTask) -> dict[str, dict]:
    runs = StageRun.objects.filter(
        task=task,
        generation=task.generation,
        status__in=[StageRunStatus.SUCCEEDED, StageRunStatus.SKIPPED],
    )
    return {run.stage: run.output or {} for run in runs}


def _may_go_on(task: ContentTask, lease_id: uuid.UUID) -> bool:
    """Between stages, on the locked row: whether this run goes on. A task resumed
    while the run was in its stage is taken back; a paused, cancelled or deleted one
    is let go (the lease released, so a later resume starts a new run at once); one
    taken over by another run is left to it."""
    if task.lease_id != lease_id:
        return False
    if task.deleted_at is None and task.status == Status.PENDING:
        task.transition(Status.IN_PROGRESS)
        task._change_reason = "pipeline resumed"
        task.save(update_fields=["status", "updated_at"])
        broadcast_on_commit(task, "Pipeline resumed")
        return True
    if task.deleted_at is None and task.status == Status.IN_PROGRESS:
        return True
    _release_lease(task.pk, lease_id)
    return False


def _release_lease(task_id, lease_id: uuid.UUID) -> None:
    """Let go of the run's lease (if it is still the run's), so the next message for
    the task claims it at once instead of waiting for the heartbeat to go stale."""
    ContentTask.objects.filter(pk=task_id, lease_id=lease_id).update(
        lease_id=None, heartbeat_at=None
    )


@transaction.atomic
def _begin_stage(task_id, stage: str, lease_id) -> tuple[ContentTask, StageRun] | None:
    task = ContentTask.objects.select_for_update().get(pk=task_id)
    if not _may_go_on(task, lease_id):
        return None  # paused, cancelled, deleted or taken over: do no further stage
    now = timezone.now()
    task.stage = stage
    task.heartbeat_at = now
    task._change_reason = f"stage {stage} started"
    task.save(update_fields=["stage", "heartbeat_at", "updated_at"])
    attempt = StageRun.objects.filter(task=task, generation=task.generation, stage=stage).count()
    stage_run = StageRun.objects.create(
        task=task, generation=task.generation, stage=stage, attempt=attempt + 1, started_at=now
    )
    broadcast_on_commit(task, f"Stage {stage} started")
    return task, stage_run


@transaction.atomic
def _record_stage(task_id, stage_run: StageRun, *, status: str, output: dict, **usage) -> dict:
    """Store the stage's output and return the output that stands: ours, or the one
    another run stored first."""
    task = ContentTask.objects.select_for_update().get(pk=task_id)
    stage_run.status = status
    stage_run.output = output
    stage_run.finished_at = timezone.now()
    for name, value in usage.items():
        setattr(stage_run, name, value)
    try:
        with transaction.atomic():
            stage_run.save()
    except IntegrityError:
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
    # The output is kept even if the task was paused meanwhile: finished work stands.
    task.progress = max(task.progress, STAGE_PROGRESS[stage_run.stage])
    task.heartbeat_at = timezone.now()
    task.lost_runs = 0  # a stage finished: earlier losses were not this stage's
    task._change_reason = f"stage {stage_run.stage} {status}"
    task.save(update_fields=["progress", "heartbeat_at", "lost_runs", "updated_at"])
    broadcast_on_commit(task, f"Stage {stage_run.stage} {status}", image=stage_run.stage == "image")
    return output


def _record_failure(stage_run: StageRun, exc: Exception, lease_id: uuid.UUID) -> None:
    StageRun.objects.filter(pk=stage_run.pk).update(
        status=StageRunStatus.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
    )
    _release_lease(stage_run.task_id, lease_id)  # the Celery retry claims it afresh
    logger.warning("Stage %s of task %s failed: %s", stage_run.stage, stage_run.task_id, exc)


@transaction.atomic
def _complete(task_id, lease_id) -> bool:
    task = ContentTask.objects.select_for_update().get(pk=task_id)
    if not _may_go_on(task, lease_id):
        return False
    task.transition(Status.AWAITING_APPROVAL)
    task.stage = Stage.DONE
    task.progress = 100
    task.completed_at = timezone.now()
    task.heartbeat_at = None
    task.lease_id = None
    task._change_reason = "pipeline finished"
    task.save()
    broadcast_on_commit(task, "Draft ready for approval")
    return True


@transaction.atomic
def fail_task(task_id, error: str) -> None:
    """Mark a running task failed once its retries are exhausted."""
    task = ContentTask.objects.select_for_update().filter(pk=task_id).first()
    if task is None or task.status != Status.IN_PROGRESS:
        return
    task.transition(Status.FAILED)
    task.error = error[:2000]
    task.heartbeat_at = None
    task.lease_id = None
    task._change_reason = "pipeline failed"
    task.save()
    broadcast_on_commit(task, f"Failed: {task.error}")
