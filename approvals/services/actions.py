"""The approval workflow: every action that moves a draft or a post through review
and publication, in one place. The review desk in admin, the posts admin, the API and
`manage.py approval_decide` call these and nothing below them, so an action is the
same whichever door it came through.

Each action orchestrates top down and nothing below calls back up: the task moves
through the tasks app's services (which lock and own its row), the post is written by
the publishing app's services (which own the posts), and the decision is recorded
here.

What each does (task: the tasks app's move; post: the publishing app's write):

- `draft_approve`: task awaiting_approval -> approved, on to published when the post
  is live at once; post created, live now or at `publish_at`; decision recorded (with
  the unsupported claims the editor acknowledged), the review claim ends.
- `draft_reject`: task -> rejected, feedback kept; decision recorded, claim ends.
- `draft_request_changes`: task -> rejected -> pending as a new generation that
  answers the feedback; decision recorded, claim ends.
- `post_unpublish`: post off the site; task published -> approved. `post_expire_due`
  (the beat job) does it for each post whose expiry date has come, as "expired".
- `post_republish`: post back on the site; task approved -> published when it is live.
- `post_edit`, `post_revert`: a new version of the post; but when they change the
  approved text of a post not live yet, approval re-opens: task approved ->
  awaiting_approval with that text as its draft, the post withdrawn. `post_change`
  is `post_edit` of changes as the API takes them (field -> value).
- `approval_decide` (and `approval_decide_many`): one of the three decisions, as the
  interfaces parse it.

A scheduled post goes live by its time alone: publishing's beat job
(`publishing.services.post_publish_due`) marks its task published then.
"""

import ipaddress
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any, NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from contentpipeline.errors import Forbidden, InvalidTransition, each_on_its_own
from contentpipeline.roles import role_name, system_user
from publishing import services as posts
from publishing.models import Post
from publishing.selectors import post_ids_expired
from tasks.interfaces import StatusChange, announce_status_change
from tasks.models import ContentTask, Status
from tasks.pipeline.claims import open_unsupported
from tasks.selectors import task_content_hash, task_result
from tasks.services import (
    task_approve,
    task_approve_step,
    task_lock_for_decision,
    task_mark_published,
    task_mark_unpublished,
    task_regenerate,
    task_reject,
    task_reopen,
)

from ..models import ApprovalDecision, Decision
from ..workflows import Where, in_group, where
from .claims import require_reviewer, review_claim_end
from .comments import comment_feedback_note, comments_mark_sent, comments_open_for_changes


class Decided(NamedTuple):
    """A decision on a draft: its audit record, and the post an approval created."""

    record: ApprovalDecision
    post: Post | None


class DraftChanged(InvalidTransition):
    """The draft is not the text the editor read (its content hash differs): deciding
    would decide a text nobody read. Its `content_hash` is the current one."""


class UnsupportedClaims(InvalidTransition):
    """The draft states things its cited sources do not say (claims found
    `unsupported`), and the approval did not acknowledge them: nothing was decided.
    Its `claims` are those claims."""


# --- Decisions on a draft awaiting approval -------------------------------------------------


