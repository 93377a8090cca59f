"""What a user does to a task: create it, pause, resume, cancel, retry, delete it, or
one of these to many tasks at once. The API and the admin both call these."""

from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from contentpipeline.errors import ApplicationError, InvalidTransition, NotFound, each_on_its_own
from contentpipeline.roles import is_editor

from ..models import ContentTask, Priority, Quality, Style, TaskType, Tone
from ..overlaps import overlaps_for_new_task
from ._common import lock, save
from .dispatch import enqueue_on_commit

MAX_KEYWORDS = 20
MIN_TOPIC_LENGTH = 3
MAX_SOURCES = 5
MAX_SOURCE_URL_LENGTH = 2000
_http_url = URLValidator(schemes=["http", "https"])


def clean_keywords(keywords: list[str] | tuple[str, ...] | None) -> list[str]:
    """Keywords stripped, empty ones and case-insensitive repeats dropped, order kept;
    ApplicationError (400) beyond MAX_KEYWORDS."""
    seen: set[str] = set()
    cleaned: list[str] = []
    for keyword in (str(item).strip() for item in keywords or ()):
        if keyword and keyword.lower() not in seen:
            seen.add(keyword.lower())
            cleaned.append(keyword)
    if len(cleaned) > MAX_KEYWORDS:
        raise ApplicationError(f"A task has at most {MAX_KEYWORDS} keywords.")
    return cleaned


def clean_sources(sources: list[str] | tuple[str, ...] | None) -> list[str]:
    """Source URLs stripped, repeats dropped, order kept; ApplicationError (400) for
    more than MAX_SOURCES or anything that is not an http(s) URL."""
    cleaned: list[str] = []
    for source in sources or ():
        url = str(source).strip()
        if "\x00" in url or len(url) > MAX_SOURCE_URL_LENGTH:
            raise ApplicationError(f"Not a usable source URL: {url[:100]!r}")
        try:
            _http_url(url)
        except ValidationError as exc:
            raise ApplicationError(f"Not an http(s) URL: {url[:100]!r}") from exc
        if url not in cleaned:
            cleaned.append(url)
    if len(cleaned) > MAX_SOURCES:
        raise ApplicationError(f"A task has at most {MAX_SOURCES} sources.")
    return cleaned


@transaction.atomic
def task_create(
    *,
    user: AbstractBaseUser,
    topic: str,
    task_type: str = TaskType.BLOG_POST,
    keywords: list[str] | None = None,
    primary_keyword: str = "",
    target_audience: str = "",
    category: str = "",
    tone: str = Tone.PROFESSIONAL,
    style: str = Style.EDUCATIONAL,
    target_length: int = 800,
    generate_image: bool = True,
    quality_preference: str = Quality.BALANCED,
    priority: str = Priority.NORMAL,
    sources: list[str] | None = None,
    max_cost: Decimal | None = None,
    use_cache: bool = True,
    review_plan: bool = False,
    due_at: datetime | None = None,
) -> ContentTask:
    """Store a task as `pending` and queue it once the row is committed. Keywords are
    de-duplicated (case-insensitively) and at most MAX_KEYWORDS; the topic has at
    least MIN_TOPIC_LENGTH characters; sources are at most MAX_SOURCES http(s) URLs;
    max_cost is not negative; no text holds a NUL byte (ApplicationError, 400);
    with `review_plan` the task waits after research for an editor to approve its plan
    (tasks.services.plans); `due_at`, when given, is an aware time in the future
    (ApplicationError, 400): the review's deadline;
    every field is validated against the model (ValidationError, 400) before anything
    is written."""
    keywords = clean_keywords(keywords)
    sources = clean_sources(sources)
    if max_cost is not None and max_cost < 0:
        raise ApplicationError("max_cost may not be negative.")
    if due_at is not None:
        if timezone.is_naive(due_at):
            raise ApplicationError("due_at needs a time zone (an offset, or Z for UTC).")
        if due_at <= timezone.now():
            raise ApplicationError("due_at is in the past: give a time still to come.")
    texts = [topic, primary_keyword, target_audience, category, *keywords]
    if any("\x00" in text for text in texts):
        raise ApplicationError("Text fields may not contain NUL bytes.")
    topic = topic.strip()
    if len(topic) < MIN_TOPIC_LENGTH:
        raise ApplicationError(f"The topic needs at least {MIN_TOPIC_LENGTH} characters.")
    task = ContentTask(
        created_by=user,
        topic=topic,
        task_type=task_type,
        keywords=keywords,
        primary_keyword=primary_keyword or (keywords[0] if keywords else ""),
        target_audience=target_audience,
        category=category,
        tone=tone,
        style=style,
        target_length=target_length,
        generate_image=generate_image,
        quality_preference=quality_preference,
        priority=priority,
        sources=sources,
        max_cost=max_cost,
        use_cache=use_cache,
        review_plan=review_plan,
        due_at=due_at,
    )
    task.full_clean()
    save(task, user=user, reason="created", message="Task queued")
    enqueue_on_commit(task)
    return task


