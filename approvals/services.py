"""Editor decisions on drafts. The admin review screen and the API both call
`approval_decide`, so they behave identically."""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from contentpipeline.errors import Forbidden
from contentpipeline.roles import is_editor
from publishing.models import Post
from publishing.services import post_publish
from tasks.services import task_approve, task_regenerate, task_reject

from .models import ApprovalDecision, Decision


@transaction.atomic
def approval_decide(
    *,
    task_id,
    reviewer: AbstractBaseUser,
    approved: bool,
    feedback: str = "",
    publish_at: datetime | None = None,
    regenerate: bool = False,
) -> tuple[ApprovalDecision, Post | None]:
    """Approve (publish now or at `publish_at`) or reject (feedback required;
    optionally regenerate with it) a task awaiting approval, and record the decision.
    Only editors decide (Forbidden); the task's row is locked, so two editors cannot
    both decide, and anything but `awaiting_approval` raises InvalidTransition (409)
    with nothing changed."""
    if not is_editor(reviewer):
        raise Forbidden("Only editors can approve or reject drafts.")
    feedback = (feedback or "").strip()
    post = None
    if approved:
        decision = Decision.APPROVED
        live = publish_at is None or publish_at <= timezone.now()
        task = task_approve(task_id=task_id, user=reviewer, published=live)
        post = post_publish(task=task, publish_at=publish_at, user=reviewer)
    else:
        decision = Decision.CHANGES_REQUESTED if regenerate else Decision.REJECTED
        task = task_reject(
            task_id=task_id, user=reviewer, feedback=feedback, changes_requested=regenerate
        )
    record = ApprovalDecision.objects.create(
        task=task,
        generation=task.generation,
        decision=decision,
        reviewer=reviewer,
        feedback=feedback,
        publish_at=publish_at,
    )
    if regenerate and not approved:
        task_regenerate(task_id=task.pk, user=reviewer)
    return record, post
