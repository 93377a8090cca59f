"""Notification e-mail through real Celery workers (the pipeline's, and the deliveries'
beside it) to mail servers on loopback: a real SMTP server receives the editors' and
the requester's messages; one that accepts and never answers leaves decisions as fast
as ever while each send waits out EMAIL_TIMEOUT and is tried again."""

import time

import pytest

from notifications.models import Notification
from tasks.runner import run_pipeline

from ..conftest import client_for
from ..factories import UserFactory
from ..smtp import SMTPServer
from ..tarpit import Tarpit
from ..tasks.factories import ContentTaskFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("quick_writer")]


def wait_for(condition, timeout: float = 30, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


def workers(worker_factory, email_url: str, **env: str) -> None:
    environment = {"EMAIL_URL": email_url, "EMAIL_TIMEOUT": "1", "EMAIL_RETRY_WAIT": "0.5", **env}
    worker_factory(env=environment)
    worker_factory(deliveries=True, env=environment)


def drafted(**fields):
    task = ContentTaskFactory(generate_image=False, **fields)
    assert run_pipeline(task.pk) == "done"  # committed: its notifications are queued
    return task


def test_a_local_smtp_server_receives_the_review_and_decision_mails(worker_factory):
    editor = UserFactory(editor=True)
    with SMTPServer() as server:
        workers(worker_factory, server.url)
        task = drafted()
        (review,) = server.wait_for(1)
        assert review.recipients == [editor.email]
        assert f"/admin/tasks/contenttask/{task.pk}/review/" in review.text
        assert "Because it helps." not in review.text  # the draft's text stays home
        assert task.topic in review.message["Subject"]

        answer = client_for(editor).post(
            f"/api/tasks/{task.pk}/approval", {"approved": True}, format="json"
        )
        assert answer.status_code == 200, answer.content
        received = server.wait_for(2)
        assert len(received) == 2, "the requester's decision mail did not arrive"
        decision = received[1]
        assert decision.recipients == [task.created_by.email]
        assert "approved" in decision.message["Subject"]
        assert f"/api/tasks/{task.pk}" in decision.text


def test_an_smtp_server_that_never_answers_delays_no_decision_and_each_send_is_retried(
    worker_factory, settings
):
    editor = UserFactory(editor=True)
    with Tarpit("silent", interval=0.2) as tarpit:
        workers(worker_factory, f"smtp://127.0.0.1:{tarpit.port}")
        # This process (the API's) would wait on the silent server too, were it to send.
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = (
            "127.0.0.1",
            tarpit.port,
            5,
        )
        first, second = drafted(), drafted()
        # The editor's mails are stuck at the silent server...
        wait_for(lambda: tarpit.accepted >= 1, message="a send to reach the silent server")

        started = time.monotonic()
        answer = client_for(editor).post(
            f"/api/tasks/{first.pk}/approval", {"approved": True}, format="json"
        )
        elapsed = time.monotonic() - started
        assert answer.status_code == 200, answer.content
        assert answer.json()["approval_status"] == "approved"
        assert elapsed < 1.0, f"the decision took {elapsed:.2f} s"

        # ... while the requester is still told (the inbox needs no mail server) ...
        wait_for(
            lambda: Notification.objects.filter(task=first, kind="decision").exists(),
            message="the decision's notification",
        )
        # ... and each send, timed out, is tried again: more connections than sends.
        sends = 3  # two drafts for the editor, one decision for the requester
        wait_for(lambda: tarpit.accepted > sends, message="a send tried again")
        assert not Notification.objects.filter(emailed_at__isnull=False).exists()
        # The second draft is decided as quickly, mail still pending.
        started = time.monotonic()
        answer = client_for(editor).post(
            f"/api/tasks/{second.pk}/approval",
            {"approved": False, "feedback": "Not for us."},
            format="json",
        )
        assert answer.status_code == 200 and time.monotonic() - started < 1.0
