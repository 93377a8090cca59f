"""Integrators' webhooks: registering, listing and deleting them (who may), the URLs
refused, a delivery per status change of the owner's tasks (and its cost to the
pipeline), and each attempt against a real receiver on loopback that checks the
signature as the README tells integrators to."""

import base64
import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contentpipeline.celery import app as celery_app
from contentpipeline.errors import ApplicationError
from tasks.models import ContentTask, DeliveryState, Webhook, WebhookDelivery
from tasks.runner import run_pipeline
from tasks.services import task_cancel, task_create, task_pause, task_resume
from tasks.services.webhooks import (
    LOST_LAST_ATTEMPT,
    MAX_RETRY_WAIT,
    retry_wait,
    webhook_create,
    webhook_delete,
    webhook_deliver,
    webhook_dispatch_waiting,
    webhook_set_active,
)
from tasks.webhooks import post, signature

from ..conftest import client_for
from ..factories import UserFactory
from ..tarpit import Tarpit
from .factories import ContentTaskFactory
from .pipeline.test_outbound import MARGIN, finished_within
from .receiver import Answer, WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receivers are on loopback


@pytest.fixture
def receiver(loopback_allowed):
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def delivery_messages(settings):
    """A queue of the test's own; returns a function counting the messages waiting on
    its webhook deliveries' queue, as (delivery id, attempt) pairs."""
    queue = f"hooks-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue

    def waiting() -> list[tuple[int, int]]:
        with celery_app.connection_for_read() as conn:
            client = conn.default_channel.client
            found = []
            for key in client.keys(f"{queue}.webhooks*"):
                for raw in client.lrange(key, 0, -1):
                    message = json.loads(raw)
                    args = json.loads(base64.b64decode(message["body"]))[0]
                    found.append(tuple(args))
            return sorted(found)

    yield waiting
    with celery_app.connection_for_write() as conn:
        client = conn.default_channel.client
        for key in client.keys(f"{queue}*"):
            client.delete(key)


def register(user, url: str) -> Webhook:
    return webhook_create(user=user, url=url)


# --- The API -------------------------------------------------------------------------


def test_an_integrator_registers_a_url_and_gets_its_secret(
    integrator_client, integrator, loopback_allowed
):
    response = integrator_client.post(
        "/api/webhooks", {"url": "http://127.0.0.1:9/hooks"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "url", "secret", "active", "created_at"}
    assert body["url"] == "http://127.0.0.1:9/hooks" and body["active"] is True
    assert body["secret"].startswith("whsec_") and len(body["secret"]) == 6 + 64
    stored = Webhook.objects.get(pk=body["id"])
    assert (stored.owner, stored.secret) == (integrator, body["secret"])
    listed = integrator_client.get("/api/webhooks").json()
    assert listed["count"] == 1 and listed["results"] == [body]


def test_each_user_lists_only_their_own_webhooks_editors_too(
    integrator_client, integrator, editor_client, editor, loopback_allowed
):
    mine = register(integrator, "http://127.0.0.1:9/mine")
    register(editor, "http://127.0.0.1:9/editors")

    assert [w["id"] for w in integrator_client.get("/api/webhooks").json()["results"]] == [
        str(mine.pk)
    ]
    assert [w["url"] for w in editor_client.get("/api/webhooks").json()["results"]] == [
        "http://127.0.0.1:9/editors"
    ]


def test_nobody_but_the_owner_can_delete_a_webhook(
    integrator_client, integrator, editor_client, loopback_allowed
):
    webhook = register(integrator, "http://127.0.0.1:9/hooks")
    stranger = client_for(UserFactory())

    assert stranger.delete(f"/api/webhooks/{webhook.pk}").status_code == 404
    assert editor_client.delete(f"/api/webhooks/{webhook.pk}").status_code == 404
    assert Webhook.objects.filter(pk=webhook.pk).exists()
    assert integrator_client.delete(f"/api/webhooks/{webhook.pk}").status_code == 204
    assert not Webhook.objects.filter(pk=webhook.pk).exists()
    assert integrator_client.delete(f"/api/webhooks/{webhook.pk}").status_code == 404
    assert integrator_client.delete("/api/webhooks/not-a-uuid").status_code == 404


def test_anonymous_clients_get_401(anon_client, integrator, loopback_allowed):
    webhook = register(integrator, "http://127.0.0.1:9/hooks")

    assert anon_client.get("/api/webhooks").status_code == 401
    assert anon_client.post("/api/webhooks", {"url": "https://example.com/"}).status_code == 401
    assert anon_client.delete(f"/api/webhooks/{webhook.pk}").status_code == 401
    assert Webhook.objects.count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hooks",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "not a url",
        "http://",
        "",
        "http://example.com/" + "a" * 2000,
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/hooks",
        "http://192.168.0.10/hooks",
        "http://172.16.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://100.64.0.1/hooks",
        "http://no-such-host.invalid/hooks",
    ],
)
def test_a_hostile_or_unusable_url_answers_400_and_stores_nothing(integrator_client, url):
    response = integrator_client.post("/api/webhooks", {"url": url}, format="json")

    assert response.status_code == 400, response.content
    assert Webhook.objects.count() == 0


