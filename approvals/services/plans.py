"""An editor's decision on a task's plan (the outline proposed after research, when the
task asked for `review_plan`): approved, perhaps edited, so the draft is written to
it, or sent back with feedback to be researched again. The task moves through the
tasks app's services (tasks.services.plans); the audit record is written here, in
the same transaction."""

from typing import Any, NamedTuple

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from tasks.models import ContentTask
from tasks.services import task_plan_approve, task_plan_send_back

from ..models import PlanDecision
from .actions import recorded_ip
from .claims import require_editor


class PlanDecided(NamedTuple):
    """A decision on a plan: its audit record, and the task as it moved."""

    record: PlanDecision
    task: ContentTask


@transaction.atomic
def plan_decide(
    *,
    task_id,
    reviewer: AbstractBaseUser,
    approved: bool,
    feedback: str = "",
    outline: list[dict[str, Any]] | None = None,
    request_ip: str | None = None,
) -> PlanDecided:
    """Approve the plan of a task awaiting it (as proposed, or `outline` edited: it
    replaces the proposal; ApplicationError, 400, for one that is not 1 to 12 sections
    of a heading, a point and source numbers), so the run goes on with the draft; or
    send it back (`approved` false, `feedback` required) to be researched again as a
    new generation. The decision is recorded (who, when, the outline decided, the
    feedback, the request's IP) with the move; an `outline` sent with a send-back is
    not used.

    Only editors decide (Forbidden, 403). The task's row is locked by its move, so of
    editors deciding at once one decides and the others get InvalidTransition (409),
    as does a task not awaiting its plan; nothing is written then."""
    require_editor(reviewer)
    if approved:
        task = task_plan_approve(task_id=task_id, user=reviewer, outline=outline)
        verdict = PlanDecision.Verdict.APPROVED
    else:
        task = task_plan_send_back(task_id=task_id, user=reviewer, feedback=feedback)
        verdict = PlanDecision.Verdict.SENT_BACK
    plan = task.plan or {}
    record = PlanDecision.objects.create(
        task=task,
        generation=plan.get("generation", task.generation),
        decision=verdict,
        reviewer=reviewer,
        feedback=(feedback or "").strip(),
        outline=plan.get("outline") or [],
        request_ip=recorded_ip(request_ip),
    )
    return PlanDecided(record, task)
