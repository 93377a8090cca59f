"""Approval workflows, read: which workflow a task's draft goes through, where its
draft is in it, and who may decide or review it.

Nothing about the workflow is stored on the task. The decisions of its current
generation say it all:

- A round is one pass of the draft through the workflow's steps. The workflow of a
  round is resolved when its first step is decided (`workflow_for_task`) and recorded
  on each of its decisions (`ApprovalDecision.workflow`), so changing the workflows
  in the admin never moves a draft half-way through its round onto other steps.
- When the latest decision of the generation approved a step that is not its
  workflow's last, the draft is at the next step of that round. Otherwise (no
  decision yet, a rejection, or an approved last step whose approval re-opened) it is
  at step one of a new round, and of the workflow that applies to it now.
- Requesting changes starts a new generation: its draft starts again at step one.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import F, Prefetch, QuerySet

from contentpipeline.roles import EDITORS_GROUP, is_editor
from tasks.models import ContentTask, Status

from .models import ApprovalDecision, Decision, Workflow, WorkflowStep

# The workflow drafts go through when no workflow applies (no default in the
# database): today's single step decided by the Editors.
FALLBACK_NAME = "Editorial review"


@dataclass(frozen=True)
class Step:
    position: int
    name: str
    group_id: int | None
    group: str


@dataclass(frozen=True)
class Flow:
    """A workflow as the decisions use it; `id` None for the fallback."""

    id: int | None
    name: str
    allow_same_reviewer: bool
    steps: tuple[Step, ...]

    def step(self, position: int) -> Step:
        return self.steps[position - 1]


@dataclass(frozen=True)
class Where:
    """Where a task's draft is: the workflow of its round, the round, the step to
    decide (1-based), and the decisions of this round so far (step order)."""

    flow: Flow
    round: int
    position: int
    decided: tuple[ApprovalDecision, ...]

    @property
    def step(self) -> Step:
        return self.flow.step(self.position)

    @property
    def is_last_step(self) -> bool:
        return self.position == len(self.flow.steps)


def _flow(workflow: Workflow) -> Flow:
    # The steps as prefetched (ordered by position) by `_Workflows`.
    steps = tuple(Step(s.position, s.name, s.group_id, s.group.name) for s in workflow.steps.all())
    return Flow(workflow.pk, workflow.name, workflow.allow_same_reviewer, steps)


def _fallback() -> Flow:
    group = Group.objects.filter(name=EDITORS_GROUP).first()
    step = Step(1, "Editors", group.pk if group else None, EDITORS_GROUP)
    return Flow(None, FALLBACK_NAME, False, (step,))


class _Workflows:
    """Every workflow with its steps, read at once (two queries): there are a few, and
    the drafts of a whole queue are placed with one read of them."""

    def __init__(self) -> None:
        steps = WorkflowStep.objects.select_related("group").order_by("position")
        self.workflows = list(Workflow.objects.prefetch_related(Prefetch("steps", steps)))
        self.flows = {workflow.pk: _flow(workflow) for workflow in self.workflows}

    def for_task(self, task: ContentTask) -> Flow:
        category = (task.category or "").strip().lower()

        def rank(workflow: Workflow) -> int | None:
            if not self.flows[workflow.pk].steps:
                return None
            type_ok = workflow.task_type in ("", task.task_type)
            category_ok = workflow.category.strip().lower() in ("", category)
            if type_ok and category_ok and workflow.task_type and workflow.category:
                return 0
            if type_ok and category_ok and workflow.task_type:
                return 1
            if type_ok and category_ok and workflow.category:
                return 2
            return 3 if workflow.is_default else None

        ranked = [(rank(w), w.name, w.pk) for w in self.workflows]
        ranked = [item for item in ranked if item[0] is not None]
        if not ranked:
            return _fallback()
        return self.flows[min(ranked)[2]]

    def where(self, task: ContentTask, decisions: list[ApprovalDecision]) -> Where:
        """`decisions`: the task's current generation's, in (round, step) order."""
        last = decisions[-1] if decisions else None
        awaiting = task.status == Status.AWAITING_APPROVAL
        if last is not None and last.workflow_id in self.flows:
            flow = self.flows[last.workflow_id]
            this_round = tuple(d for d in decisions if d.round == last.round)
            if last.decision == Decision.APPROVED and last.step < len(flow.steps):
                return Where(flow, last.round, last.step + 1, this_round)
            if not awaiting:
                return Where(flow, last.round, min(last.step, len(flow.steps)), this_round)
        if last is not None and not awaiting:
            return Where(_fallback(), last.round, 1, (last,))
        return Where(self.for_task(task), (last.round + 1) if last else 1, 1, ())


def workflow_for_task(task: ContentTask) -> Flow:
    """The workflow that applies to the task now: the one of its task type and
    category (a category matches whatever its case), else of its task type (no
    category), else of its category (no task type), else the default; the built-in
    one-step Editors workflow when none is. A workflow without steps never applies;
    among equals, the first by name."""
    return _Workflows().for_task(task)


def where(task: ContentTask) -> Where:
    """Where the task's current draft is in its workflow (see the module's docstring).
    For a task no longer awaiting approval: its latest round, at its latest step."""
    decisions = list(
        ApprovalDecision.objects.filter(task=task, generation=task.generation)
        .select_related("reviewer")
        .order_by("round", "step")
    )
    return _Workflows().where(task, decisions)


def current_step(task: ContentTask) -> tuple[Flow, Step]:
    """The workflow and the step the task's draft waits for (for a task not awaiting
    approval: its latest decided step). The step's `group` (name) and `group_id` say
    who decides it: their members (and superusers) are the ones to tell."""
    here = where(task)
    return here.flow, here.step


def in_group(user, group_id: int | None) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if group_id is None:
        return False
    return user.groups.filter(pk=group_id).exists()


def may_review(user: AbstractBaseUser | AnonymousUser | None, task: ContentTask) -> bool:
    """Whether the user may read and review the task's draft: an editor, or a member
    of the group of the step its draft waits for."""
    if is_editor(user):
        return True
    if task.status != Status.AWAITING_APPROVAL:
        return False
    return in_group(user, where(task).step.group_id)


def tasks_waiting_for(user, tasks: QuerySet[ContentTask] | None = None) -> QuerySet:
    """The tasks awaiting approval whose current step's group the user is in (every
    one for a superuser): the queue's decisions and the workflows read in three
    queries, whatever the queue's length."""
    base = tasks if tasks is not None else ContentTask.objects.alive()
    if user is None or not user.is_authenticated or not user.is_active:
        return base.none()
    awaiting = ContentTask.objects.alive().filter(status=Status.AWAITING_APPROVAL)
    if user.is_superuser:
        return base.filter(pk__in=awaiting.values("pk"))
    groups = set(user.groups.values_list("pk", flat=True))
    if not groups:
        return base.none()
    queue = list(awaiting.only("pk", "generation", "status", "task_type", "category"))
    decided: dict = {}
    current = ApprovalDecision.objects.filter(
        task__in=awaiting, task__generation=F("generation")
    ).only("task_id", "round", "step", "decision", "workflow_id", "reviewer_id")
    for decision in current.order_by("round", "step"):
        decided.setdefault(decision.task_id, []).append(decision)
    workflows = _Workflows()
    ids = [
        task.pk
        for task in queue
        if workflows.where(task, decided.get(task.pk, [])).step.group_id in groups
    ]
    return base.filter(pk__in=ids)