def test_a_nul_byte_or_a_missing_url_answers_400(integrator_client):
    for body in ({"url": "https://example.com/\x00"}, {}, {"url": None}, {"url": ["a"]}):
        assert integrator_client.post("/api/webhooks", body, format="json").status_code == 400
    assert Webhook.objects.count() == 0


def test_loopback_is_allowed_only_when_the_setting_says_so(integrator_client, integrator, settings):
    url = {"url": "http://127.0.0.1:9/hooks"}
    assert settings.WEBHOOK_ALLOW_PRIVATE is False  # the default, DEBUG or not
    assert integrator_client.post("/api/webhooks", url, format="json").status_code == 400
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert integrator_client.post("/api/webhooks", url, format="json").status_code == 201


def test_a_user_has_at_most_the_configured_number_of_webhooks(
    integrator_client, integrator, loopback_allowed, settings
):
    assert settings.WEBHOOKS_PER_USER == 10
    for n in range(10):
        register(integrator, f"http://127.0.0.1:9/hooks/{n}")

    response = integrator_client.post(
        "/api/webhooks", {"url": "http://127.0.0.1:9/hooks/10"}, format="json"
    )

    assert response.status_code == 400
    assert "at most 10 webhooks" in response.json()["detail"]
    assert Webhook.objects.filter(owner=integrator).count() == 10
    # Others are not held to this user's count.
    assert register(UserFactory(), "http://127.0.0.1:9/hooks/10")


