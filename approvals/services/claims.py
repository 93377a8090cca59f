"""Review claims: an editor marks a draft as being reviewed, so others see it in the
queue and take it over only explicitly. A decision ends the claim (`actions`)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from contentpipeline.errors import Forbidden, InvalidTransition
from contentpipeline.roles import is_editor
from tasks.models import ContentTask
from tasks.selectors import task_get_for_follower

from ..models import ReviewClaim
from ..workflows import is_reviewer


class ClaimedByAnother(InvalidTransition):
    """Another editor is reviewing this draft; taking it over must be explicit."""


def require_editor(user: AbstractBaseUser) -> None:
    """Forbidden (403) unless `user` is an editor: only editors review and decide."""
    if not is_editor(user):
        raise Forbidden("Only editors can approve or reject drafts.")


def require_reviewer(user: AbstractBaseUser) -> None:
    """Forbidden (403) unless `user` reviews drafts at all: an editor, or a member of
    the group of some workflow step. Which step they may decide is the action's check."""
    if not is_reviewer(user):
        raise Forbidden("Only editors and workflow reviewers can approve or reject drafts.")


@transaction.atomic
def review_claim(*, task_id, editor: AbstractBaseUser, take_over: bool = False) -> ReviewClaim:
    """Mark the draft as being reviewed by `editor` from now. A draft another editor
    is reviewing raises ClaimedByAnother (409) unless `take_over` is given; claiming
    one's own claim again renews it. Only drafts awaiting approval are claimed."""
    require_reviewer(editor)
    task = task_get_for_follower(user=editor, task_id=task_id)  # reviewers of its step too
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
    require_reviewer(editor)
    deleted, _ = ReviewClaim.objects.filter(task_id=task_id, editor=editor).delete()
    return bool(deleted)


def review_claim_end(task: ContentTask):
    """End the claim on the task's draft, as its decision does: the editor who held it
    (recorded with the decision), or None when nobody did."""
    claim = ReviewClaim.objects.select_related("editor").filter(task=task).first()
    if claim is None:
        return None
    claim.delete()
    return claim.editor
