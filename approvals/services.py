"""Editor decisions on drafts, and claims on the drafts being reviewed. The admin, the
API and `manage.py approval_decide` all call `approval_decide`, so they behave
identically."""

import ipaddress
from collections.abc import Mapping
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from contentpipeline.errors import Forbidden, InvalidTransition, each_on_its_own
from contentpipeline.roles import is_editor
from publishing.models import Post
from publishing.services import post_publish
from tasks.models import ContentTask, Status
from tasks.selectors import task_content_hash, task_get_for_follower
from tasks.services import task_approve, task_regenerate, task_reject

from .models import ApprovalDecision, Decision, ReviewClaim


class ClaimedByAnother(InvalidTransition):
    """Another editor is reviewing this draft; taking it over must be explicit."""


def _ip_address(raw: str | None) -> str | None:
    """`raw` if it is an IP address, else None: behind a proxy it comes from a header
    (X-Forwarded-For), and a proxy set up wrong must not make a decision unrecordable."""
    try:
        return str(ipaddress.ip_address((raw or "").strip()))
    except ValueError:
        return None


class DraftChanged(InvalidTransition):
    """The draft is not the text the editor read (its content hash differs): deciding
    would decide a text nobody read. Its `content_hash` is the current one."""


def _require_text_read(task: ContentTask, expected_content_hash: str | None) -> None:
    if expected_content_hash is None:
        return
    current = task_content_hash(task)
    if current != expected_content_hash:
        raise DraftChanged(
            "The draft changed since you read it (someone edited it): nothing was decided. "
            "Read the current text and decide again.",
            extra={"status": Status.AWAITING_APPROVAL.value, "content_hash": current},
        )


def _require_editor(user: AbstractBaseUser) -> None:
    if not is_editor(user):
        raise Forbidden("Only editors can approve or reject drafts.")


@transaction.atomic
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
) -> tuple[ApprovalDecision, Post | None]:
    """Approve (publish now or at `publish_at`) or reject (feedback required;
    optionally regenerate with it) a task awaiting approval, and record the decision:
    the exact text decided (its content hash), who held the review claim, the
    request's IP. Only editors decide (Forbidden); the task's row is locked, so of
    many editors deciding at once one decides and the others get InvalidTransition
    (409) with nothing written.

    With `expected_content_hash` (the draft's `content_hash` as the editor read it),
    only that text is decided: if the draft was edited since, DraftChanged (409, with
    the current hash) and nothing is decided. Without it, the current text is."""
    _require_editor(reviewer)
    feedback = (feedback or "").strip()
    post = None
    # The move locks the task's row until this transaction ends, and every edit of the
    # draft takes that lock first: the text checked right after it is the text decided.
    # A mismatch raises, which undoes the move with everything else.
    if approved:
        decision = Decision.APPROVED
        live = publish_at is None or publish_at <= timezone.now()
        task = task_approve(task_id=task_id, user=reviewer, published=live)
        _require_text_read(task, expected_content_hash)
        post = post_publish(task=task, publish_at=publish_at, user=reviewer)
    else:
        decision = Decision.CHANGES_REQUESTED if regenerate else Decision.REJECTED
        task = task_reject(
            task_id=task_id, user=reviewer, feedback=feedback, changes_requested=regenerate
        )
        _require_text_read(task, expected_content_hash)
    claim = ReviewClaim.objects.filter(task=task).first()
    earlier = ApprovalDecision.objects.filter(task=task, generation=task.generation).count()
    record = ApprovalDecision.objects.create(
        task=task,
        generation=task.generation,
        round=earlier + 1,
        decision=decision,
        reviewer=reviewer,
        feedback=feedback,
        publish_at=publish_at,
        content_hash=task_content_hash(task),
        claimed_by=claim.editor if claim else None,
        request_ip=_ip_address(request_ip),
    )
    if claim is not None:
        claim.delete()
    if regenerate and not approved:
        task_regenerate(task_id=task.pk, user=reviewer)
    return record, post


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
    where status is the decision made or the task's status when refused.

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


@transaction.atomic
def review_claim(*, task_id, editor: AbstractBaseUser, take_over: bool = False) -> ReviewClaim:
    """Mark the draft as being reviewed by `editor` from now. A draft another editor
    is reviewing raises ClaimedByAnother (409) unless `take_over` is given; claiming
    one's own claim again renews it. Only drafts awaiting approval are claimed."""
    _require_editor(editor)
    task = task_get_for_follower(user=editor, task_id=task_id)  # editors follow any task
    if not task.may("approve"):
        raise InvalidTransition(
            f"Only a draft awaiting approval can be claimed; this task is '{task.status}'.",
            extra={"status": task.status},
        )
    claim = ReviewClaim.objects.select_for_update().filter(task=task).first()
    if claim is not None and claim.editor_id != editor.pk and not take_over:
        raise ClaimedByAnother(
            f"Being reviewed by {claim.editor} since {claim.claimed_at:%Y-%m-%d %H:%M} UTC; "
            "take it over to review it yourself.",
            extra={"status": task.status, "claimed_by": str(claim.editor)},
        )
    if claim is None:
        try:
            with transaction.atomic():
                return ReviewClaim.objects.create(
                    task=task, editor=editor, claimed_at=timezone.now()
                )
        except IntegrityError:  # claimed this very moment by someone else
            raise ClaimedByAnother(
                "Another editor claimed this draft just now.", extra={"status": task.status}
            ) from None
    claim.editor, claim.claimed_at = editor, timezone.now()
    claim.save(update_fields=["editor", "claimed_at"])
    return claim


@transaction.atomic
def review_release(*, task_id, editor: AbstractBaseUser) -> bool:
    """Let go of one's own claim; False when there was none of one's own."""
    _require_editor(editor)
    deleted, _ = ReviewClaim.objects.filter(task_id=task_id, editor=editor).delete()
    return bool(deleted)