@pytest.mark.django_db(transaction=True)
def test_two_registrations_at_once_cannot_both_take_the_last_place(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    user = UserFactory()
    for n in range(settings.WEBHOOKS_PER_USER - 1):
        register(user, f"http://127.0.0.1:9/hooks/{n}")
    outcomes: list[str] = []

    def attempt(n: int) -> None:
        try:
            register(user, f"http://127.0.0.1:9/racing/{n}")
            outcomes.append("created")
        except ApplicationError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    # Both requests arrive while the user's row is held, and go on together.
    with transaction.atomic():
        get_user_model().objects.select_for_update().get(pk=user.pk)
        threads = [threading.Thread(target=attempt, args=(n,)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        wait_for_sessions_waiting_on_a_lock(2)
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["created", "refused"]
    assert Webhook.objects.filter(owner=user).count() == settings.WEBHOOKS_PER_USER


def wait_for_sessions_waiting_on_a_lock(count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            # Within a transaction the statistics are a snapshot unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
            time.sleep(0.02)
    raise AssertionError(f"fewer than {count} sessions came to wait on the lock")


def test_the_same_url_twice_answers_400(integrator_client, integrator, loopback_allowed):
    register(integrator, "http://127.0.0.1:9/hooks")
    response = integrator_client.post(
        "/api/webhooks", {"url": " http://127.0.0.1:9/hooks "}, format="json"
    )
    assert response.status_code == 400
    assert Webhook.objects.count() == 1


# --- Deliveries made by status changes ------------------------------------------------


def test_every_status_change_of_the_owners_tasks_makes_one_delivery_per_active_webhook(
    integrator, loopback_allowed, delivery_messages, django_capture_on_commit_callbacks
):
    first = register(integrator, "http://127.0.0.1:9/one")
    second = register(integrator, "http://127.0.0.1:9/two")
    switched_off = register(integrator, "http://127.0.0.1:9/off")
    webhook_set_active(webhook_ids=[switched_off.pk], active=False)
    other = register(UserFactory(), "http://127.0.0.1:9/someone-else")

    with django_capture_on_commit_callbacks(execute=True):
        task = task_create(user=integrator, topic="Hedgerows for small gardens")
    with django_capture_on_commit_callbacks(execute=True):
        task_pause(user=integrator, task_id=task.pk)
    with django_capture_on_commit_callbacks(execute=True):
        task_resume(user=integrator, task_id=task.pk)
    with django_capture_on_commit_callbacks(execute=True):
        task_cancel(user=integrator, task_id=task.pk)

    deliveries = WebhookDelivery.objects.order_by("id")
    changes = [(None, "pending"), ("pending", "paused"), ("paused", "pending"),
               ("pending", "cancelled")]  # fmt: skip
    for webhook in (first, second):
        mine = deliveries.filter(webhook=webhook)
        assert [(d.payload["previous_status"], d.payload["status"]) for d in mine] == changes
        assert all(d.state == "pending" and d.attempts == 0 for d in mine)
        assert all(d.payload["task_id"] == str(task.pk) for d in mine)
        assert all(d.payload["event"] == "task.status" for d in mine)
    assert not deliveries.filter(webhook__in=[switched_off, other]).exists()
    # Each was sent to the deliveries' queue after its commit, as its first attempt.
    assert delivery_messages() == [(d.pk, 1) for d in deliveries]


def test_a_delivery_is_made_only_when_the_transaction_commits(
    integrator, loopback_allowed, delivery_messages, django_capture_on_commit_callbacks
):
    register(integrator, "http://127.0.0.1:9/hooks")
    task = ContentTaskFactory(created_by=integrator)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task_pause(user=integrator, task_id=task.pk)

    assert WebhookDelivery.objects.count() == 1
    assert delivery_messages() == []  # not before the commit
    for callback in callbacks:
        callback()
    assert delivery_messages() == [(WebhookDelivery.objects.get().pk, 1)]


def test_a_pipeline_run_costs_no_statement_of_its_own_for_an_owner_without_webhooks(integrator):
    # The pipeline's hot path: for an owner with no webhook, whether there is one is
    # read with the task's lock, which every step takes anyway; nothing else is asked.
    task = ContentTaskFactory(created_by=integrator, generate_image=False)

    with CaptureQueriesContext(connection) as queries:
        assert run_pipeline(task.pk) == "done"

    webhook_statements = [q["sql"] for q in queries if "tasks_webhook" in q["sql"]]
    assert webhook_statements
    assert all(
        sql.startswith('SELECT "tasks_contenttask"."id"') and sql.endswith("FOR UPDATE")
        for sql in webhook_statements
    )
    assert WebhookDelivery.objects.count() == 0


def test_the_pipeline_records_each_of_its_status_changes_for_the_owners_webhook(
    integrator, loopback_allowed
):
    register(integrator, "http://127.0.0.1:9/hooks")
    task = ContentTaskFactory(created_by=integrator, generate_image=False)

    assert run_pipeline(task.pk) == "done"

    sent = [(d.previous_status, d.status, d.payload["progress"])
            for d in WebhookDelivery.objects.order_by("id")]  # fmt: skip
    assert sent == [("pending", "in_progress", 0), ("in_progress", "awaiting_approval", 100)]


# --- Attempts against a receiver -------------------------------------------------------


def make_delivery(receiver, user=None, *, path: str = "/hooks") -> WebhookDelivery:
    user = user or UserFactory()
    webhook = register(user, receiver.url(path))
    receiver.secret = webhook.secret
    task = ContentTaskFactory(created_by=user)
    task_pause(user=user, task_id=task.pk)
    return WebhookDelivery.objects.get(webhook=webhook)


def test_a_delivery_is_a_signed_post_the_receiver_verifies(receiver):
    delivery = make_delivery(receiver)

    assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is None

    [request] = receiver.requests
    assert request.verified, "the README's verify_webhook refused the signature"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Webhook-Event"] == "task.status"
    assert request.headers["X-Webhook-Delivery"] == str(delivery.pk)
    timestamp = request.headers["X-Webhook-Timestamp"]
    assert request.headers["X-Webhook-Signature"] == signature(
        delivery.webhook.secret, timestamp, request.body
    )
    assert request.json == {**delivery.payload, "delivery_id": delivery.pk}
    assert request.json["status"] == "paused" and request.json["previous_status"] == "pending"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert delivery.delivered_at is not None and delivery.last_response == "ok"
    assert delivery.next_attempt_at is None


def test_a_wrong_secret_or_a_changed_body_fails_the_readme_check(receiver):
    delivery = make_delivery(receiver)
    webhook_deliver(delivery_id=delivery.pk, attempt=1)
    [request] = receiver.requests
    verify = receiver.verify

    assert verify(delivery.webhook.secret, request.headers, request.body)
    assert not verify("whsec_other", request.headers, request.body)
    assert not verify(delivery.webhook.secret, request.headers, request.body + b" ")
    stale = {**request.headers, "X-Webhook-Timestamp": str(int(timezone.now().timestamp()) - 600)}
    assert not verify(delivery.webhook.secret, stale, request.body)


def test_a_failed_attempt_is_recorded_and_the_next_one_waits_longer(receiver, settings):
    settings.WEBHOOK_RETRY_DELAY = 10
    receiver.answer(Answer(500, b"<h1>Internal Server Error</h1>"), Answer(503, b"busy"))
    delivery = make_delivery(receiver)

    first_wait = webhook_deliver(delivery_id=delivery.pk, attempt=1)
    delivery.refresh_from_db()
    assert 10 <= first_wait <= 12
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.last_error.startswith("HTTP 500") and delivery.last_response.startswith("<h1>")
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=9)

    second_wait = webhook_deliver(delivery_id=delivery.pk, attempt=2)
    assert 20 <= second_wait <= 24
    assert webhook_deliver(delivery_id=delivery.pk, attempt=3) is None  # a 200 now
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert delivery.last_error == "" and len(receiver.requests) == 3
    assert all(request.verified for request in receiver.requests)


def test_an_attempt_is_made_once_however_often_its_message_comes(receiver):
    receiver.answer(Answer(500))
    delivery = make_delivery(receiver)

    assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is not None
    assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is None  # a duplicate
    assert webhook_deliver(delivery_id=delivery.pk, attempt=3) is None  # not its turn
    assert webhook_deliver(delivery_id=delivery.pk, attempt=2) is None  # delivered
    assert webhook_deliver(delivery_id=delivery.pk, attempt=2) is None
    assert len(receiver.requests) == 2
    assert WebhookDelivery.objects.get().attempts == 2


def test_a_delivery_is_given_up_after_the_last_attempt(receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answer(*[Answer(502)] * 3)
    delivery = make_delivery(receiver)

    waits = [webhook_deliver(delivery_id=delivery.pk, attempt=n) for n in (1, 2, 3)]

    assert waits[0] is not None and waits[1] is not None and waits[2] is None
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("failed", 3, 502)
    assert delivery.next_attempt_at is None


def test_the_wait_between_attempts_doubles_and_is_capped(settings):
    settings.WEBHOOK_RETRY_DELAY = 10
    waits = [retry_wait(n) for n in range(1, 9)]
    for attempt, wait in enumerate(waits, start=1):
        assert 10 * 2 ** (attempt - 1) <= wait <= 12 * 2 ** (attempt - 1)
    settings.WEBHOOK_RETRY_DELAY = 600
    assert retry_wait(8) == MAX_RETRY_WAIT  # below the broker's visibility timeout


def test_a_redirect_is_not_followed_and_counts_as_a_failure(receiver):
    target = receiver.url("/elsewhere")
    receiver.answer(Answer(302, b"", headers=(("Location", target),)))
    delivery = make_delivery(receiver)

    assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is not None

    assert [request.path for request in receiver.requests] == ["/hooks"]
    delivery.refresh_from_db()
    assert delivery.last_status_code == 302 and "not followed" in delivery.last_error


def test_only_a_short_excerpt_of_a_long_answer_is_kept(receiver):
    receiver.answer(Answer(500, b"x" * 5_000_000))
    delivery = make_delivery(receiver)

    webhook_deliver(delivery_id=delivery.pk, attempt=1)

    delivery.refresh_from_db()
    assert delivery.last_response == "x" * 200


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt(receiver, settings):
    settings.WEBHOOK_TIMEOUT = 0.5
    receiver.answer(Answer(200, delay=3))
    delivery = make_delivery(receiver)

    started = timezone.now()
    assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is not None

    assert timezone.now() - started < timedelta(seconds=2.5)
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.last_status_code is None
    assert "timed out" in delivery.last_error


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_deadline(settings):
    # Each byte of the answer's head comes well within any read timeout: WEBHOOK_TIMEOUT
    # is the whole exchange's deadline, and the connection is closed when it passes.
    settings.WEBHOOK_TIMEOUT = 0.5
    with Tarpit("headers", interval=0.1) as tarpit:
        outcome = finished_within(
            settings.WEBHOOK_TIMEOUT + MARGIN,
            post,
            f"{tarpit.url}/hooks",
            secret="whsec_test",
            payload={"event": "task.status"},
            event="task.status",
            delivery_id=1,
            timeout=settings.WEBHOOK_TIMEOUT,
            allow_private=True,
        )

        assert outcome.error == "timed out after 0.5 seconds"
        assert outcome.status_code is None and not outcome.final
        assert tarpit.wait_closed(MARGIN)


def test_a_receiver_that_is_down_is_a_failed_attempt(loopback_allowed):
    with WebhookReceiver() as gone:
        url = gone.url()
    user = UserFactory()
    register(user, url)
    task_pause(user=user, task_id=ContentTaskFactory(created_by=user).pk)
    delivery = WebhookDelivery.objects.get()

    assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is not None

    delivery.refresh_from_db()
    assert delivery.state == "pending" and "could not connect" in delivery.last_error


def test_a_url_that_turned_private_is_refused_at_delivery_and_not_tried_again(receiver, settings):
    delivery = make_delivery(receiver)
    settings.WEBHOOK_ALLOW_PRIVATE = False  # the guard at the connection, not only at sign-up

    assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is None

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.state == "failed"
    assert delivery.last_error == "refused: the host 127.0.0.1 is not a public address"


def test_a_switched_off_webhook_gets_no_request(receiver):
    delivery = make_delivery(receiver)
    webhook_set_active(webhook_ids=[delivery.webhook_id], active=False)

    assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is None

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.state == "failed" and "switched off" in delivery.last_error


def test_a_deleted_webhooks_deliveries_go_with_it(receiver):
    delivery = make_delivery(receiver)
    webhook_delete(user=delivery.webhook.owner, webhook_id=delivery.webhook_id)

    assert webhook_deliver(delivery_id=delivery.pk, attempt=1) is None
    assert receiver.requests == [] and WebhookDelivery.objects.count() == 0


# --- The dispatcher ----------------------------------------------------------------------


def test_the_dispatcher_sends_overdue_deliveries_again_once_per_grace_period(
    receiver, delivery_messages, settings
):
    overdue = make_delivery(receiver)
    on_time = make_delivery(receiver)
    long_ago = timezone.now() - timedelta(seconds=settings.PIPELINE_DISPATCH_GRACE + 5)
    WebhookDelivery.objects.filter(pk=overdue.pk).update(next_attempt_at=long_ago, attempts=2)

    assert webhook_dispatch_waiting() == 1
    assert delivery_messages() == [(overdue.pk, 3)]
    assert webhook_dispatch_waiting() == 0  # marked as sent: not again within the grace
    assert WebhookDelivery.objects.get(pk=on_time.pk).attempts == 0


def test_an_attempt_past_the_last_is_never_made(receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    delivery = make_delivery(receiver)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=3)  # the last one lost

    assert webhook_deliver(delivery_id=delivery.pk, attempt=4) is None

    assert receiver.requests == []
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("pending", 3)


def test_the_dispatcher_gives_up_a_delivery_whose_last_attempt_was_lost(
    receiver, delivery_messages, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    last_lost, earlier_lost = make_delivery(receiver), make_delivery(receiver)
    long_ago = timezone.now() - timedelta(seconds=settings.PIPELINE_DISPATCH_GRACE + 5)
    WebhookDelivery.objects.filter(pk=last_lost.pk).update(next_attempt_at=long_ago, attempts=3)
    WebhookDelivery.objects.filter(pk=earlier_lost.pk).update(next_attempt_at=long_ago, attempts=2)

    assert webhook_dispatch_waiting() == 1

    assert delivery_messages() == [(earlier_lost.pk, 3)]
    last_lost.refresh_from_db()
    assert (last_lost.state, last_lost.attempts, last_lost.next_attempt_at) == ("failed", 3, None)
    assert last_lost.last_error == LOST_LAST_ATTEMPT


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_last_attempt_hanging_past_its_lease_is_given_up_not_sent_again(
    loopback_allowed, delivery_messages, settings
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    settings.WEBHOOK_TIMEOUT = 30  # longer than the test: the attempt hangs until the end
    with Tarpit("headers", interval=0.2) as tarpit:
        user = UserFactory()
        register(user, f"{tarpit.url}/hooks")
        task_pause(user=user, task_id=ContentTaskFactory(created_by=user).pk)
        delivery = WebhookDelivery.objects.get()
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=1)  # one failed

        def last_attempt() -> None:
            try:
                webhook_deliver(delivery_id=delivery.pk, attempt=2)
            finally:
                connections.close_all()

        hanging = threading.Thread(target=last_attempt)
        hanging.start()
        wait_until(lambda: tarpit.open == 1)
        # Its lease ran out while the receiver still trickles.
        long_ago = timezone.now() - timedelta(seconds=settings.PIPELINE_DISPATCH_GRACE + 5)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=long_ago)

        assert webhook_dispatch_waiting() == 0
        assert webhook_deliver(delivery_id=delivery.pk, attempt=3) is None

        # Only the first attempt's message, sent when the status change committed.
        assert delivery_messages() == [(delivery.pk, 1)] and tarpit.accepted == 1
    hanging.join(10)  # the tarpit closed: the attempt ends, and its outcome is dropped
    assert not hanging.is_alive()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 2)
    assert delivery.last_error == LOST_LAST_ATTEMPT


def test_the_dispatcher_removes_finished_deliveries_after_thirty_days(receiver):
    old, recent, waiting = (make_delivery(receiver) for _ in range(3))
    WebhookDelivery.objects.filter(pk__in=[old.pk, recent.pk]).update(state=DeliveryState.DELIVERED)
    WebhookDelivery.objects.filter(pk__in=[old.pk, waiting.pk]).update(
        created_at=timezone.now() - timedelta(days=31)
    )

    webhook_dispatch_waiting()

    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}


def test_a_task_of_another_owner_is_none_of_this_webhooks_business(receiver):
    make_delivery(receiver)
    someone = UserFactory()
    task_pause(user=someone, task_id=ContentTaskFactory(created_by=someone).pk)
    assert WebhookDelivery.objects.count() == 1
    assert ContentTask.objects.count() == 2
