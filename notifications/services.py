"""Every write of notifications: who is told of a task's status change, marking read,
a user's e-mail setting, and sending a notification's e-mail.

A notification carries its task's topic (the requester's brief) and a link (the review
page, or the task for its requester), never the draft's text: a mail box is no place
for an unpublished draft. Each new notification, and each marked read, sends its
recipient's unread count to their open /ws/tasks/ sockets after commit; each that is
mailed is queued for the worker after commit, so a mail server that is down or silent
delays nothing but that mail."""

import logging
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from approvals.models import ApprovalDecision
from tasks.events import send_to_user
from tasks.models import ContentTask, Status

from .models import Kind, Notification, NotificationSettings
from .queue import send_emails
from .selectors import notification_get_for_user, notification_unread_count, reviewers_of

logger = logging.getLogger(__name__)

DECISION_WORDS = {
    "approved": "approved",
    "rejected": "rejected",
    "changes_requested": "sent back with changes requested",
}


def review_url(task: ContentTask) -> str:
    return settings.SITE_URL + reverse("admin:tasks_contenttask_review", args=[task.pk])


def task_url(task: ContentTask) -> str:
    return f"{settings.SITE_URL}/api/tasks/{task.pk}"


def inbox_url() -> str:
    return settings.SITE_URL + reverse("admin:notifications_notification_changelist")


@transaction.atomic
def notification_send(
    *, recipients: Iterable, kind: str, task: ContentTask | None, title: str, url: str,
    event: str = "",
) -> list[Notification]:  # fmt: skip
    """A notification for each recipient, and after commit their unread counts to their
    sockets and, to those with an address and e-mail on, an e-mail each (queued). With
    an `event`, a recipient already told of it (same task and kind) is not told again:
    returns the notifications made."""
    made = []
    for user in recipients:
        try:
            with transaction.atomic():
                made.append(
                    Notification.objects.create(
                        recipient=user,
                        kind=kind,
                        task=task,
                        title=title[:400],
                        url=url,
                        event=event,
                    )  # fmt: skip
                )
        except IntegrityError:  # told of this event already (a message handled twice)
            continue
    mailed = _emailed(made)
    user_ids = sorted({n.recipient_id for n in made})
    transaction.on_commit(lambda: _after(user_ids=user_ids, mailed=mailed))
    return made


def _emailed(notifications: list[Notification]) -> list[int]:
    """The notifications whose recipient has an address and has not turned e-mail off."""
    wanted = [n for n in notifications if n.recipient.email]
    off = set(
        NotificationSettings.objects.filter(
            user_id__in=[n.recipient_id for n in wanted], email_enabled=False
        ).values_list("user_id", flat=True)
    )
    return [n.pk for n in wanted if n.recipient_id not in off]


def _after(*, user_ids: list[int], mailed: list[int]) -> None:
    if mailed:
        send_emails(mailed)
    _send_unread_counts(user_ids)


def _send_unread_counts(user_ids: Iterable[int]) -> None:
    users = get_user_model().objects.filter(pk__in=list(user_ids))
    for user in users:
        send_to_user(
            user.pk, {"type": "notifications.unread", "count": notification_unread_count(user=user)}
        )


