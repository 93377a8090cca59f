"""Reads of content tasks, with authorization where the name says so."""

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from contentpipeline.errors import Forbidden, NotFound
from contentpipeline.roles import is_editor
from tasks.pipeline.sources import numbered_sources
from tasks.pipeline.stages import current_draft
from tasks.pipeline.style import StyleRules
from tasks.pipeline.text import content_hash

from .interfaces import task_reviews
from .models import (
    ContentTask,
    Draft,
    FeedbackNote,
    StageRun,
    StageRunStatus,
    Status,
    StyleGuide,
    Webhook,
)

# What an editor may change in a draft before deciding.
EDITABLE_FIELDS = ("title", "excerpt", "body_markdown", "seo_title", "meta_description", "tags")


def task_list_for_user(*, user) -> QuerySet[ContentTask]:
    qs = (
        ContentTask.objects.alive()
        .select_related("created_by")
        .prefetch_related(
            Prefetch("stage_runs", queryset=StageRun.objects.order_by("started_at", "id")),
            "drafts",
            Prefetch("feedback_notes", queryset=FeedbackNote.objects.select_related("author")),
        )
    )
    if not is_editor(user):
        # Reviewers of a workflow step read the drafts waiting for them too.
        waiting = task_reviews().waiting_for(user) if user.is_authenticated else []
        qs = (
            qs.filter(Q(created_by=user) | Q(pk__in=waiting))
            if waiting
            else qs.filter(created_by=user)
        )
    return qs


def task_list_for_admin() -> QuerySet[ContentTask]:
    """Every task that is not deleted, for the admin's list (which pages and orders it)."""
    return ContentTask.objects.alive().select_related("created_by")