_DECIDED_OR_AWAITING = frozenset(
    {Status.AWAITING_APPROVAL, Status.APPROVED, Status.PUBLISHED, Status.REJECTED}
)


def workflow_state(task: ContentTask) -> dict | None:
    """The task's `workflow` as the API shows it: {name, step, steps: [{name, group,
    decision, reviewer, at}]}, decisions of the current round; None before a draft."""
    if task.status not in _DECIDED_OR_AWAITING:
        return None
    here = where(task)
    by_step = {d.step: d for d in here.decided}
    steps = []
    for step in here.flow.steps:
        decided = by_step.get(step.position)
        steps.append(
            {
                "name": step.name,
                "group": step.group,
                "decision": decided.decision if decided else None,
                "reviewer": decided.reviewer.get_username() if decided else None,
                "at": decided.created_at if decided else None,
            }
        )
    return {"name": here.flow.name, "step": here.position, "steps": steps}


def is_reviewer(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Whether the user reviews drafts at all: an editor (or superuser), or a member of
    the group of some workflow's step."""
    if is_editor(user):
        return True
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    cached = getattr(user, "_is_reviewer", None)
    if cached is None:
        cached = WorkflowStep.objects.filter(group__user=user).exists()
        user._is_reviewer = cached
    return cached


class TaskReviews:
    """What the tasks app asks of the workflows (tasks.interfaces.TaskReviews),
    provided at start-up by approvals/apps.py."""

    def may_review(self, user, task, /) -> bool:
        return may_review(user, task)

    def waiting_for(self, user, /) -> list:
        if not is_reviewer(user):
            return []
        return list(tasks_waiting_for(user).values_list("pk", flat=True))

    def workflow(self, task, /) -> dict | None:
        return workflow_state(task)