@transaction.atomic
def draft_approve(
    *,
    task_id,
    reviewer: AbstractBaseUser,
    feedback: str = "",
    publish_at: datetime | None = None,
    request_ip: str | None = None,
    expected_content_hash: str | None = None,
    acknowledge_unsupported: bool = False,
    step: int | None = None,
) -> Decided:
    """Approve the current step of a draft awaiting approval (`approvals.workflows`
    says which step that is). A step that is not its workflow's last is recorded and
    the task stays awaiting approval, waiting for the next step (its history says
    so); nothing is published. The last step's approval publishes the draft: its
    post is created, live now
    (the task moves on to published) or at `publish_at` (the task stays approved until
    then). The decision is recorded with the exact text approved (its content hash),
    who held the review claim and the request's IP.

    Only members of the current step's group (and superusers) decide it (Forbidden,
    403, naming the step). Who approved an earlier step of the same draft may not
    approve another (InvalidTransition, 409) unless the workflow allows the same
    reviewer. With `step`, only that step is decided (409 when the draft is at
    another). The task's row is locked first, so of many reviewers deciding at once
    one decides the step and the others decide what follows it, if they may: the
    next step, or (the draft decided) InvalidTransition (409), with nothing written.
    With `expected_content_hash` (the draft's `content_hash` as
    the editor read it), only that text is decided: DraftChanged (409, with the
    current hash) and nothing decided if it was edited since.

    A draft whose current text has claims found `unsupported` (the task's
    `result.claims`: the review's, or those checked again when an editor edited it)
    is approved only with `acknowledge_unsupported`: UnsupportedClaims (409, with the
    claims) and nothing decided otherwise. The decision records the claims acknowledged
    (`acknowledged_claims`). Claims that are `unverifiable` (their source could not be
    read) do not block: nothing says they are wrong."""
    task, here = _lock_current_step(task_id, reviewer, step)
    _require_another_reviewer(here, reviewer)
    _require_text_read(task, expected_content_hash)
    unsupported = _require_claims_acknowledged(task, acknowledge_unsupported)
    if not here.is_last_step:
        following = here.flow.step(here.position + 1)
        reason = (f"approved at step {here.position} ({here.step.name}) by {reviewer}, "
                  f"waiting for step {following.position} ({following.name})")  # fmt: skip
        task_approve_step(task_id=task.pk, user=reviewer, reason=reason)
        # The status stays awaiting_approval: those told of drafts waiting for review
        # (notifications) hear of the next step as of a new draft, once committed.
        reached = StatusChange(
            task_id=str(task.pk), old_status=Status.AWAITING_APPROVAL,
            new_status=Status.AWAITING_APPROVAL, at=timezone.now(), reason=reason,
            user_id=reviewer.pk, step=following.position,
        )  # fmt: skip
        transaction.on_commit(partial(announce_status_change, reached), robust=True)
        record = _record(task, Decision.APPROVED, here, reviewer=reviewer, feedback=feedback,
                         publish_at=publish_at, request_ip=request_ip,
                         acknowledged_claims=unsupported)  # fmt: skip
        return Decided(record, None)
    live = publish_at is None or publish_at <= timezone.now()
    task = task_approve(task_id=task.pk, user=reviewer, published=live)
    record = _record(task, Decision.APPROVED, here, reviewer=reviewer, feedback=feedback,
                     publish_at=publish_at, request_ip=request_ip,
                     acknowledged_claims=unsupported)  # fmt: skip
    # The post's provenance names this decision's time.
    # The approver's role: an editor's, or the group's whose step they decided last.
    role = role_name(reviewer) or here.step.group.lower()
    post = posts.post_publish(
        task=task, publish_at=publish_at, user=reviewer, approved_at=record.created_at,
        approved_by_role=role,
    )  # fmt: skip
    return Decided(record, post)


@transaction.atomic
def draft_reject(
    *,
    task_id,
    reviewer: AbstractBaseUser,
    feedback: str,
    request_ip: str | None = None,
    expected_content_hash: str | None = None,
    step: int | None = None,
) -> Decided:
    """Reject a draft awaiting approval at its current step, with feedback (required:
    ApplicationError, 400, otherwise), and record the decision. Any step may reject;
    its group's members only, the row locked and the text bound as for
    `draft_approve`."""
    task, here = _lock_current_step(task_id, reviewer, step)
    task = task_reject(task_id=task.pk, user=reviewer, feedback=feedback)
    _require_text_read(task, expected_content_hash)
    record = _record(task, Decision.REJECTED, here, reviewer=reviewer, feedback=feedback,
                     request_ip=request_ip)  # fmt: skip
    return Decided(record, None)


