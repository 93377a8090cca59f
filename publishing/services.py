"""Writes on posts: the only code that writes a Post row.

Each service writes posts and nothing else, with one exception, the schedule: a
scheduled post goes live by its time alone, and `post_publish_due` keeps its task's
status true to that. What readers see changing is also an event for the webhooks of
the post's task's owner, recorded by the service that changed it, after commit like
every delivery (`post.published` when a post goes live, `post.updated` when a live
post gets a new version, `post.unpublished` when a live post goes off the site: see
`post_event_record`). What any other change of a post means for its task (taken down:
back to approved; put back: published; its approved text changed before it went live:
awaiting approval again) is the approval workflow's, which calls these beside the
task's services (`approvals.services`, the one place that moves drafts and posts
through review and publication). A change that would put unapproved text on the way
to the site is refused here (ApprovalNeeded), whoever calls."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.text import slugify

from contentpipeline.cache import content_changed
from contentpipeline.errors import ApplicationError, InvalidTransition, NotFound
from contentpipeline.roles import role_name, system_user
from tasks.models import ContentTask
from tasks.pipeline.rendering import render_markdown
from tasks.pipeline.text import APPROVED_FIELDS, content_hash
from tasks.selectors import task_models_used, task_result
from tasks.services import task_mark_published
from tasks.services.webhooks import webhook_event_record

from .models import Post
from .provenance import cited_sources
from .selectors import post_task_ids_due, post_versions

POST_PUBLISHED = "post.published"
POST_UPDATED = "post.updated"
POST_UNPUBLISHED = "post.unpublished"
# The reason of the version that records a post taken down at its expiry date.
EXPIRED = "expired"


def unique_slug(title: str, *, exclude_pk: int | None = None) -> str:
    base = slugify(title)[:80].strip("-") or "post"
    slug, n = base, 1
    taken = Post.objects.exclude(pk=exclude_pk) if exclude_pk else Post.objects.all()
    while taken.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def post_publish(
    *,
    task: ContentTask,
    publish_at: datetime | None = None,
    user=None,
    approved_at: datetime | None = None,
    approved_by_role: str | None = None,
) -> Post:
    """Create the post of an approved task from its draft (published now, or scheduled
    for `publish_at`), with the HTML the draft stage rendered and sanitized.

    The post keeps its provenance: the models that wrote the draft, the numbered
    sources it cites ({n, url, title, fetched_at}, http(s) URLs only), when it was
    approved (`approved_at`, the decision's time; now if not given), the approver's
    role (`user`'s, see contentpipeline.roles.role_name) and the content hash of the
    text approved, which the live text is compared with later."""
    result = task_result(task)
    if result is None:
        raise ValueError("A task without a draft cannot be published")
    post = Post(
        slug=unique_slug(result.get("slug") or result["title"]),
        title=result["title"][:200],
        excerpt=result["excerpt"],
        body_markdown=result["body_markdown"],
        body_html=result["body_html"],
        image_url=result["image_url"],
        tags=result["tags"][:10],
        category=task.category,
        seo_title=result["seo_title"][:60],
        meta_description=result["meta_description"][:160],
        published_at=publish_at or timezone.now(),
        task=task,
        generation=task.generation,
        models_used=task_models_used(task),
        sources=cited_sources(result.get("sources", [])),
        approved_at=approved_at or timezone.now(),
        approved_by_role=(approved_by_role or role_name(user))[:20],
        approved_hash=result["content_hash"],
    )
    content_changed()
    post._history_user = user or system_user()
    post._change_reason = "published from approved draft"
    for attempt in range(5):
        try:
            with transaction.atomic():
                post.save()
            if post.is_live:
                post_event_record(post=post, event=POST_PUBLISHED)
            return post
        except IntegrityError:
            # Another post took the slug between our check and our insert.
            if attempt == 4:
                raise
            post.slug = unique_slug(f"{result['title']} {get_random_string(4).lower()}")
    return post


def post_publish_due() -> int:
    """Mark approved tasks whose scheduled post time has come as published. The post
    itself is already visible from `published_at` on; this keeps the task's status
    true to it, and tells the owner's webhooks (`post.published`) with the move.
    Returns how many tasks moved."""
    moved = sum(_mark_published(task_id) for task_id in post_task_ids_due())
    if moved:
        content_changed()  # pages cached before these went live did not show them
    return moved


@transaction.atomic
def _mark_published(task_id) -> bool:
    if not task_mark_published(task_id=task_id):
        return False
    post = Post.objects.filter(task_id=task_id).first()
    if post is not None and post.is_live:
        post_event_record(post=post, event=POST_PUBLISHED)
    return True


class ApprovalNeeded(InvalidTransition):
    """The change would alter the text an editor approved for a post that is not live
    yet: only a new approval may put that text on its way to the site."""


@transaction.atomic
def post_update(*, post: Post, user=None, reason: str = "edited") -> Post:
    """Save an edited post as a new version, its HTML rendered and sanitized again
    from the Markdown (never taken from the editor's form). A save that changes nothing
    is no version.

    A post that is not live yet was approved as it stood: an edit that changes its
    text or metadata raises ApprovalNeeded (409) and saves nothing. That edit is the
    approval workflow's (`approvals.services.post_edit`): it withdraws the post and
    sends the text back for approval.

    Its schedule is checked against the post as stored (`post_schedule_problems`): a
    scheduled post is moved only to a time to come, a live post not into the future
    (InvalidTransition, 409: it would leave the site behind its task's back), and a
    new expiry date is in the future and after the publication (ApplicationError,
    400, with the field's error). A version of a live post is a `post.updated` event."""
    stored = _locked(post)
    if stored is not None and _approval_lapses(stored, post):
        raise ApprovalNeeded(
            "This post was approved as it stands and is not live yet: a change to its "
            "text goes back to approval.",
            extra={"status": "scheduled"},
        )
    if stored is not None:
        _require_schedule(stored, post)
    post.body_html = render_markdown(post.body_markdown)
    post._history_user = user
    post._change_reason = reason
    if stored is not None and not _tracked_changes(stored, post):
        # A save that changes nothing is no version. simple-history skips the record
        # when the attribute exists at all (hasattr), so it is set only here.
        post.skip_history_when_saving = True
        try:
            post.save()
        finally:
            del post.skip_history_when_saving
        return post
    post.save()
    content_changed()
    if post.is_live:
        post_event_record(post=post, event=POST_UPDATED)
    return post


@transaction.atomic
def post_withdraw(*, post: Post, user, reason: str) -> None:
    """Take a post that is not live yet off the schedule: its row goes, and a version
    records who, when and why (the approved text it held stays in its history).
    InvalidTransition (409) for a live post: that one is unpublished instead."""
    stored = Post.objects.select_for_update().get(pk=post.pk)
    if stored.is_live:
        raise InvalidTransition(
            "A live post is unpublished, not withdrawn.", extra={"status": "published"}
        )
    stored._history_user = user
    stored._change_reason = reason
    stored.delete()
    content_changed()


@transaction.atomic
def post_unpublish(*, post: Post, user, reason: str = "") -> Post:
    """Take a post off the site at once (a version records who, when and `reason`, by
    default "unpublished by <user>"); a live one is a `post.unpublished` event.
    InvalidTransition (409) when it is off already. Its task is the workflow's
    (`approvals.services.post_unpublish` moves both)."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.unpublished_at is not None:
        raise InvalidTransition(
            "This post is already unpublished.", extra={"status": "unpublished"}
        )
    was_live = post.is_live
    post.unpublished_at = timezone.now()
    post._history_user = user
    post._change_reason = reason or f"unpublished by {user}"
    post.save()
    content_changed()
    if was_live:
        post_event_record(post=post, event=POST_UNPUBLISHED, reason=post._change_reason)
    return post


@transaction.atomic
def post_republish(*, post: Post, user, reason: str = "") -> Post:
    """Put an unpublished post back on the site (live from now, or still at its
    scheduled time if that is later); a version records it (`reason`, by default
    "published again by <user>"), and a post live again is a `post.published` event.
    An expiry date that has passed is cleared (the expiry job would take the post down
    again at once). InvalidTransition (409) for a post that is not unpublished. Its
    task is the workflow's (`approvals.services.post_republish` moves both)."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.unpublished_at is None:
        status = "published" if post.is_live else "scheduled"
        raise InvalidTransition("This post is not unpublished.", extra={"status": status})
    post.unpublished_at = None
    if post.expire_at is not None and post.expire_at <= timezone.now():
        post.expire_at = None
    post._history_user = user
    post._change_reason = reason or f"published again by {user}"
    post.save()
    content_changed()
    if post.is_live:
        post_event_record(post=post, event=POST_PUBLISHED)
    return post


# The fields an editor or a publisher may change over the API (`post_with_changes`);
# `published_at` is the API's `publish_at`.
CHANGEABLE_FIELDS = (*APPROVED_FIELDS, "category", "published_at", "expire_at")


def post_with_changes(*, post: Post, changes: Mapping[str, Any]) -> Post:
    """The post as stored now, its row locked until the transaction ends, with
    `changes` (field -> value, of CHANGEABLE_FIELDS) applied and not saved: what an
    edit saves (`post_update`, or the workflow's `post_edit`). Read under the lock, so
    an edit never writes back what another change (an unpublish) altered meanwhile.
    ApplicationError (400) for another field; NotFound for a post that is gone."""
    unknown = set(changes) - set(CHANGEABLE_FIELDS)
    if unknown:
        raise ApplicationError(f"Not changeable: {', '.join(sorted(unknown))}.")
    stored = _locked(post)
    if stored is None:
        raise NotFound("Post not found.")
    for name, value in changes.items():
        setattr(stored, name, value)
    return stored


def post_schedule_problems(*, stored: Post, edited: Post) -> dict[str, str]:
    """What is wrong with the edited post's schedule, field by field (empty: nothing),
    against the post as stored: a scheduled post is rescheduled only to a time to come;
    a live post is not moved into the future (it would leave the site while its task
    stays published: unpublish it instead); a new or changed expiry date is in the
    future and after the publication. The admin's form and `post_update` ask it."""
    now = timezone.now()
    problems = {}
    if edited.published_at != stored.published_at and stored.unpublished_at is None:
        if stored.published_at > now and edited.published_at <= now:
            problems["published_at"] = "A scheduled post is rescheduled to a time to come."
        elif stored.published_at <= now and edited.published_at > now:
            problems["published_at"] = (
                "A live post is not moved into the future: unpublish it instead."
            )
    expiry_moved = (
        edited.expire_at != stored.expire_at or edited.published_at != stored.published_at
    )
    if edited.expire_at is not None and expiry_moved:
        if edited.expire_at <= now:
            problems["expire_at"] = "The expiry date is in the past."
        elif edited.expire_at <= edited.published_at:
            problems["expire_at"] = "The expiry date comes after the publication."
    return problems


def post_lock_expired(*, post_id: int) -> Post | None:
    """The post, its row locked until the transaction ends, if it is still on the site
    (or scheduled) and its expiry date has come; None otherwise (unpublished or given a
    later date meanwhile)."""
    return (
        Post.objects.select_for_update()
        .filter(pk=post_id, unpublished_at__isnull=True, expire_at__lte=timezone.now())
        .first()
    )


def post_public_url(post: Post) -> str:
    """The post's page on the public site, absolute (SITE_URL)."""
    return settings.SITE_URL.rstrip("/") + post.get_absolute_url()


def post_event_record(*, post: Post, event: str, reason: str = "") -> int:
    """`event` (POST_PUBLISHED, POST_UPDATED or POST_UNPUBLISHED) to each active
    webhook of the owner of the post's task, sent after commit (a post written by hand,
    without a task, has nobody to tell). The body: `event`, `task_id`, `slug`,
    `title`, `url` (the public page, absolute), `published_at`, `expire_at`,
    `version_id` (the post's newest version, as GET /api/posts/{slug}/versions lists
    it), `reason` (why, for `post.unpublished`: "expired" at the expiry date) and
    `timestamp`. How many deliveries were made."""
    if post.task_id is None:
        return 0
    version = post_versions(post).values_list("history_id", flat=True).first()
    payload = {
        "slug": post.slug,
        "title": post.title,
        "url": post_public_url(post),
        "published_at": post.published_at.isoformat(),
        "expire_at": post.expire_at.isoformat() if post.expire_at else None,
        "version_id": version,
        "reason": reason,
    }
    return webhook_event_record(task_id=post.task_id, event=event, payload=payload)


def post_as_version(*, post: Post, version_id: int) -> Post:
    """`post` with the text and metadata of its version `version_id` (not saved): what a
    revert saves. NotFound for a version that is not one of this post's."""
    version = post.history.filter(history_id=version_id).first()
    if version is None:
        raise NotFound("No such version of this post.")
    for name in (*APPROVED_FIELDS, "category", "image_url"):
        setattr(post, name, getattr(version, name))
    return post


@transaction.atomic
def post_revert(*, post: Post, version_id: int, user) -> Post:
    """Restore a version's text and metadata as a new version (its own reason says
    which). The same rules as an edit apply (`post_update`)."""
    restored = post_as_version(post=post, version_id=version_id)
    return post_update(post=restored, user=user, reason=f"reverted to version {version_id}")


def post_needs_approval_again(*, post: Post) -> bool:
    """Whether saving `post` as edited would change the approved text of a post that
    is not live yet (its task approved, so it may be re-opened). Locks the stored row
    until the transaction ends, so the answer holds for what the caller does next."""
    stored = _locked(post)
    return stored is not None and _approval_lapses(stored, post)


def post_approved_text(post: Post) -> dict:
    """The fields of a post an editor approves (and the draft's content hash covers)."""
    return {name: getattr(post, name) for name in APPROVED_FIELDS}


# Kept by save() itself (timestamps, slugs derived from the names): never a change.
_UNTRACKED = {"created_at", "updated_at", "tag_slugs", "category_slug"}


def _tracked_changes(stored: Post, edited: Post) -> list[str]:
    """The fields an edit changed, of those a version records (the database's own
    generated columns aside)."""
    return [
        field.attname
        for field in Post._meta.concrete_fields
        if field.attname not in _UNTRACKED
        and not getattr(field, "generated", False)
        and getattr(stored, field.attname) != getattr(edited, field.attname)
    ]


def _require_schedule(stored: Post, edited: Post) -> None:
    problems = post_schedule_problems(stored=stored, edited=edited)
    if not problems:
        return
    live_moved_ahead = "published_at" in problems and stored.published_at <= timezone.now()
    error = InvalidTransition if live_moved_ahead else ApplicationError
    field = next(iter(problems))
    name = {"published_at": "publish_at"}.get(field, field)
    raise error(problems[field], extra={name: [problems[field]]})


def _locked(post: Post) -> Post | None:
    """The post as stored, its row locked until the transaction ends."""
    return Post.objects.select_for_update().filter(pk=post.pk).first()


def _approval_lapses(stored: Post, edited: Post) -> bool:
    """Whether `edited` changes the approved text of `stored`, a post from a task that
    is not live yet (and whose task is still approved, so approval may re-open)."""
    return (
        stored.task_id is not None
        and stored.published_at > timezone.now()
        and stored.task.may("reopen")
        and content_hash(post_approved_text(stored)) != content_hash(post_approved_text(edited))
    )