ON_OVERLAP = ("allow", "reject")


class Overlapping(InvalidTransition):
    """The new task overlaps published posts or open tasks, and was to be created only
    if it did not (`on_overlap="reject"`): 409, nothing created. `overlaps` lists them."""


class Submitted(NamedTuple):
    """A task created, and what it overlaps (tasks.overlaps.overlaps_for_new_task)."""

    task: ContentTask
    overlaps: list[dict[str, Any]]


def task_submit(
    *, user: AbstractBaseUser, topic: str, on_overlap: str = "allow", **fields: Any
) -> Submitted:
    """Create a task as `task_create` does (its contract holds), told first which
    published posts and open tasks it overlaps (those `user` may read; at most ten).
    With `on_overlap="reject"` a task that overlaps anything is not created:
    Overlapping (409) with the overlaps. ApplicationError (400) for another
    `on_overlap`. Two requests at once may both find no overlap: it warns, it does not
    lock a subject."""
    if on_overlap not in ON_OVERLAP:
        raise ApplicationError(f"on_overlap is one of: {', '.join(ON_OVERLAP)}.")
    overlaps = overlaps_for_new_task(
        user=user, topic=topic, primary_keyword=fields.get("primary_keyword") or "",
        keywords=clean_keywords(fields.get("keywords")),
    )  # fmt: skip
    if overlaps and on_overlap == "reject":
        raise Overlapping(
            "This task would write about what published posts or open tasks already cover "
            "(see overlaps): nothing was created. Send on_overlap: allow to create it anyway.",
            extra={"overlaps": overlaps},
        )
    return Submitted(task_create(user=user, topic=topic, **fields), overlaps)


def _lock_for_user(*, user: AbstractBaseUser, task_id) -> ContentTask:
    """The task, locked, if the user may control it (owner or editor); NotFound
    otherwise, so a stranger cannot learn that the id exists."""
    task = lock(task_id)
    if task is None or not (task.created_by_id == user.pk or is_editor(user)):
        raise NotFound("Task not found.")
    return task


@transaction.atomic
def task_pause(*, user: AbstractBaseUser, task_id) -> ContentTask:
    """pending | in_progress -> paused. A running task finishes the stage it is in
    (its output is kept) and starts no further one; its run keeps the lease until
    then, so a resume does not start a second run beside it."""
    task = _lock_for_user(user=user, task_id=task_id)
    task.move("pause")
    return save(task, user=user, reason="paused", message="Paused")


@transaction.atomic
def task_resume(*, user: AbstractBaseUser, task_id) -> ContentTask:
    """paused -> pending, queued again; the run continues at the first stage that had
    not finished (a run still in its stage goes on by itself)."""
    task = _lock_for_user(user=user, task_id=task_id)
    task.move("resume")
    save(task, user=user, reason="resumed", message="Resumed")
    enqueue_on_commit(task)
    return task


@transaction.atomic
def task_cancel(*, user: AbstractBaseUser, task_id) -> ContentTask:
    """pending | in_progress | paused -> cancelled (terminal); a running task stops
    before its next stage."""
    task = _lock_for_user(user=user, task_id=task_id)
    task.move("cancel")
    task.completed_at = timezone.now()
    return save(task, user=user, reason="cancelled", message="Cancelled")


@transaction.atomic
def task_retry(*, user: AbstractBaseUser, task_id) -> ContentTask:
    """failed -> pending, queued again from the stage that failed."""
    task = _lock_for_user(user=user, task_id=task_id)
    task.move("retry")
    task.error = ""
    task.lost_runs = 0
    task.completed_at = None
    save(task, user=user, reason="retried", message="Retrying")
    enqueue_on_commit(task)
    return task


@transaction.atomic
def task_delete(*, user: AbstractBaseUser, task_id) -> ContentTask:
    """Soft delete: the task leaves every listing and answers 404, the row and its
    history stay for the audit trail. A task that may still run is cancelled first."""
    task = _lock_for_user(user=user, task_id=task_id)
    if task.may("cancel"):
        task.move("cancel")
        task.completed_at = timezone.now()
    task.deleted_at = timezone.now()
    return save(task, user=user, reason="deleted", message="Deleted")


BULK_ACTIONS = {
    "cancel": task_cancel,
    "pause": task_pause,
    "resume": task_resume,
    "retry": task_retry,
    "delete": task_delete,
}


def task_bulk(*, user: AbstractBaseUser, task_ids: list, action: str) -> list[dict]:
    """Apply one action to many tasks, each in its own transaction: one bad id gets
    its own error and does not stop the others. One result per id, in order:
    `{task_id, ok, status, error}`."""
    service = BULK_ACTIONS[action]

    def act(task_id):
        task = service(user=user, task_id=task_id)
        return task.pk, task.status

    return each_on_its_own(task_ids, act)
