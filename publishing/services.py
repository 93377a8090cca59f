"""Writes on posts: the only code that writes a Post row.

Each service writes posts and nothing else, with one exception, the schedule: a
scheduled post goes live by its time alone, and `post_publish_due` keeps its task's
status true to that. What any other change of a post means for its task (taken down:
back to approved; put back: published; its approved text changed before it went live:
awaiting approval again) is the approval workflow's, which calls these beside the
task's services (`approvals.services`, the one place that moves drafts and posts
through review and publication). A change that would put unapproved text on the way
to the site is refused here (ApprovalNeeded), whoever calls."""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.text import slugify

from contentpipeline.cache import content_changed
from contentpipeline.errors import InvalidTransition, NotFound
from contentpipeline.roles import role_name, system_user
from tasks.models import ContentTask
from tasks.pipeline.rendering import render_markdown
from tasks.pipeline.text import APPROVED_FIELDS, content_hash
from tasks.selectors import task_models_used, task_result
from tasks.services import task_mark_published

from .models import Post
from .provenance import cited_sources
from .selectors import post_task_ids_due


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
        approved_by_role=role_name(user),
        approved_hash=result["content_hash"],
    )
    content_changed()
    post._history_user = user or system_user()
    post._change_reason = "published from approved draft"
    for attempt in range(5):
        try:
            with transaction.atomic():
                post.save()
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
    true to it. Returns how many tasks moved."""
    due = post_task_ids_due()
    moved = sum(task_mark_published(task_id=task_id) for task_id in due)
    if moved:
        content_changed()  # pages cached before these went live did not show them
    return moved


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
    sends the text back for approval."""
    stored = _locked(post)
    if stored is not None and _approval_lapses(stored, post):
        raise ApprovalNeeded(
            "This post was approved as it stands and is not live yet: a change to its "
            "text goes back to approval.",
            extra={"status": "scheduled"},
        )
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
def post_unpublish(*, post: Post, user) -> Post:
    """Take a post off the site at once (a version records who and when).
    InvalidTransition (409) when it is off already. Its task is the workflow's
    (`approvals.services.post_unpublish` moves both)."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.unpublished_at is not None:
        raise InvalidTransition(
            "This post is already unpublished.", extra={"status": "unpublished"}
        )
    post.unpublished_at = timezone.now()
    post._history_user = user
    post._change_reason = f"unpublished by {user}"
    post.save()
    content_changed()
    return post


@transaction.atomic
def post_republish(*, post: Post, user) -> Post:
    """Put an unpublished post back on the site (live from now, or still at its
    scheduled time if that is later); a version records it. InvalidTransition (409)
    for a post that is not unpublished. Its task is the workflow's
    (`approvals.services.post_republish` moves both)."""
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.unpublished_at is None:
        raise InvalidTransition("This post is not unpublished.", extra={"status": "published"})
    post.unpublished_at = None
    post._history_user = user
    post._change_reason = f"published again by {user}"
    post.save()
    content_changed()
    return post


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
