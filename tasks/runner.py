"""The pipeline runner: claims a task, runs its unfinished stages in order, records
each attempt, and stops between stages when the task was paused, cancelled or taken
over by another run. Every write goes through the services (`services.runs` says how
the lease works). The stages (`tasks.pipeline.stages`) write no row: they call
models, fetch sources and store the cover through what their job hands them, and the
runner records what they return."""

import contextvars
import importlib
import logging
import threading
import time
import uuid

from django.conf import settings
from django.db import connection

from contentpipeline.database import database_unreachable, release_connection
from contentpipeline.observability import request_id_var
from tasks.pipeline.interfaces import related_posts
from tasks.pipeline.providers import Brief, ProviderError
from tasks.pipeline.stages import Budget, CostLimitExceeded, StageJob

from .events import DraftStream
from .models import PIPELINE_STAGES, ContentTask, Stage, StageRunStatus
from .selectors import style_guide_current, task_cost, task_feedback_notes
from .services import (
    task_claim,
    task_complete,
    task_heartbeat,
    task_plan_propose,
    task_stage_begin,
    task_stage_fail,
    task_stage_record,
)
from .services.plans import approved_outline, plan_feedback, plan_needed
from .services.runs import system_actor

logger = logging.getLogger(__name__)


class StageFailed(Exception):
    """A stage attempt failed. Its message is what the task's owner is told (the task's
    `error`, its progress stream, webhooks): which stage, and why only when the reason
    is the owner's to act on (the cost ceiling). What went wrong in detail, which can
    name the model server, its address and what it answered, is the stage run's error,
    for the logs and editors in admin."""

    def __init__(self, stage: str, message: str, *, final: bool = False, task_id=None) -> None:
        super().__init__(f"Stage {stage} failed: {message}")
        self.stage = stage
        # The task that was run: the claim may take another than the message named.
        self.task_id = task_id
        # Trying again cannot help (the cost ceiling): fail the task now.
        self.final = final

    @classmethod
    def of(cls, stage: str, exc: Exception, *, task_id=None) -> "StageFailed":
        if isinstance(exc, CostLimitExceeded):
            return cls(stage, str(exc), final=True, task_id=task_id)
        if isinstance(exc, ProviderError):
            return cls(stage, "the model provider failed.", task_id=task_id)
        return cls(stage, "an error in the pipeline (it is logged).", task_id=task_id)


def stage_module(stage: str):
    return importlib.import_module(f"tasks.pipeline.stages.{stage}")


def brief_for(task: ContentTask) -> Brief:
    return Brief(
        task_type=task.task_type,
        topic=task.topic,
        keywords=tuple(task.keywords or ()),
        primary_keyword=task.primary_keyword,
        target_audience=task.target_audience,
        category=task.category,
        tone=task.tone,
        style=task.style,
        target_length=task.target_length,
        feedback=task.feedback,
        feedback_notes=tuple((note.generation, note.note) for note in task_feedback_notes(task)),
    )


def job_for(task: ContentTask, *, on_draft_text: DraftStream | None = None) -> StageJob:
    """The stage's job: the brief, what the task may still spend (its ceiling, or the
    settings' default, less what its stage runs have cost so far), and what the apps
    above the pipeline provided it at start-up (tasks.pipeline.interfaces)."""
    ceiling = task.max_cost if task.max_cost is not None else settings.TASK_MAX_COST
    return StageJob(
        brief=brief_for(task),
        quality=task.quality_preference,
        name=f"{task.id}-g{task.generation}",
        sources=tuple(task.sources or ()),
        use_cache=task.use_cache,
        budget=Budget(ceiling=ceiling, spent=task_cost(task)),
        on_draft_text=on_draft_text,
        related_posts=related_posts(),
        # Read for each stage: an edit of the guide reaches the next drafts, never the
        # stages that already ran.
        style_guide=style_guide_current(),
        plan=approved_outline(task),
        plan_feedback=plan_feedback(task),
    )


class Heartbeat:
    """Renews the run's lease from a background thread while a stage is running, so a
    long provider call is not mistaken for a dead worker; but not past
    PIPELINE_STAGE_TIME_LIMIT. Celery's time limits do not apply to the threads pool,
    which cannot stop a thread: a stage that hangs lets its lease go stale instead, and
    the dispatcher hands the task to a new run (the hung attempt recorded as lost).

    The thread holds a database connection only while it renews: with many stages in
    flight, one connection each for the length of a stage would drain the pool."""

    def __init__(self, task_id, lease_id: uuid.UUID, *, stage: str = "") -> None:
        self.task_id, self.lease_id, self.stage = task_id, lease_id, stage
        self.interval = max(0.05, settings.PIPELINE_LEASE_SECONDS / 3)
        self.time_limit = settings.PIPELINE_STAGE_TIME_LIMIT
        self._stop = threading.Event()
        # In the run's context, so its log lines carry the run's request id.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._run,), daemon=True,
            name="heartbeat",
        )  # fmt: skip

    def __enter__(self) -> "Heartbeat":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        # Bounded: a renewal stuck behind a row lock must not hold up the run.
        self._thread.join(timeout=self.interval)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if time.monotonic() - self._started >= self.time_limit:
                logger.error(
                    "Stage %s of task %s has run past PIPELINE_STAGE_TIME_LIMIT (%ss): its "
                    "lease is no longer renewed, so a new run will take the task over",
                    self.stage, self.task_id, self.time_limit,
                )  # fmt: skip
                return
            try:
                task_heartbeat(task_id=self.task_id, lease_id=self.lease_id)
            except Exception:  # the next renewal may get through; the lease outlasts two
                logger.warning("Heartbeat of task %s failed", self.task_id, exc_info=True)
            finally:
                connection.close()