@transaction.atomic
def draft_request_changes(
    *,
    task_id,
    reviewer: AbstractBaseUser,
    feedback: str,
    request_ip: str | None = None,
    expected_content_hash: str | None = None,
    step: int | None = None,
) -> Decided:
    """Send a draft awaiting approval back with feedback (required), at its current
    step (any step may): the decision is recorded and the task is written again as a
    new generation from research, the feedback going into its draft (queued after
    commit); the new draft starts again at the workflow's first step. The task's
    unresolved comments on passages go with it, each a note of the feedback ledger
    (`On "<quote>": <body>`) that the next draft answers and its review checks; they
    are resolved then, by the reviewer, `sent_to_generation` the new generation. The
    step's group's members only, the row locked and the text bound as for
    `draft_approve`."""
    task, here = _lock_current_step(task_id, reviewer, step)
    comments = comments_open_for_changes(task_id=task.pk)
    notes = [comment_feedback_note(comment) for comment in comments]
    task = task_reject(task_id=task.pk, user=reviewer, feedback=feedback, changes_requested=True,
                       notes=notes)  # fmt: skip
    _require_text_read(task, expected_content_hash)
    record = _record(task, Decision.CHANGES_REQUESTED, here, reviewer=reviewer, feedback=feedback,
                     request_ip=request_ip)  # fmt: skip
    task = task_regenerate(task_id=task.pk, user=reviewer)
    comments_mark_sent(comments=comments, user=reviewer, generation=task.generation)
    return Decided(record, None)


def approval_decide(
    *,
    task_id,
    reviewer: AbstractBaseUser,
    approved: bool,
    feedback: str = "",
    publish_at: datetime | None = None,
    regenerate: bool = False,
    request_ip: str | None = None,
    expected_content_hash: str | None = None,
    acknowledge_unsupported: bool = False,
    step: int | None = None,
) -> Decided:
    """A decision on the current step of a draft's workflow, as the interfaces take
    it (the API's body, the review form, the command's flags): `draft_approve` when
    `approved` (publishing now or at `publish_at`, going ahead with unsupported claims only if
    `acknowledge_unsupported`), else `draft_request_changes` when `regenerate`, else
    `draft_reject`. Their contracts hold."""
    common = {"task_id": task_id, "reviewer": reviewer, "feedback": feedback,
              "request_ip": request_ip, "expected_content_hash": expected_content_hash,
              "step": step}  # fmt: skip
    if approved:
        return draft_approve(**common, publish_at=publish_at,
                             acknowledge_unsupported=acknowledge_unsupported)  # fmt: skip
    if regenerate:
        return draft_request_changes(**common)
    return draft_reject(**common)


def approval_decide_many(
    *,
    task_ids: list,
    reviewer: AbstractBaseUser,
    request_ip: str | None = None,
    expected_content_hashes: Mapping[str, str] | None = None,
    **decision,
) -> list[dict]:
    """`approval_decide` for each task on its own, as if decided alone (one refusal
    does not stop the others): one result per task, `{task_id, ok, status, error}`,
    where status is the decision made or the task's status when refused. `decision`
    is approval_decide's (`approved`, `feedback`, `acknowledge_unsupported`, ...):
    without `acknowledge_unsupported`, each draft with unsupported claims is refused
    (UnsupportedClaims) and the others are decided.

    With `expected_content_hashes` (task id -> the content hash of the draft as the
    editor was shown it), each draft is decided only as it was shown (DraftChanged
    otherwise), and a task without an entry, never shown, is not decided at all."""

    def act(task_id):
        expected = None
        if expected_content_hashes is not None:
            expected = expected_content_hashes.get(str(task_id))
            if expected is None:
                raise InvalidTransition(
                    "This draft was not shown awaiting approval where it was decided from: "
                    "open it to review it."
                )
        record, _ = approval_decide(
            task_id=task_id, reviewer=reviewer, request_ip=request_ip,
            expected_content_hash=expected, **decision,
        )  # fmt: skip
        return task_id, record.decision

    return each_on_its_own(task_ids, act)


