"""The plan an editor approves before the draft is written (a task's `review_plan`).

After research, the runner asks `task_plan_propose` for the plan of a task whose
current generation has none approved: the outline research suggests is stored on the
task, which waits in `awaiting_plan` with no run (its lease let go), so no draft is
asked for. An editor then approves it, perhaps edited (`task_plan_approve`: the run
goes on with the draft, which follows the approved plan), or sends it back with
feedback (`task_plan_send_back`: a new generation, researched again with the
feedback, which proposes a new plan). The decision's audit record is the approvals
app's (`approvals.services.plans.plan_decide`).

`task.plan` is {"generation", "outline": [{"heading", "point", "sources"}], "status":
proposed | approved | sent_back, "feedback"}: the generation it was proposed for, and
the editor's feedback when it was sent back (a plan proposed after that carries the
feedback it answers)."""

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from contentpipeline.errors import ApplicationError
from tasks.pipeline.plan import PlanError, clean_outline, propose_outline

from ..models import ContentTask, Stage
from ._common import lock, lock_or_404, save
from .dispatch import enqueue_on_commit, run_ended_on_commit
from .runs import may_go_on

PROPOSED, APPROVED, SENT_BACK = "proposed", "approved", "sent_back"


def plan_approved(task: ContentTask) -> bool:
    """Whether the task's current generation has an approved plan."""
    plan = task.plan or {}
    return plan.get("status") == APPROVED and plan.get("generation") == task.generation


def plan_needed(task: ContentTask) -> bool:
    """Whether the draft must wait for an editor to approve the plan."""
    return task.review_plan and not plan_approved(task)


def approved_outline(task: ContentTask) -> tuple[dict[str, Any], ...]:
    """The sections of the current generation's approved plan; () without one."""
    return tuple(task.plan["outline"]) if plan_approved(task) else ()


def plan_feedback(task: ContentTask) -> str:
    """An editor's feedback on the plan sent back, for the research that follows."""
    plan = task.plan or {}
    return str(plan.get("feedback") or "") if plan.get("status") == SENT_BACK else ""


@transaction.atomic
def task_plan_propose(*, task_id, lease_id: uuid.UUID, research: dict[str, Any]) -> bool:
    """in_progress -> awaiting_plan, after research, for a task whose draft needs an
    approved plan: the outline research suggests (tasks.pipeline.plan.propose_outline)
    is stored as the generation's proposed plan and the run lets its lease go. Returns
    whether the run stops here: True, unless the generation's plan is approved already
    (the run goes on with the draft). A run that must stop anyway (paused, cancelled,
    deleted or taken over) stops without a plan; a paused task is proposed its plan
    when it is resumed."""
    task = lock(task_id, alive=False)
    if task is None or not may_go_on(task, lease_id):
        return True
    if not plan_needed(task):
        return False
    task.plan = {
        "generation": task.generation,
        "outline": propose_outline(research, topic=task.topic),
        "status": PROPOSED,
        "feedback": plan_feedback(task),  # what the new plan answers
    }
    task.move("await_plan")
    task.lease_id = None
    task.heartbeat_at = None
    save(
        task, reason="plan proposed", message="Plan ready for approval",
        update_fields=["status", "plan", "lease_id", "heartbeat_at", "updated_at"],
    )  # fmt: skip
    run_ended_on_commit(task)
    return True


@transaction.atomic
def task_plan_approve(
    *, task_id, user: AbstractBaseUser, outline: list[dict[str, Any]] | None = None
) -> ContentTask:
    """awaiting_plan -> pending with the plan approved, as proposed or as `outline`
    (an edited one replaces it: 1 to 12 sections, each a heading of 1 to 200
    characters, a point of at most 1000 and source numbers; ApplicationError, 400,
    otherwise). Queued after commit: the run goes on from the first unfinished stage,
    the draft, which follows the plan. NotFound, or InvalidTransition (409) for a task
    not awaiting its plan; nothing is written then."""
    task = lock_or_404(task_id)
    task.move("approve_plan")
    plan = dict(task.plan or {})
    if outline is not None:
        try:
            plan["outline"] = clean_outline(outline)
        except PlanError as exc:
            raise ApplicationError(str(exc)) from exc
    task.plan = {
        "generation": task.generation,
        "outline": plan.get("outline") or [],
        "status": APPROVED,
        "feedback": str(plan.get("feedback") or ""),
    }
    save(task, user=user, reason=f"plan approved by {user}", message="Plan approved")
    enqueue_on_commit(task)
    return task


@transaction.atomic
def task_plan_send_back(*, task_id, user: AbstractBaseUser, feedback: str) -> ContentTask:
    """awaiting_plan -> pending as a new generation: research runs again, its prompt
    carrying the feedback (required: ApplicationError, 400, otherwise), and proposes a
    new plan. The plan sent back is kept on the task with the feedback until then.
    Queued after commit. NotFound, or InvalidTransition (409) for a task not awaiting
    its plan; nothing is written then."""
    task = lock_or_404(task_id)
    task.move("replan")
    feedback = (feedback or "").strip()
    if not feedback:
        raise ApplicationError("Feedback is required when sending a plan back.")
    task.plan = {**(task.plan or {}), "status": SENT_BACK, "feedback": feedback}
    task.generation += 1
    task.stage = Stage.RESEARCH
    task.progress = 0
    save(task, user=user, reason=f"plan sent back by {user}", message="Plan sent back")
    enqueue_on_commit(task)
    return task
