"""Editors are reminded once, by e-mail through the worker, before a review is due: the
beat job marks what is due and queues the mail after commit; the mail names the topic,
the deadline and the review page, never the draft's text; a server that never answers
costs the mail's own attempts, never the beat job."""

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from approvals.services import approval_decide
from tasks.models import ContentTask, Status
from tasks.services.deadlines import task_remind_due_reviews
from tasks.tasks import REMINDER_MAX_RETRIES, send_review_reminder

from ..factories import UserFactory
from ..smtp import SMTPServer
from ..tarpit import Tarpit
from .factories import ContentTaskFactory, drafted_with_sources

SECRET_TEXT = "The draft's confidential sentence about the merger"


def draft_due_in(minutes: float, **fields) -> ContentTask:
    return drafted_with_sources(
        markdown=f"{SECRET_TEXT} [1].",
        sources=[{"url": "https://example.com/a", "title": "A", "text": SECRET_TEXT}],
        due_at=timezone.now() + timedelta(minutes=minutes),
        **fields,
    )


def beat(django_capture_on_commit_callbacks) -> list:
    with django_capture_on_commit_callbacks(execute=True):
        return task_remind_due_reviews()


def deliver(outbox) -> list:
    """Run each reminder the beat jobs queued, as the deliveries' worker would."""
    return [send_review_reminder.apply(args=[task_id]) for task_id in outbox.deliveries()]


@pytest.fixture
def editors(db):
    return [UserFactory(editor=True), UserFactory(editor=True), UserFactory(editor=True, email="")]


@pytest.mark.django_db
def test_a_review_due_within_the_lead_time_is_reminded_once_however_often_the_beat_runs(
    settings, outbox, editors, django_capture_on_commit_callbacks
):
    settings.REVIEW_REMINDER_BEFORE = timedelta(hours=1)
    task = draft_due_in(30)
    later = draft_due_in(120)
    assert beat(django_capture_on_commit_callbacks) == [task.pk]
    assert beat(django_capture_on_commit_callbacks) == []
    assert outbox.deliveries() == [str(task.pk)]
    deliver(outbox)
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == sorted(e.email for e in editors if e.email)
    task.refresh_from_db()
    assert task.due_reminded_at is not None
    later.refresh_from_db()
    assert later.due_reminded_at is None

    settings.REVIEW_REMINDER_BEFORE = timedelta(hours=3)  # now the later one is due soon too
    assert beat(django_capture_on_commit_callbacks) == [later.pk]