def _lock_current_step(task_id, reviewer: AbstractBaseUser, step: int | None) -> tuple:
    """The task, locked and awaiting approval, and where its draft is, if `reviewer`
    may decide its current step (and it is `step`, when given)."""
    require_reviewer(reviewer)
    task = task_lock_for_decision(task_id=task_id)
    here = where(task)
    if not in_group(reviewer, here.step.group_id):
        raise Forbidden(
            f"Step {here.position} ({here.step.name}) of this draft is decided by the "
            f"group '{here.step.group}', which you are not in."
        )
    if step is not None and step != here.position:
        raise InvalidTransition(
            f"This draft is at step {here.position} ({here.step.name}), not step {step}: "
            "nothing was decided.",
            extra={"status": task.status, "step": here.position},
        )
    return task, here


def _require_another_reviewer(here: Where, reviewer: AbstractBaseUser) -> None:
    if here.flow.allow_same_reviewer:
        return
    for earlier in here.decided:
        if earlier.decision == Decision.APPROVED and earlier.reviewer_id == reviewer.pk:
            raise InvalidTransition(
                f"You approved step {earlier.step} ({earlier.step_name}) of this draft: "
                f"the workflow '{here.flow.name}' needs someone else to approve step "
                f"{here.position} ({here.step.name}).",
                extra={"status": Status.AWAITING_APPROVAL.value, "step": here.position},
            )


def _require_text_read(task: ContentTask, expected_content_hash: str | None) -> None:
    # Called with the task's row locked (by its move), and every edit of the draft takes
    # that lock first: the text checked here is the text decided. Raising undoes the move.
    if expected_content_hash is None:
        return
    current = task_content_hash(task)
    if current != expected_content_hash:
        raise DraftChanged(
            "The draft changed since you read it (someone edited it): nothing was decided. "
            "Read the current text and decide again.",
            extra={"status": Status.AWAITING_APPROVAL.value, "content_hash": current},
        )


def _require_claims_acknowledged(task: ContentTask, acknowledged: bool) -> list[dict]:
    """The current text's unsupported claims, if the approval acknowledged them; raises
    UnsupportedClaims (which undoes the move) if it did not. Called with the task's
    row locked, like _require_text_read, so the claims are those of the text decided."""
    unsupported = open_unsupported((task_result(task) or {}).get("claims") or [])
    if unsupported and not acknowledged:
        count = len(unsupported)
        claims = f"{count} unsupported claim{'s' if count != 1 else ''}"
        raise UnsupportedClaims(
            f"The draft has {claims} (its cited source does not say it): nothing was "
            "decided. Read the claims, then approve with `acknowledge_unsupported` to approve "
            "anyway (in the review desk: the box “Approve despite the unsupported claims "
            "listed above”).",
            extra={"status": Status.AWAITING_APPROVAL.value, "claims": unsupported},
        )
    return unsupported


def _record(
    task: ContentTask,
    decision: Decision,
    here: Where,
    *,
    reviewer: AbstractBaseUser,
    feedback: str,
    publish_at: datetime | None = None,
    request_ip: str | None = None,
    acknowledged_claims: list[dict] | None = None,
) -> ApprovalDecision:
    """The decision's audit record of the step decided, on the text decided; the review
    claim ends with it."""
    return ApprovalDecision.objects.create(
        task=task,
        generation=task.generation,
        round=here.round,
        step=here.position,
        step_name=here.step.name,
        workflow_id=here.flow.id,
        decision=decision,
        reviewer=reviewer,
        feedback=(feedback or "").strip(),
        publish_at=publish_at,
        content_hash=task_content_hash(task),
        claimed_by=review_claim_end(task),
        request_ip=recorded_ip(request_ip),
        acknowledged_claims=acknowledged_claims or [],
    )


def recorded_ip(raw: str | None) -> str | None:
    """`raw` if it is an IP address, else None: behind a proxy it comes from a header
    (X-Forwarded-For), and a proxy set up wrong must not make a decision unrecordable."""
    try:
        return str(ipaddress.ip_address((raw or "").strip()))
    except ValueError:
        return None


