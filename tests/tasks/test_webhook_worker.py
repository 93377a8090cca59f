"""Webhook deliveries through real Celery worker processes: the status changes of a
task the pipeline runs arrive signed at a receiver on loopback; a failed attempt is
retried by Celery after its backoff; a receiver that hangs or is down neither holds up
nor fails the pipeline."""

import time

import pytest
from django.db.models import Max

from tasks.models import ContentTask, DeliveryState, WebhookDelivery
from tasks.services import task_create, task_pause
from tasks.services.webhooks import webhook_create

from ..factories import UserFactory
from .factories import ContentTaskFactory
from .receiver import Answer, WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = {"target_length": 100, "generate_image": False, "keywords": ["soil"]}
RETRY_DELAY = 0.5
WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_RETRY_DELAY": str(RETRY_DELAY),
    "WEBHOOK_MAX_ATTEMPTS": "3",
    "WEBHOOK_TIMEOUT": "30",
}


def wait_for(condition, timeout: float = 60, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


@pytest.fixture
def worker(worker_factory, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # registering the loopback receivers here
    return worker_factory(env=WORKER_ENV)


@pytest.fixture
def receiver():
    with WebhookReceiver() as running:
        yield running


def hooked_user(receiver):
    user = UserFactory()
    receiver.secret = webhook_create(user=user, url=receiver.url()).secret
    return user


def status_of(task_id) -> str:
    return ContentTask.objects.get(pk=task_id).status


def test_each_status_change_of_a_run_arrives_signed_at_the_receiver(worker, receiver):
    user = hooked_user(receiver)

    task = task_create(user=user, topic="Leaf mould in a wire bin", **SMALL)

    wait_for(lambda: status_of(task.pk) == "awaiting_approval", message="the pipeline")
    requests = receiver.wait_for(3)
    assert all(request.verified for request in requests)
    changes = {(r.json["previous_status"], r.json["status"]) for r in requests}
    assert changes == {(None, "pending"), ("pending", "in_progress"),
                       ("in_progress", "awaiting_approval")}  # fmt: skip
    assert {r.json["task_id"] for r in requests} == {str(task.pk)}
    wait_for(lambda: not WebhookDelivery.objects.exclude(state="delivered").exists())
    assert set(WebhookDelivery.objects.values_list("attempts", "last_status_code")) == {(1, 200)}


def test_a_receiver_answering_500_then_200_gets_the_delivery_again_after_the_backoff(
    worker, receiver
):
    user = hooked_user(receiver)
    receiver.answer(Answer(500, b"oops"))
    task = ContentTaskFactory(created_by=user)  # pending, with no run queued

    task_pause(user=user, task_id=task.pk)

    delivery = WebhookDelivery.objects.get()
    wait_for(lambda: WebhookDelivery.objects.get().state != DeliveryState.PENDING,
             message="the delivery to end")  # fmt: skip
    delivery.refresh_from_db()
    assert delivery.state == "delivered"
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (2, 200, "")
    first, second = receiver.requests
    assert first.verified and second.verified
    assert first.body == second.body  # the same delivery, signed afresh
    assert second.at - first.at >= RETRY_DELAY


def test_a_receiver_that_hangs_does_not_hold_up_the_pipeline(worker, receiver):
    user = hooked_user(receiver)
    receiver.hold = True  # every request waits for release(), well within the timeout

    task = task_create(user=user, topic="Wormeries on a balcony", **SMALL)

    wait_for(lambda: status_of(task.pk) == "awaiting_approval", message="the pipeline")
    # The pipeline finished while the first delivery was still waiting for its answer.
    assert len(receiver.requests) >= 1
    assert not WebhookDelivery.objects.exclude(state=DeliveryState.PENDING).exists()
    receiver.release()
    wait_for(lambda: WebhookDelivery.objects.filter(state="delivered").count() == 3,
             message="the held deliveries")  # fmt: skip


def test_a_receiver_that_is_down_neither_fails_nor_stops_the_pipeline(worker, receiver):
    user = hooked_user(receiver)
    receiver.__exit__(None, None, None)  # nothing listens at its URL any more

    task = task_create(user=user, topic="Cold frames from old windows", **SMALL)

    wait_for(lambda: status_of(task.pk) == "awaiting_approval", message="the pipeline")
    # Each delivery is tried WEBHOOK_MAX_ATTEMPTS (3) times by Celery, then given up.
    wait_for(lambda: WebhookDelivery.objects.filter(state="failed").count() == 3,
             message="the deliveries to be given up")  # fmt: skip
    assert WebhookDelivery.objects.aggregate(most=Max("attempts"))["most"] == 3
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {3}
    assert all("could not connect" in d.last_error for d in WebhookDelivery.objects.all())
    assert status_of(task.pk) == "awaiting_approval"
