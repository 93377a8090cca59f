from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models

from contentpipeline.errors import ApplicationError
from tasks.models import TaskType


class Decision(models.TextChoices):
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"


class AppendOnlyError(ApplicationError):
    """The audit trail is only ever added to."""

    status_code = 409


class DecisionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.kind} are never changed.")

    def delete(self):
        raise AppendOnlyError(f"{self.model.kind} are never deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(f"{self.model.kind} are never changed.")


class AppendOnly(models.Model):
    """A row of an audit trail: added once, never changed or deleted (the ORM refuses
    here, PostgreSQL's triggers whoever asks)."""

    # How the refusals name the rows.
    kind = "Decisions"

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self.kind} are never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self.kind} are never deleted.")


class Workflow(models.Model):
    """The steps a draft goes through before it is published, in order, each decided
    by the members of one group. A workflow applies to the tasks of its `task_type`
    and/or `category` (both set: both must match; the most specific workflow wins),
    else the default one (at most one is)."""

    name = models.CharField(max_length=100, unique=True)
    task_type = models.CharField(max_length=20, choices=TaskType, blank=True)
    category = models.CharField(
        max_length=100, blank=True, help_text="A task's category (case ignored)."
    )
    is_default = models.BooleanField(
        default=False, help_text="Applies to tasks no other workflow matches."
    )
    allow_same_reviewer = models.BooleanField(
        default=False,
        help_text="Whether one person may approve several steps of the same draft.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_workflow",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkflowStep(models.Model):
    """One step of a workflow: the members of `group` decide it (superusers may too)."""

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["workflow", "position"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "position"], name="one_step_per_position"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class ApprovalDecision(AppendOnly):
    """One editor decision on one draft: the audit record (who, when, why, on which
    exact text). Only ever added: the ORM refuses to change or delete one, and so does
    PostgreSQL (a trigger)."""

    task = models.ForeignKey(
        "tasks.ContentTask", on_delete=models.PROTECT, related_name="decisions"
    )
    generation = models.PositiveIntegerField()
    # A generation approved, then re-opened (its text changed before it went live) and
    # decided again: the second decision on the same draft.
    round = models.PositiveSmallIntegerField(default=1)
    decision = models.CharField(max_length=20, choices=Decision)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_decisions"
    )
    feedback = models.TextField(blank=True)
    publish_at = models.DateTimeField(null=True, blank=True)
    # sha256 of the draft's title, excerpt, body, SEO fields and tags as decided.
    content_hash = models.CharField(max_length=64, blank=True)
    # Who was reviewing the draft when it was decided (a claim), if anyone.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    request_ip = models.GenericIPAddressField(null=True, blank=True)
    # The unsupported claims an approval went ahead with, as the editor was shown them
    # ([{"sentence", "source", "verdict", "excerpt"}]); empty when there were none.
    acknowledged_claims = models.JSONField(default=list, blank=True)
    # The workflow step decided (its position, and its name as it was then), of the
    # workflow the round went by; no workflow for decisions made before workflows.
    step = models.PositiveSmallIntegerField(default=1)
    step_name = models.CharField(max_length=100, blank=True)
    workflow = models.ForeignKey(
        "approvals.Workflow",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = DecisionQuerySet.as_manager()
    kind = "Approval decisions"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "approval decision"
        verbose_name_plural = "audit trail"
        constraints = [
            # Each step of a draft (task generation) is decided once per round, whatever
            # races.
            models.UniqueConstraint(
                fields=["task", "generation", "round", "step"],
                name="one_decision_per_draft_round_step",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.reviewer} on {self.created_at:%Y-%m-%d}"


class PlanDecision(AppendOnly):
    """One editor decision on a task's plan (the outline before the draft): approved,
    or sent back to be researched again. Audited like an approval: only ever added,
    by the ORM and by PostgreSQL (a trigger)."""

    class Verdict(models.TextChoices):
        APPROVED = "approved"
        SENT_BACK = "sent_back"

    task = models.ForeignKey(
        "tasks.ContentTask", on_delete=models.PROTECT, related_name="plan_decisions"
    )
    generation = models.PositiveIntegerField()
    decision = models.CharField(max_length=20, choices=Verdict)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="plan_decisions"
    )
    feedback = models.TextField(blank=True)
    # The outline as decided (edited by the editor, or as proposed).
    outline = models.JSONField(default=list, blank=True)
    request_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = DecisionQuerySet.as_manager()
    kind = "Plan decisions"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "generation"], name="one_plan_decision_per_generation"
            )
        ]

    def __str__(self) -> str:
        return (
            f"Plan {self.get_decision_display()} by {self.reviewer} on {self.created_at:%Y-%m-%d}"
        )


class ReviewClaim(models.Model):
    """An editor reviewing a draft now: others see it in the queue and may take it
    over, explicitly. Gone once the draft is decided."""

    task = models.OneToOneField(
        "tasks.ContentTask", on_delete=models.CASCADE, related_name="review_claim"
    )
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_claims"
    )
    claimed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Reviewed by {self.editor} since {self.claimed_at:%Y-%m-%d %H:%M}"


class DraftComment(models.Model):
    """An editor's comment on a passage of a draft (`quote`), or a reply to one
    (`parent`; one level: a reply has no quote and no replies). Kept with the text it
    was made on: the draft's `generation` and `draft_version`, the number of editors'
    saved edits of that generation's draft when it was made (0: the pipeline's text),
    as the review page's "Versions of this draft" counts them.

    Resolved by an editor or its author; or, when changes are requested while it is
    open, sent to the next generation as a note of the feedback ledger, which resolves
    it with `sent_to_generation` set. Written by approvals.services.comments."""

    MAX_QUOTE = 1000
    MAX_BODY = 5000

    task = models.ForeignKey(
        "tasks.ContentTask", on_delete=models.CASCADE, related_name="draft_comments"
    )
    generation = models.PositiveIntegerField()
    draft_version = models.PositiveIntegerField(default=0)
    quote = models.CharField(max_length=MAX_QUOTE, blank=True)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="draft_comments"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies"
    )
    resolved = models.BooleanField(default=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+",
    )  # fmt: skip
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The generation it went to as a feedback note, when changes were requested while
    # it was open (it was resolved then); null otherwise.
    sent_to_generation = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "created_at"], name="draft_comment_task_time")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(parent__isnull=True) | models.Q(quote=""),
                name="draft_comment_reply_has_no_quote",
            ),
            models.CheckConstraint(
                condition=models.Q(resolved=False) | models.Q(resolved_at__isnull=False),
                name="draft_comment_resolved_has_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Comment by {self.author} on generation {self.generation}: {self.body[:60]}"