# --- Posts: take down, put back, edit (which may re-open approval) --------------------------


@transaction.atomic
def post_unpublish(*, post: Post, user: AbstractBaseUser, reason: str = "") -> Post:
    """Take a post off the site at once, and its task back from published to approved
    (a version of the post and a history record of the task say who, when and
    `reason`, by default "unpublished by <user>"); the owner's webhooks are told
    (`post.unpublished`) when it was live. InvalidTransition (409) when the post is off
    already. `post_republish` undoes it."""
    post = posts.post_unpublish(post=post, user=user, reason=reason)
    if post.task_id:
        task_mark_unpublished(
            task_id=post.task_id, user=user, reason=f"post {reason}" if reason else ""
        )
    return post


@transaction.atomic
def post_expire(*, post_id: int) -> bool:
    """Take the post down if its expiry date has come (checked with its row locked: a
    post unpublished or given a later date meanwhile stays as it is), as `post_unpublish`
    does, by the system user with the reason "expired". Whether it was taken down."""
    post = posts.post_lock_expired(post_id=post_id)
    if post is None:
        return False
    post_unpublish(post=post, user=system_user(), reason=posts.EXPIRED)
    return True


def post_expire_due() -> int:
    """The beat job: every post whose expiry date has come taken down (`post_expire`),
    each on its own; how many."""
    return sum(post_expire(post_id=post_id) for post_id in post_ids_expired())


@transaction.atomic
def post_republish(*, post: Post, user: AbstractBaseUser, reason: str = "") -> Post:
    """Put an unpublished post back on the site, live from now (its task published
    again) or still at its scheduled time if that is later (its task stays approved
    until the schedule publishes it). The version's and the task's reason is `reason`,
    by default "published again by <user>". InvalidTransition (409) unless unpublished."""
    post = posts.post_republish(post=post, user=user, reason=reason)
    if post.task_id and post.is_live:
        task_mark_published(
            task_id=post.task_id, user=user,
            reason=f"post {reason}" if reason else f"post published again by {user}",
        )  # fmt: skip
    return post


@transaction.atomic
def post_edit(*, post: Post, user: AbstractBaseUser, reason: str = "edited") -> Post | None:
    """Save an edit of a post (`post`, changed and not saved) as a new version.

    A post that is not live yet was approved as it stood: if the edit changes its
    text or metadata, approval re-opens. The edited text becomes the task's draft (a
    version by `user`), the task goes back to awaiting approval, and the scheduled post
    is withdrawn (a version records it), so no text goes live unapproved. Returns None
    then. The post's row stays locked from the check to the end."""
    if posts.post_needs_approval_again(post=post):
        task_reopen(task_id=post.task_id, user=user, content=posts.post_approved_text(post))
        posts.post_withdraw(
            post=post, user=user,
            reason="withdrawn: text changed after approval, awaiting approval again",
        )  # fmt: skip
        return None
    return posts.post_update(post=post, user=user, reason=reason)


@transaction.atomic
def post_change(
    *, post: Post, user: AbstractBaseUser, changes: Mapping[str, Any], reason: str = "edited"
) -> Post | None:
    """`post_edit` of `changes` (field -> value: the text and metadata, `category`,
    `published_at` to reschedule, `expire_at`) applied to the post as stored now, its
    row locked from the read to the save (`publishing.services.post_with_changes`).
    Its contract holds: None when approval re-opened (the post withdrawn)."""
    return post_edit(post=posts.post_with_changes(post=post, changes=changes), user=user,
                     reason=reason)  # fmt: skip


@transaction.atomic
def post_revert(*, post: Post, version_id: int, user: AbstractBaseUser) -> Post | None:
    """Restore a version's text and metadata as a new version (its reason says which),
    as `post_edit` saves an edit: a post not live yet goes back to approval if that
    changes its approved text (None then). NotFound for a version not of this post."""
    restored = posts.post_as_version(post=post, version_id=version_id)
    return post_edit(post=restored, user=user, reason=f"reverted to version {version_id}")
