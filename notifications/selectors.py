"""Reads of notifications: whose group reviews a task, a user's inbox and settings."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from approvals.workflows import current_step
from contentpipeline.errors import NotFound
from contentpipeline.roles import EDITORS_GROUP
from tasks.models import ContentTask, Status

from .models import Notification, NotificationSettings


def reviewer_group_names(task: ContentTask) -> list[str]:
    """The groups whose members decide the task's draft (or plan) now: the current step
    of its approval workflow (approvals.workflows.current_step) for a draft; `Editors`
    for a plan, which editors decide."""
    if task.status == Status.AWAITING_PLAN:
        return [EDITORS_GROUP]
    _, step = current_step(task)
    return [step.group] if step.group else [EDITORS_GROUP]


def reviewers_of(task: ContentTask) -> QuerySet:
    """The active members of the task's reviewer groups (superusers who are not members
    are not told: they hold every role, and would be told of everything)."""
    names = reviewer_group_names(task)
    return get_user_model().objects.filter(groups__name__in=names, is_active=True).distinct()


def notification_list_for_user(*, user, unread: bool | None = None) -> QuerySet:
    """The user's own notifications, newest first; only the unread (or read) ones when
    `unread` is True (or False)."""
    notifications = Notification.objects.filter(recipient=user).select_related("task")
    if unread is True:
        notifications = notifications.unread()
    elif unread is False:
        notifications = notifications.filter(read_at__isnull=False)
    return notifications


def notification_unread_count(*, user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user).unread().count()


def notification_get_for_user(*, user, notification_id) -> Notification:
    """The user's notification; NotFound (404) for anyone else's, or none."""
    try:
        return Notification.objects.get(recipient=user, pk=int(notification_id))
    except (Notification.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Notification not found.") from exc


def notification_settings_of(*, user) -> NotificationSettings:
    """The user's settings as saved, or the defaults (e-mail on) when never saved."""
    found = NotificationSettings.objects.filter(user=user).first()
    return found or NotificationSettings(user=user)
