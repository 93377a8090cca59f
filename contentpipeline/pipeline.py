"""The pipeline runner: claims a task, runs its unfinished stages in order, records
each attempt, and stops between stages when the task was paused or cancelled.

Every step re-reads and locks the row, so the runner is safe to run twice: a second
run of a claimed task does nothing, and a stage's output is stored once per generation
(a unique constraint backs this up).
"""

import importlib
import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
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
    return timedelta(seconds=settings.PIPELINE_STAGE_TIME_LIMIT + 60)


def stage_module(stage: str):
    return importlib.import_module(f"contentpipeline.stages.{stage}")


def run_pipeline(task_id, *, resume_running: bool = False) -> str:
    """Run what is left of the task's pipeline. Returns what happened, for logs:
    `skipped` (not ours to run), `stopped` (paused/cancelled between stages), `done`."""
    task = _claim(task_id, resume_running=resume_running)
    if task is None:
        return "skipped"
    context = _finished_outputs(task)
    for stage in PIPELINE_STAGES:
        if stage in context:
            continue
        started = _begin_stage(task_id, stage)
        if started is None:
            return "stopped"
        task, stage_run = started
        if stage == Stage.IMAGE and not task.generate_image:
            _record_stage(task_id, stage_run, status=StageRunStatus.SKIPPED, output={})
            context[stage] = {}
            continue
        try:
            output = stage_module(stage).run(task, context)
        except Exception as exc:
            _record_failure(stage_run, exc)
            raise StageFailed(stage, str(exc)) from exc
        _record_stage(
            task_id,
            stage_run,
            status=StageRunStatus.SUCCEEDED,
            output=output.data,
            model=output.model,
            tokens_in=output.tokens_in,
            tokens_out=output.tokens_out,
            cost=output.cost,
        )
        context[stage] = output.data
    return "done" if _complete(task_id) else "stopped"


@transaction.atomic
def _claim(task_id, *, resume_running: bool) -> ContentTask | None:
    task = ContentTask.objects.select_for_update().filter(pk=task_id).first()
    if task is None or task.deleted_at is not None:
        return None
    now = timezone.now()
    if task.status == Status.IN_PROGRESS:
        stale = task.heartbeat_at is None or task.heartbeat_at < now - lease()
        if not (resume_running or stale):
            return None  # another worker holds a live lease on it
    elif task.status == Status.PENDING:
        task.transition(Status.IN_PROGRESS)
        task.started_at = task.started_at or now
        task.error = ""
    else:
        return None
    task.heartbeat_at = now
    task._change_reason = "pipeline started"
    task.save()
    broadcast_on_commit(task, "Pipeline started")
    return task


def _finished_outputs(task: ContentTask) -> dict[str, dict]:
    runs = StageRun.objects.filter(
        task=task,
        generation=task.generation,
        status__in=[StageRunStatus.SUCCEEDED, StageRunStatus.SKIPPED],
    )
    return {run.stage: run.output or {} for run in runs}


@transaction.atomic
def _begin_stage(task_id, stage: str) -> tuple[ContentTask, StageRun] | None:
    task = ContentTask.objects.select_for_update().get(pk=task_id)
    if task.status != Status.IN_PROGRESS or task.deleted_at is not None:
        return None  # paused, cancelled or deleted: do no further stage
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
def _record_stage(task_id, stage_run: StageRun, *, status: str, output: dict, **usage) -> None:
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
        # Another run stored this stage first; keep its output, mark ours as a loser.
        StageRun.objects.filter(pk=stage_run.pk).update(
            status=StageRunStatus.FAILED,
            finished_at=stage_run.finished_at,
            error="duplicate: this stage already has an output",
            output=None,
        )
        return
    task.progress = max(task.progress, STAGE_PROGRESS[stage_run.stage])
    task.heartbeat_at = timezone.now()
    task._change_reason = f"stage {stage_run.stage} {status}"
    task.save(update_fields=["progress", "heartbeat_at", "updated_at"])
    broadcast_on_commit(task, f"Stage {stage_run.stage} {status}", image=stage_run.stage == "image")


def _record_failure(stage_run: StageRun, exc: Exception) -> None:
    StageRun.objects.filter(pk=stage_run.pk).update(
        status=StageRunStatus.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
    )
    logger.warning("Stage %s of task %s failed: %s", stage_run.stage, stage_run.task_id, exc)


@transaction.atomic
def _complete(task_id) -> bool:
    task = ContentTask.objects.select_for_update().get(pk=task_id)
    if task.status != Status.IN_PROGRESS:
        return False
    task.transition(Status.AWAITING_APPROVAL)
    task.stage = Stage.DONE
    task.progress = 100
    task.completed_at = timezone.now()
    task.heartbeat_at = None
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
    task._change_reason = "pipeline failed"
    task.save()
    broadcast_on_commit(task, f"Failed: {task.error}")
