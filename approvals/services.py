"""Editor decisions on drafts. The admin review screen and the API both call
`approval_decide`, so they behave identically."""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from contentpipeline.errors import ApplicationError, Forbidden, InvalidTransition, NotFound
from contentpipeline.roles import is_editor
from publishing.models import Post
from publishing.services import post_publish
from tasks.events import broadcast_on_commit
from tasks.models import ContentTask, Stage, Status
from tasks.queue import enqueue_on_commit

from .models import ApprovalDecision, Decision


@transaction.atomic
def approval_decide(
    *,
    task_id,
    reviewer,
    approved: bool,
    feedback: str = "",
    publish_at: datetime | None = None,
    regenerate: bool = False,
) -> tuple[ApprovalDecision, Post | None]:
    """Approve (publish now or at `publish_at`) or reject (optionally regenerate with
    the feedback) a task awaiting approval. Only editors decide (Forbidden); the task
    is locked so two editors cannot both decide, and anything but `awaiting_approval`
    raises InvalidTransition (409) with nothing changed."""
    if not is_editor(reviewer):
        raise Forbidden("Only editors can approve or reject drafts.")
    task = ContentTask.objects.alive().select_for_update().filter(pk=task_id).first()
    if task is None:
        raise NotFound("Task not found.")
    if task.status != Status.AWAITING_APPROVAL:
        raise InvalidTransition(
            f"Only a task awaiting approval can be decided; this one is '{task.status}'.",
            extra={"status": task.status},
        )
    feedback = (feedback or "").strip()
    if not approved and not feedback:
        raise ApplicationError("Feedback is required when rejecting a draft.")

    post = None
    if approved:
        decision = Decision.APPROVED
        task.transition(Status.APPROVED)
        post = post_publish(task=task, publish_at=publish_at, user=reviewer)
        if post.published_at <= timezone.now():
            task.transition(Status.PUBLISHED)
        message = "Approved and published" if task.status == Status.PUBLISHED else "Approved"
    else:
        decision = Decision.CHANGES_REQUESTED if regenerate else Decision.REJECTED
        task.transition(Status.REJECTED)
        task.feedback = feedback
        message = "Rejected"
    record = ApprovalDecision.objects.create(
        task=task,
        generation=task.generation,
        decision=decision,
        reviewer=reviewer,
        feedback=feedback,
        publish_at=publish_at,
    )
    task._change_reason = f"{decision} by {reviewer}"
    task.save()
    broadcast_on_commit(task, message)

    if regenerate and not approved:
        task.transition(Status.PENDING)
        task.generation += 1
        task.stage = Stage.RESEARCH
        task.progress = 0
        task.completed_at = None
        task._change_reason = "regenerating with editor feedback"
        task.save()
        broadcast_on_commit(task, "Regenerating with editor feedback")
        enqueue_on_commit(task)
    return record, post
