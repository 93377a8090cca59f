"""Review deadlines (`ContentTask.due_at`): the editors are reminded once, a while
(REVIEW_REMINDER_BEFORE) before a review is due, by e-mail through the worker.

The beat job (`task_remind_due_reviews`) only marks what is due and queues the mail
after commit; the mail itself (`review_reminder_send`) is a Celery task of its own
with retries (tasks.tasks.send_review_reminder), so an SMTP server that is down or
slow delays nothing but its own mail. The mail carries the topic, the deadline and the
review page's address, never the draft's text.

Editors' notification preferences and in-admin inboxes are not here: this sends to
every editor (Editors, or superuser) with an e-mail address."""

from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from contentpipeline.roles import SYSTEM_USERNAME, editor_users

from ..models import AWAITING_REVIEW, ContentTask, Status
from ..queue import send_review_reminders

# Tasks marked per beat at most: a backlog (say, after an outage) goes out over a few
# beats rather than in one transaction holding hundreds of row locks.
REMINDERS_PER_BEAT = 200


def task_remind_due_reviews(*, now: datetime | None = None) -> list:
    """Mark the tasks awaiting review (a draft or a plan) that are due within
    REVIEW_REMINDER_BEFORE of `now` (or overdue already) and whose editors were not
    reminded yet, as reminded (`due_reminded_at`), and queue each one's reminder
    e-mail once that is committed. Returns the ids marked.

    Each task is reminded once: rows are locked as they are marked, and rows another
    transaction holds are passed over (SKIP LOCKED), so two beats at once, or a beat
    beside an editor deciding, never both remind. A reminder the broker refused is
    marked not reminded again, for the next beat."""
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            ContentTask.objects.review_reminder_due(now, settings.REVIEW_REMINDER_BEFORE)
            .order_by("due_at")
            .select_for_update(skip_locked=True)
        )
        ids = list(due.values_list("pk", flat=True)[:REMINDERS_PER_BEAT])
        if ids:
            ContentTask.objects.filter(pk__in=ids).update(due_reminded_at=now)
            transaction.on_commit(lambda: _queue_reminders(ids))
    return ids


def _queue_reminders(ids: list) -> None:
    sent = set(send_review_reminders(ids))
    unsent = [pk for pk in ids if pk not in sent]
    if unsent:
        ContentTask.objects.filter(pk__in=unsent).update(due_reminded_at=None)


def review_url(task: ContentTask) -> str:
    """The absolute address of the task's review page (SITE_URL and the admin's path)."""
    return settings.SITE_URL.rstrip("/") + reverse("admin:tasks_contenttask_review", args=[task.pk])


def review_reminder_recipients() -> list[str]:
    """The e-mail addresses of the active editors who have one."""
    editors = editor_users().exclude(email="").exclude(username=SYSTEM_USERNAME)
    return sorted(set(editors.values_list("email", flat=True)))


def review_reminder_send(task: ContentTask) -> int:
    """Send the reminder that `task`'s review is due to the editors (Django's mail
    framework, EMAIL_URL's server, EMAIL_TIMEOUT): one message, its topic, deadline and
    review page's address, never its text. Returns the number of recipients (0: no
    editor has an address, nothing sent). Errors of the server (smtplib's, OSError,
    timeouts) are the caller's to retry."""
    recipients = review_reminder_recipients()
    if not recipients:
        return 0
    topic = " ".join(task.topic.split())  # a header holds one line
    what = "plan" if task.status == Status.AWAITING_PLAN else "draft"
    due = timezone.localtime(task.due_at)
    when = f"{due:%Y-%m-%d %H:%M} {due.tzname()}"
    overdue = task.due_at <= timezone.now()
    subject = f"{'Overdue' if overdue else 'Review due'} {when}: {topic}"[:200]
    body = "\n".join([
        f"A {what} waits for review and is due {when}"
        f"{' (it is overdue)' if overdue else ''}.",
        "",
        f"Topic: {topic}",
        f"Review it here: {review_url(task)}",
        "",
        "You are told because you are an editor of the content pipeline.",
    ])  # fmt: skip
    send_mail(subject, body, None, recipients, fail_silently=False)
    return len(recipients)


def review_reminder_deliver(*, task_id) -> int:
    """The reminder of one task marked by `task_remind_due_reviews`, sent if the task
    still awaits review (a draft decided meanwhile gets none); the number of
    recipients (0: nothing sent). Server errors propagate, for the caller's retry."""
    task = (
        ContentTask.objects.alive()
        .filter(pk=task_id, status__in=AWAITING_REVIEW, due_at__isnull=False)
        .first()
    )
    if task is None:
        return 0
    return review_reminder_send(task)