def notifications_for_status_change(
    *, task_id, old_status: str | None, new_status: str, at: datetime, user_id: int | None
) -> list[Notification]:
    """Tell who must hear of a task's status change (committed), once however often
    asked: a draft awaiting approval, or a plan awaiting it, to the members of the
    task's reviewer groups (`selectors.reviewer_group_names`); a decision on a draft
    (approved, rejected, changes requested) to the task's requester, unless they made
    it. Any other change tells nobody. Returns the notifications made."""
    task = ContentTask.objects.filter(pk=task_id).select_related("created_by").first()
    if task is None:
        return []
    event = f"{old_status}>{new_status}@{at.isoformat()}"
    topic = task.topic
    if new_status == Status.AWAITING_APPROVAL:
        return notification_send(
            recipients=reviewers_of(task), kind=Kind.DRAFT_WAITING, task=task,
            title=f"Draft waiting for your review: {topic}", url=review_url(task), event=event,
        )  # fmt: skip
    if new_status == Status.AWAITING_PLAN:
        return notification_send(
            recipients=reviewers_of(task), kind=Kind.PLAN_WAITING, task=task,
            title=f"Plan waiting for your review: {topic}", url=review_url(task), event=event,
        )  # fmt: skip
    if old_status != Status.AWAITING_APPROVAL:
        return []
    owner = task.created_by
    if owner is None or not owner.is_active or owner.pk == user_id:
        return []
    decision = _decision(task, new_status)
    return notification_send(
        recipients=[owner], kind=Kind.DECISION, task=task,
        title=f"Your task was {DECISION_WORDS[decision]}: {topic}", url=task_url(task),
        event=event,
    )  # fmt: skip


def _decision(task: ContentTask, new_status: str) -> str:
    if new_status in (Status.APPROVED, Status.PUBLISHED):
        return "approved"
    # rejected: a plain rejection or a request for changes, as its audit record says.
    latest = ApprovalDecision.objects.filter(task=task).order_by("-created_at", "-pk").first()
    if latest is not None and latest.decision in DECISION_WORDS:
        return latest.decision
    return "rejected"


@transaction.atomic
def notification_mark_read(*, user, notification_id) -> Notification:
    """Mark the user's notification read (once: a second time keeps the first time);
    NotFound for anyone else's. The user's sockets get the new unread count."""
    notification = notification_get_for_user(user=user, notification_id=notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        transaction.on_commit(lambda: _send_unread_counts([user.pk]))
    return notification


@transaction.atomic
def notification_mark_all_read(*, user, notification_ids: Iterable | None = None) -> int:
    """Mark the user's unread notifications read (only those of `notification_ids` if
    given; others' ids are passed over); returns how many."""
    unread = Notification.objects.filter(recipient=user).unread()
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    count = unread.update(read_at=timezone.now())
    if count:
        transaction.on_commit(lambda: _send_unread_counts([user.pk]))
    return count


@transaction.atomic
def notification_settings_update(*, user, email_enabled: bool) -> NotificationSettings:
    """Turn the user's notification e-mail on or off (their inbox is kept either way)."""
    found, _ = NotificationSettings.objects.update_or_create(
        user=user, defaults={"email_enabled": email_enabled}
    )
    return found


def notification_email_deliver(*, notification_id: int) -> bool:
    """Send the notification's e-mail through EMAIL_URL's server, unless it was sent
    already or its recipient has no address or turned e-mail off since (False then).
    Raises what the server raised (smtplib errors, OSError for a refused connection or
    a server silent past EMAIL_TIMEOUT): the caller tries again later."""
    notification = (
        Notification.objects.filter(pk=notification_id).select_related("recipient").first()
    )
    if notification is None or notification.emailed_at is not None:
        return False
    recipient = notification.recipient
    wanted = not NotificationSettings.objects.filter(user=recipient, email_enabled=False).exists()
    if not recipient.email or not recipient.is_active or not wanted:
        return False
    EmailMessage(
        subject=notification.title, body=email_body(notification), to=[recipient.email]
    ).send(fail_silently=False)
    Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
    return True


def email_body(notification: Notification) -> str:
    """The e-mail's text: what happened, the link, how to stop these e-mails."""
    act = {
        Kind.DRAFT_WAITING: "Review it here",
        Kind.PLAN_WAITING: "Review it here",
        Kind.DECISION: "The task",
    }.get(notification.kind, "Open it here")
    return (
        f"{notification.title}\n\n"
        f"{act}: {notification.url}\n\n"
        f"Your notifications: {inbox_url()}\n"
        "To stop these e-mails, turn e-mail off in your inbox (or PATCH "
        '/api/notifications/settings with {"email_enabled": false}).\n'
    )
