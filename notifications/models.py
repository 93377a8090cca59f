"""A user's notifications (the in-admin inbox, and the e-mail each may bring) and
whether they want e-mail at all.

A notification names its task and links to where to act (the review page, or the task
for its requester); it never holds the draft's text."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    DRAFT_WAITING = "draft_waiting", "Draft waiting for review"
    DECISION = "decision", "Decision on your task"
    PLAN_WAITING = "plan_waiting", "Plan waiting for review"
    REMINDER = "reminder", "Reminder"


class NotificationQuerySet(models.QuerySet):
    def unread(self) -> "NotificationQuerySet":
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    task = models.ForeignKey(
        "tasks.ContentTask", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="notifications",
    )  # fmt: skip
    title = models.CharField(max_length=400)
    # Absolute (SITE_URL): the e-mail carries it as it is.
    url = models.CharField(max_length=500)
    # What the notification is about, so a message handled twice notifies once: the
    # status change (`<old>><new>@<time>`) or another event's own name.
    event = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # When its e-mail was handed to the mail server (null: none, or not yet).
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            ),  # fmt: skip
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "task", "kind", "event"],
                condition=~Q(event=""),
                name="notification_once_per_event",
            )
        ]

    def __str__(self) -> str:
        return self.title


class NotificationSettings(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
        related_name="notification_settings",
    )  # fmt: skip
    email_enabled = models.BooleanField(
        default=True, help_text="Send me an e-mail with each notification."
    )

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.user}"
