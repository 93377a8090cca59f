"""The task's side of the approval workflow: the moves that follow an editor's
decision on a draft, and those that follow its post (published, taken down, put back).
Each locks the task's row and makes one move of the status machine; none knows of
posts or decisions. The workflow that calls them in order lives above, in
`approvals.services` (approve, reject, request changes, unpublish, publish again);
publishing's schedule calls `task_mark_published` when a scheduled post goes live."""

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from contentpipeline.errors import ApplicationError

from ..models import ContentTask, FeedbackNote, Stage
from ._common import lock, lock_or_404, save
from .dispatch import enqueue_on_commit


@transaction.atomic
def task_approve(*, task_id, user: AbstractBaseUser, published: bool) -> ContentTask:
    """awaiting_approval -> approved, and on to published when its post goes live at
    once (`published`); one history record either way. NotFound, or InvalidTransition
    (409) for a task not awaiting approval."""
    task = lock_or_404(task_id)
    task.move("approve")
    if published:
        task.move("publish")
    message = "Approved and published" if published else "Approved"
    return save(task, user=user, reason=f"approved by {user}", message=message)


@transaction.atomic
def task_lock_for_decision(*, task_id) -> ContentTask:
    """The task's row, locked until the transaction ends, for a decision on its draft:
    NotFound, or InvalidTransition (409) for a task not awaiting approval. Decisions
    of one draft wait for each other here, so each sees the ones before it."""
    task = lock_or_404(task_id)
    if not task.may("approve"):
        task.move("approve")  # raises the status machine's refusal
    return task


@transaction.atomic
def task_approve_step(*, task_id, user: AbstractBaseUser, reason: str) -> ContentTask:
    """A step of the draft's approval workflow approved, not its last: the task stays
    awaiting approval, with a history record by `user` (`reason`: which step was
    approved, which is next) and a progress event. NotFound, or InvalidTransition
    (409) for a task not awaiting approval."""
    task = task_lock_for_decision(task_id=task_id)
    task._as_loaded = None  # nothing tracked changes, and the approval is still history
    reason = reason[:100]  # the history record's change reason holds 100 characters
    return save(task, user=user, reason=reason, message=reason, update_fields=["updated_at"])


@transaction.atomic
def task_reject(
    *,
    task_id,
    user: AbstractBaseUser,
    feedback: str,
    changes_requested: bool = False,
    notes: Sequence[str] = (),
) -> ContentTask:
    """awaiting_approval -> rejected, keeping the feedback (required, ApplicationError
    otherwise) for the next generation's draft: as the task's last `feedback`, and as a
    note of the feedback ledger (this generation's, by `user`), which every later
    generation's draft answers. Each of `notes` (an editor's comments on passages, say)
    becomes a note of the ledger too, after the feedback, in order; blank ones are
    skipped. NotFound, or InvalidTransition (409) for a task not awaiting approval."""
    task = lock_or_404(task_id)
    task.move("reject")
    feedback = (feedback or "").strip()
    if not feedback:
        raise ApplicationError("Feedback is required when rejecting a draft.")
    task.feedback = feedback
    author = user if getattr(user, "pk", None) else None
    extra = [note.strip() for note in notes if note and note.strip()]
    FeedbackNote.objects.bulk_create(
        FeedbackNote(task=task, generation=task.generation, note=note, author=author)
        for note in [feedback, *extra]
    )
    decision = "changes_requested" if changes_requested else "rejected"
    return save(task, user=user, reason=f"{decision} by {user}", message="Rejected")


@transaction.atomic
def task_regenerate(*, task_id, user: AbstractBaseUser) -> ContentTask:
    """rejected -> pending as a new generation: the pipeline starts again from
    research, and the draft addresses the stored feedback. Queued after commit."""
    task = lock_or_404(task_id)
    task.move("regenerate")
    task.generation += 1
    task.stage = Stage.RESEARCH
    task.progress = 0
    task.completed_at = None
    save(
        task, user=user, reason="regenerating with editor feedback",
        message="Regenerating with editor feedback",
    )  # fmt: skip
    enqueue_on_commit(task)
    return task


@transaction.atomic
def task_mark_published(
    *, task_id, user: AbstractBaseUser | None = None, reason: str = "scheduled post published"
) -> bool:
    """approved -> published, when the task's scheduled post has gone live. Returns
    False (and changes nothing) when the task is gone or not approved any more."""
    task = lock(task_id, alive=False)  # a deleted task's scheduled post still goes live
    if task is None or not task.may("publish"):
        return False
    task.move("publish")
    save(task, user=user, reason=reason, message="Published")
    return True


@transaction.atomic
def task_mark_unpublished(*, task_id, user: AbstractBaseUser, reason: str = "") -> bool:
    """published -> approved, when the task's post is taken off the site (by an editor
    or a publisher, or at its expiry date); `reason` is the history record's, by default
    "post unpublished by <user>". Returns False (and changes nothing) when the task is
    gone or not published."""
    task = lock(task_id, alive=False)
    if task is None or not task.may("unpublish"):
        return False
    task.move("unpublish")
    save(task, user=user, reason=reason or f"post unpublished by {user}", message="Unpublished")
    return True
