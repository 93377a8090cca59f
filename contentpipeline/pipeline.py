"""The pipeline runner: claims a task, runs its unfinished stages in order, records
each attempt, and stops between stages when the task was paused, cancelled or taken
over by another run.

A claim gives the run a lease (`lease_id`, renewed through `heartbeat_at`, also while a
stage is running). Every step locks the row and checks the lease, so two workers given
the same task cannot both run it, and a run whose worker died is taken over once its
heartbeat is stale. A stage's output is stored once per generation: a unique
constraint backs this up when two runs finish the same stage.
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
                ContentTask.objects.filter(
                    pk=self.task_id, lease_id=self.lease_id, status=Status.IN_PROGRESS
                ).update(heartbeat_at=timezone.now())
        except Exception:
            logger.warning("Heartbeat of task %s failed", self.task_id, exc_info=True)
        finally:
            connection.close()


def run_pipeline(task_id, *, resume_running: bool = False) -> str:
    """Run what is left of the task's pipeline. Returns what happened, for logs:
    `skipped` (not ours to run), `stopped` (paused, cancelled or taken over), `done`."""
    claim = _claim(task_id, resume_running=resume_running)
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
            _record_failure(stage_run, exc)
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


@transaction.atomic
def _claim(task_id, *, resume_running: bool) -> tuple[ContentTask, uuid.UUID] | None:
    task = ContentTask.objects.select_for_update().filter(pk=task_id).first()
    if task is None or task.deleted_at is not None:
        return None
    now = timezone.now()
    if task.status == Status.IN_PROGRESS:
        stale = task.heartbeat_at is None or task.heartbeat_at < now - lease()
        if not (resume_running or stale):
            return None  # another run holds a live lease on it
        message = "Pipeline resumed after a lost run" if stale else "Pipeline retrying"
    elif task.status == Status.PENDING:
        task.transition(Status.IN_PROGRESS)
        task.started_at = task.started_at or now
        task.error = ""
        message = "Pipeline started"
    else:
        return None
    task.lease_id = uuid.uuid4()
    task.heartbeat_at = now
    task._change_reason = message.lower()
    task.save()
    broadcast_on_commit(task, message)
    return task, task.lease_id


def _finished_outputs(task: ContentTask) -> dict[str, dict]:
    runs = StageRun.objects.filter(
        task=task,
        generation=task.generation,
        status__in=[StageRunStatus.SUCCEEDED, StageRunStatus.SKIPPED],
    )
    return {run.stage: run.output or {} for run in runs}


def _owned(task: ContentTask, lease_id: uuid.UUID) -> bool:
    return (
        task.status == Status.IN_PROGRESS and task.lease_id == lease_id and task.deleted_at is None
    )


@transaction.atomic
def _begin_stage(task_id, stage: str, lease_id) -> tuple[ContentTask, StageRun] | None:
    task = ContentTask.objects.select_for_update().get(pk=task_id)
    if not _owned(task, lease_id):
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
    task._change_reason = f"stage {stage_run.stage} {status}"
    task.save(update_fields=["progress", "heartbeat_at", "updated_at"])
    broadcast_on_commit(task, f"Stage {stage_run.stage} {status}", image=stage_run.stage == "image")
    return output


def _record_failure(stage_run: StageRun, exc: Exception) -> None:
    StageRun.objects.filter(pk=stage_run.pk).update(
        status=StageRunStatus.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
    )
    logger.warning("Stage %s of task %s failed: %s", stage_run.stage, stage_run.task_id, exc)


@transaction.atomic
def _complete(task_id, lease_id) -> bool:
    task = ContentTask.objects.select_for_update().get(pk=task_id)
    if not _owned(task, lease_id):
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