def task_get_for_user(*, user, task_id) -> ContentTask:
    """The task if the user may read it (owner or editor); NotFound otherwise, so a
    stranger cannot even learn that the id exists."""
    try:
        return task_list_for_user(user=user).get(pk=task_id)
    except (ContentTask.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFound("Task not found.") from exc


def user_can_read_task(*, user, task: ContentTask) -> bool:
    if task.deleted_at is not None:
        return False
    return task.created_by_id == user.pk or is_editor(user) or task_reviews().may_review(user, task)


def task_readable_by(*, user, task_id) -> bool:
    """Whether the task exists (not deleted) and the user may read it."""
    try:
        task_get_for_follower(user=user, task_id=task_id)
    except (NotFound, Forbidden):
        return False
    return True


def task_get_for_follower(*, user, task_id) -> ContentTask:
    """The task whose progress the user wants to follow: NotFound when there is no such
    task, Forbidden when it is someone else's (a socket's close code tells them apart)."""
    try:
        task = ContentTask.objects.alive().filter(pk=task_id).first()
    except (ValueError, ValidationError):
        task = None
    if task is None:
        raise NotFound("Task not found.")
    if not user_can_read_task(user=user, task=task):
        raise Forbidden("Not your task.")
    return task


def task_latest_for_user(*, user, limit: int) -> list[ContentTask]:
    """The user's newest tasks (editors: anyone's), rows only, newest first."""
    return list(
        task_list_for_user(user=user).prefetch_related(None).order_by("-created_at")[:limit]
    )


def task_ids_to_dispatch(*, now: datetime) -> tuple[list[tuple[Any, int]], list[Any]]:
    """What the dispatcher sends again: (id, priority) of pending tasks waiting past
    the grace period (but not those of an owner at MAX_RUNS_PER_USER, who gets a run
    when one of theirs ends), and ids of running tasks whose run was lost."""
    waiting_tasks = ContentTask.objects.waiting_for_dispatch(now)
    if settings.MAX_RUNS_PER_USER:
        at_cap = ContentTask.objects.owners_at_cap(now, settings.MAX_RUNS_PER_USER)
        waiting_tasks = waiting_tasks.exclude(created_by__in=at_cap)
    waiting = [(task.pk, task.celery_priority) for task in waiting_tasks.only("pk", "priority")]
    lost = list(ContentTask.objects.with_lost_runs(now).values_list("pk", flat=True))
    return waiting, lost


class Turns(NamedTuple):
    """The turns around a task joining the queue of its priority (None: there is none)."""

    running: int | None  # the latest turn of the runs in progress
    first_waiting: int | None  # the lowest turn of the pending tasks
    owners_last: int | None  # the latest turn of the owner's tasks pending or in progress


def task_turns(*, task: ContentTask) -> Turns:
    """The turns among the other tasks of the task's priority, read in one statement."""
    same_rank = ContentTask.objects.alive().filter(queue_rank=task.queue_rank).exclude(pk=task.pk)
    running = same_rank.filter(status=Status.IN_PROGRESS)
    pending = same_rank.filter(status=Status.PENDING)

    def turn(tasks: QuerySet, order: str) -> Subquery:
        return Subquery(tasks.order_by(order).values("queue_turn")[:1])

    owner = {"created_by_id": task.created_by_id}
    running_turn, first_waiting, owners_pending, owners_running = (
        ContentTask.objects.filter(pk=task.pk)
        .values_list(
            turn(running, "-queue_turn"),
            turn(pending, "queue_turn"),
            turn(pending.filter(**owner), "-queue_turn"),
            turn(running.filter(**owner), "-queue_turn"),
        )
        .get()
    )
    owners = [value for value in (owners_pending, owners_running) if value is not None]
    return Turns(running_turn, first_waiting, max(owners, default=None))


def task_next_of_owner(*, owner_id) -> tuple[Any, int] | None:
    """(id, priority) of the owner's pending task whose turn comes first, if any."""
    task = (
        ContentTask.objects.in_turn(timezone.now())
        .filter(created_by_id=owner_id)
        .only("pk", "priority")
        .first()
    )
    return None if task is None else (task.pk, task.celery_priority)


def task_finished_outputs(*, task: ContentTask) -> dict[str, dict[str, Any]]:
    """The outputs of the current generation's finished (or skipped) stages, by stage,
    read afresh: what a run does not have to do again."""
    runs = StageRun.objects.filter(
        task=task,
        generation=task.generation,
        status__in=[StageRunStatus.SUCCEEDED, StageRunStatus.SKIPPED],
    )
    return {run.stage: run.output or {} for run in runs}


def task_draft(task: ContentTask, generation: int | None = None) -> Draft | None:
    """The edited draft of a generation (the current one by default), if an editor has
    edited it; from prefetched drafts when there are any."""
    generation = task.generation if generation is None else generation
    for draft in task.drafts.all():
        if draft.generation == generation:
            return draft
    return None


def task_result(task: ContentTask, generation: int | None = None) -> dict[str, Any] | None:
    """The draft as the contract shows it (an editor's edits included); None until a
    draft exists. The current generation's, or an earlier one's."""
    generation = task.generation if generation is None else generation
    outputs = {
        run.stage: run.output or {}
        for run in task.stage_runs.all()
        if run.generation == generation and run.status == StageRunStatus.SUCCEEDED
    }
    if not outputs.get("draft"):
        return None
    draft = current_draft(outputs)  # the quality loop's rewrite, if any
    review = outputs.get("review", {})
    seo = outputs.get("seo", {})
    image = outputs.get("image", {})
    result = {
        "title": draft.get("title", ""),
        "excerpt": seo.get("excerpt") or draft.get("excerpt", ""),
        "body_markdown": draft.get("markdown", ""),
        "body_html": draft.get("html", ""),
        "image_url": image.get("image_url", ""),
        "seo_title": seo.get("seo_title", ""),
        "meta_description": seo.get("meta_description", ""),
        "tags": seo.get("tags", []),
        "slug": seo.get("slug", ""),
        "quality_score": review.get("quality_score"),
        "qa_feedback": review.get("qa_feedback", ""),
        "scores": review.get("scores") or {},
        # The quality loop: each review, before and after each rewrite.
        "review_rounds": [
            {
                key: round_.get(key)
                for key in ("round", "quality_score", "scores", "issues", "word_count")
            }
            for round_ in review.get("rounds", [])
        ],  # fmt: skip
        # The numbered sources the draft cites ([n]), without their text.
        "sources": task_sources(outputs.get("research", {})),
        # Each cited sentence of the draft and its verdict against its sources.
        "claims": review.get("claims") or [],
    }
    edited = task_draft(task, generation)
    if edited is not None:
        result.update({field: getattr(edited, field) for field in EDITABLE_FIELDS})
        result["body_html"] = edited.body_html
    result["feedback_checklist"] = review.get("feedback_checklist") or []
    # The claims and the rules as they were checked on the text under review: on the
    # edited text when an editor saved it, as the review found them otherwise.
    checked = (edited.checks if edited is not None else None) or {}
    if "claims" in checked:
        result["claims"] = checked["claims"]
    result["style"] = checked.get("style") or review.get("style")
    # What an approval names to decide this text and no other (expected_content_hash).
    result["content_hash"] = content_hash(result)
    return result


def task_stage_output(task: ContentTask, stage: str, generation: int | None = None) -> dict:
    """The output of a generation's (the current one's) succeeded run of `stage`; {}
    when there is none."""
    generation = task.generation if generation is None else generation
    runs = task.stage_runs.all()
    return next(
        (run.output or {} for run in runs
         if run.generation == generation and run.stage == stage
         and run.status == StageRunStatus.SUCCEEDED),
        {},
    )  # fmt: skip


def task_research_sources(task: ContentTask, generation: int | None = None) -> list[dict]:
    """The numbered sources a generation's research kept ({"n", "url", "title", "text",
    "ok", ...}; n from 1 in their order where research gave none), as the claims
    check reads them; [] before research."""
    return numbered_sources(task_stage_output(task, "research", generation))


def task_sources(research: dict[str, Any]) -> list[dict[str, Any]]:
    """The task's numbered source list as the contract shows it: {n, url, title,
    fetched_at} of every source research read (or tried to), in the task's order."""
    return [
        {"n": source["n"], "url": source.get("url", ""), "title": source.get("title", ""),
         "fetched_at": source.get("fetched_at")}
        for source in numbered_sources(research)
    ]  # fmt: skip


def task_content_hash(task: ContentTask) -> str:
    """The fingerprint of the current draft's approved fields (see content_hash)."""
    return content_hash(task_result(task) or {})


def task_cost(task: ContentTask) -> Decimal:
    return sum((run.cost for run in task.stage_runs.all()), Decimal("0"))


def task_draft_versions(task: ContentTask) -> list:
    """The versions of the current generation's draft, oldest first (who, when, why):
    the pipeline's text, then each editor's edit. Empty until an editor edits it."""
    draft = task_draft(task)
    if draft is None:
        return []
    return list(draft.history.select_related("history_user").order_by("history_date"))


def task_draft_version(task: ContentTask) -> int:
    """Which version of the current generation's draft is its text now: the number of
    editors' saved edits (0: the pipeline's text, edited or not yet); the index, from
    0, of the last of `task_draft_versions`."""
    draft = task_draft(task)
    return 0 if draft is None else max(draft.history.count() - 1, 0)


# What a task's owner reads of a failed attempt; the task's `error` says why it failed.
STAGE_RUN_ERROR_FOR_OWNERS = "This attempt failed; editors see why in the admin."


def stage_run_error_for(*, user, stage_run: StageRun) -> str:
    """Why a stage attempt failed, as `user` may read it: editors the detail, as the
    admin shows it; anyone else only that it failed, since the detail can name the
    model server (its address, what it answered)."""
    if not stage_run.error or is_editor(user):
        return stage_run.error
    return STAGE_RUN_ERROR_FOR_OWNERS


def task_stage_log(task: ContentTask) -> list[StageRun]:
    """Every stage attempt of every generation, in order (model, tokens, cost)."""
    return sorted(task.stage_runs.all(), key=lambda run: (run.started_at, run.pk))


def task_models_used(task: ContentTask, generation: int | None = None) -> list[str]:
    """The models that wrote a generation's draft (its succeeded stages), in order."""
    generation = task.generation if generation is None else generation
    models = [
        run.model
        for run in task_stage_log(task)
        if run.generation == generation and run.status == StageRunStatus.SUCCEEDED and run.model
    ]
    return list(dict.fromkeys(models))


def webhook_list_for_user(*, user) -> QuerySet[Webhook]:
    """The user's own webhooks, oldest first (editors too see only theirs)."""
    return Webhook.objects.filter(owner=user).order_by("created_at", "id")


# --- An open socket's rights, read again while it stays open (tasks/consumers.py) ---------


def task_owner_ids(*, task_ids) -> dict[Any, int]:
    """The owner's id of each task that exists, deleted or not, in one query: an open
    socket's rights to a task's events are its owner's or an editor's, and a task
    deleted since keeps its followers, who still get the cancellation its deletion
    sent (asking for its state then answers 4404, see task_get_for_follower)."""
    return dict(ContentTask.objects.filter(pk__in=task_ids).values_list("pk", "created_by_id"))


# --- The feedback ledger and the style guide ------------------------------------------------


def task_feedback_notes(task: ContentTask) -> list[FeedbackNote]:
    """The editors' notes on the task's earlier generations, oldest first (prefetched
    ones when there are)."""
    notes = [note for note in task.feedback_notes.all() if note.generation < task.generation]
    return sorted(notes, key=lambda note: (note.created_at, note.pk))


def task_feedback_history(task: ContentTask) -> list[dict[str, Any]]:
    """Every request-changes (or reject) note on the task, oldest first, as the API
    shows it: {note, by, at, generation}."""
    notes = sorted(task.feedback_notes.all(), key=lambda note: (note.created_at, note.pk))
    return [
        {"note": note.note, "by": note.author.username if note.author else None,
         "at": note.created_at, "generation": note.generation}
        for note in notes
    ]  # fmt: skip


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def style_guide_current() -> StyleRules:
    """The style guide's rules as they stand now (version 0 and no rule when it has
    never been saved)."""
    guide = StyleGuide.objects.filter(pk=1).first()
    if guide is None:
        return StyleRules()
    return StyleRules(
        version=guide.version,
        banned_phrases=_lines(guide.banned_phrases),
        no_exclamation_marks=guide.no_exclamation_marks,
        max_sentence_words=guide.max_sentence_words or None,
        required_phrases=_lines(guide.required_phrases),
        model_rules=_lines(guide.model_rules),
    )