# Between tries of a write that found the database out of reach (each try itself waits
# up to DB_POOL_TIMEOUT for a connection).
OUTAGE_RETRY_PAUSE = 0.2


def despite_outage(call, /, *args, **kwargs):
    """`call(*args, **kwargs)`, tried again while the database cannot be reached (a
    restart, a network cut), for up to PIPELINE_LEASE_SECONDS: a stage that finished
    during an outage is recorded once the database is back, not run again. Past that
    the error is raised; the run stops with its lease, and the dispatcher hands the
    task to a new run once the lease is stale (the work recorded stands). A write whose
    commit was lost with the connection may be made twice: each one the runner makes
    here stands that (a claim still held, a stage record already stored)."""
    deadline = time.monotonic() + settings.PIPELINE_LEASE_SECONDS
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if not database_unreachable(exc) or time.monotonic() >= deadline:
                raise
            logger.warning("The database could not be reached (%s); trying %s again",
                           exc, getattr(call, "__name__", call))  # fmt: skip
        release_connection()  # a broken one goes back to the pool, to be replaced
        time.sleep(OUTAGE_RETRY_PAUSE)


def run_pipeline(task_id, *, worker: str = "", in_turn: bool = False) -> str:
    """Run what is left of the task's pipeline; `worker` (the Celery node) is recorded
    on each stage attempt. With `in_turn` (a run message, which is a ticket for one run)
    the task run is the one whose turn it is, the named one only when its run must go
    on (see task_claim). Returns what happened, for logs: `skipped` (nothing to run),
    `stopped` (paused, cancelled, taken over, or waiting for its plan's approval),
    `done`. Raises StageFailed when a stage fails (its attempt recorded, the lease let
    go)."""
    with system_actor():
        return _run(task_id, worker, in_turn)


def _run(task_id, worker: str, in_turn: bool) -> str:
    claim = despite_outage(task_claim, task_id=task_id, in_turn=in_turn)
    if claim is None:
        return "skipped"
    task, lease_id, context = claim
    if str(task.pk) != str(task_id):
        # Another task's turn: the message's request id, that of whoever queued the task
        # it named, is not this run's.
        request_id_var.set(None)
        task_id = task.pk
    for stage in PIPELINE_STAGES:
        if stage in context:
            continue
        if stage == Stage.DRAFT and plan_needed(task):
            # No draft is asked for before an editor approves the plan: the task waits
            # for one (awaiting_plan) and this run ends, its lease let go.
            research = context.get(Stage.RESEARCH, {})
            stops = despite_outage(
                task_plan_propose, task_id=task_id, lease_id=lease_id, research=research
            )
            if stops:
                return "stopped"
        started = despite_outage(
            task_stage_begin, task_id=task_id, stage=stage, lease_id=lease_id, worker=worker
        )
        if started is None:
            return "stopped"
        task, stage_run = started
        if stage == Stage.IMAGE and not task.generate_image:
            context[stage] = despite_outage(
                task_stage_record, task_id=task_id, stage_run=stage_run,
                status=StageRunStatus.SKIPPED, output={},
            )  # fmt: skip
            continue
        stream = DraftStream(task_id) if stage == Stage.DRAFT and settings.LLM_STREAM else None
        job = despite_outage(job_for, task, on_draft_text=stream)
        spent_before = job.budget.spent
        release_connection()
        try:
            with Heartbeat(task_id, lease_id, stage=stage):
                output = stage_module(stage).run(job, context)
        except Exception as exc:
            if not isinstance(exc, ProviderError | CostLimitExceeded):
                logger.exception("Stage %s of task %s failed", stage, task_id)
            despite_outage(
                task_stage_fail,
                stage_run=stage_run,
                error=str(exc),
                lease_id=lease_id,
                cost=job.budget.spent - spent_before,
            )
            raise StageFailed.of(stage, exc, task_id=task_id) from exc
        finally:
            if stream is not None:
                stream.flush()
        context[stage] = despite_outage(
            task_stage_record,
            task_id=task_id,
            stage_run=stage_run,
            status=StageRunStatus.SUCCEEDED,
            output=output.data,
            model=output.model,
            tokens_in=output.tokens_in,
            tokens_out=output.tokens_out,
            cost=output.cost,
            provider=output.provider,
            calls=output.calls,
            cache_hits=output.cache_hits,
        )
    done = despite_outage(task_complete, task_id=task_id, lease_id=lease_id)
    return "done" if done else "stopped"