@pytest.mark.django_db
def test_the_reminder_holds_the_review_pages_address_and_not_the_drafts_text(
    settings, outbox, editors, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://news.example.com"
    task = draft_due_in(20, topic="Quarterly results explained")
    beat(django_capture_on_commit_callbacks)
    deliver(outbox)
    (message,) = mail.outbox
    url = f"https://news.example.com/admin/tasks/contenttask/{task.pk}/review/"
    assert url in message.body
    assert "Quarterly results explained" in message.subject
    assert "Quarterly results explained" in message.body
    assert f"{timezone.localtime(task.due_at):%Y-%m-%d %H:%M}" in message.body
    assert SECRET_TEXT not in message.body and SECRET_TEXT not in message.subject
    assert "merger" not in message.body


@pytest.mark.django_db
def test_an_overdue_plan_is_reminded_and_a_task_not_awaiting_review_is_not(
    outbox, editors, django_capture_on_commit_callbacks
):
    plan = ContentTaskFactory(status=Status.AWAITING_PLAN, review_plan=True,
                              due_at=timezone.now() - timedelta(minutes=5))  # fmt: skip
    ContentTaskFactory(status=Status.IN_PROGRESS, due_at=timezone.now() + timedelta(minutes=5))
    ContentTaskFactory(status=Status.AWAITING_APPROVAL)  # no deadline
    assert beat(django_capture_on_commit_callbacks) == [plan.pk]
    deliver(outbox)
    (message,) = mail.outbox
    assert "plan" in message.body and "overdue" in message.body


@pytest.mark.django_db
def test_a_draft_decided_before_the_reminder_gets_none(
    outbox, editors, django_capture_on_commit_callbacks
):
    decided_first = draft_due_in(30)
    approval_decide(task_id=decided_first.pk, reviewer=editors[0], approved=False,
                    feedback="Not for us.")  # fmt: skip
    assert beat(django_capture_on_commit_callbacks) == []

    # Decided after the beat marked it, before the worker sent its mail: no mail either.
    decided_between = draft_due_in(30)
    assert beat(django_capture_on_commit_callbacks) == [decided_between.pk]
    approval_decide(task_id=decided_between.pk, reviewer=editors[0], approved=False,
                    feedback="Not for us.")  # fmt: skip
    results = deliver(outbox)
    assert [result.get() for result in results] == [0]
    assert mail.outbox == []


def run_beat_in_thread(results: list, start: threading.Barrier | None = None) -> threading.Thread:
    def work():
        try:
            if start is not None:
                start.wait()
            results.append(task_remind_due_reviews())
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_beats_at_once_remind_each_review_once(outbox, editors):
    tasks = {draft_due_in(10 + n).pk for n in range(20)}
    results: list = []
    start = threading.Barrier(2)
    threads = [run_beat_in_thread(results, start) for _ in range(2)]
    for thread in threads:
        thread.join(30)
    marked = [pk for result in results for pk in result]
    assert sorted(marked) == sorted(tasks)  # each once, between them
    assert sorted(outbox.deliveries()) == sorted(str(pk) for pk in tasks)
    deliver(outbox)
    assert len(mail.outbox) == 20


@pytest.mark.django_db(transaction=True)
def test_a_beat_passes_over_a_review_another_beat_holds_without_waiting(outbox, editors):
    held, free = draft_due_in(10), draft_due_in(15)
    with transaction.atomic():
        # Another beat (or an editor deciding) has the row locked, not yet committed.
        ContentTask.objects.select_for_update().get(pk=held.pk)
        results: list = []
        started = time.monotonic()
        run_beat_in_thread(results).join(10)
        assert time.monotonic() - started < 5
        assert results == [[free.pk]]
    results = []
    run_beat_in_thread(results).join(10)
    assert results == [[held.pk]]
    assert sorted(outbox.deliveries()) == sorted([str(held.pk), str(free.pk)])


@pytest.mark.processes
@pytest.mark.django_db
def test_the_reminder_reaches_a_real_smtp_server(
    settings, outbox, editors, django_capture_on_commit_callbacks
):
    task = draft_due_in(30, topic="Quarterly results explained")
    with SMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        beat(django_capture_on_commit_callbacks)
        beat(django_capture_on_commit_callbacks)
        assert server.messages == []  # the beat job sends nothing itself
        assert [result.get() for result in deliver(outbox)] == [2]
    (received,) = server.wait_for(1)
    assert sorted(received.recipients) == sorted(e.email for e in editors if e.email)
    body = received.message.get_content()
    assert f"/admin/tasks/contenttask/{task.pk}/review/" in body
    assert SECRET_TEXT not in body
    assert "Quarterly results explained" in received.message["Subject"]


@pytest.mark.processes
@pytest.mark.django_db
def test_an_smtp_server_that_never_answers_costs_the_mail_its_attempts_and_not_the_beat(
    settings, outbox, editors, django_capture_on_commit_callbacks
):
    task = draft_due_in(30)
    with Tarpit("silent", interval=0.2) as tarpit:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", tarpit.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 0.5
        started = time.monotonic()
        assert beat(django_capture_on_commit_callbacks) == [task.pk]
        assert time.monotonic() - started < 2
        assert tarpit.accepted == 0

        started = time.monotonic()
        (result,) = deliver(outbox)
        elapsed = time.monotonic() - started
        # Each attempt gave up after EMAIL_TIMEOUT and was tried again, then the mail
        # was given up (the eager run here skips the waits between attempts).
        assert tarpit.accepted == REMINDER_MAX_RETRIES + 1
        assert elapsed < (REMINDER_MAX_RETRIES + 1) * 0.5 + 3
        assert result.get() == 0
    task.refresh_from_db()
    assert task.due_reminded_at is not None  # reminded once: a later beat does not send again


@pytest.mark.django_db(transaction=True)
def test_the_deliveries_worker_sends_the_reminder_the_beat_queued(worker_factory, editors):
    with SMTPServer() as server:
        worker_factory(deliveries=True, env={"EMAIL_URL": f"smtp://127.0.0.1:{server.port}"})
        task = draft_due_in(30)
        assert task_remind_due_reviews() == [task.pk]
        server.wait_for(1, timeout=30)
        assert task_remind_due_reviews() == []
    (received,) = server.messages
    assert f"/admin/tasks/contenttask/{task.pk}/review/" in received.message.get_content()
