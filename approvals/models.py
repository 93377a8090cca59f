from django.conf import settings
from django.db import models


class Decision(models.TextChoices):
    APPROVED = "approved"
    REJECTED = "rejected"
    CHANGES_REQUESTED = "changes_requested"


class ApprovalDecision(models.Model):
    """One editor decision on one draft: the audit record (who, when, why). Never
    edited or deleted; the task it concerns is soft-deleted only."""

    task = models.ForeignKey(
        "tasks.ContentTask", on_delete=models.PROTECT, related_name="decisions"
    )
    generation = models.PositiveIntegerField()
    decision = models.CharField(max_length=20, choices=Decision)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_decisions"
    )
    feedback = models.TextField(blank=True)
    publish_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The same draft (task generation) is decided once.
            models.UniqueConstraint(fields=["task", "generation"], name="one_decision_per_draft"),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.reviewer} on {self.created_at:%Y-%m-%d}"
