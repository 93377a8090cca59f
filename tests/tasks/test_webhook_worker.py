"""Webhook deliveries through real Celery worker processes: the status changes of a
task the pipeline runs arrive signed at a receiver on loopback; a failed attempt is
retried by Celery after its backoff; a receiver that hangs or is down neither holds up
nor fails the pipeline. Deliveries run in a worker of their own: a pipeline worker
leaves them alone, one user's receivers that keep every delivery waiting (a tarpit)
delay no other user's tasks, and a delivery waiting on its receiver holds no database
connection."""

import os
import subprocess
import time

import pytest
from django.db.models import Max

from contentpipeline.celery import app as celery_app
from contentpipeline.queues import webhook_queue
from devtools.processes import ROOT, worker_command
from tasks.models import ContentTask, DeliveryState, WebhookDelivery
from tasks.services import task_create, task_pause
from tasks.services.webhooks import webhook_create

from ..factories import UserFactory
from ..tarpit import Tarpit
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
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # registering the loopback receivers here


@pytest.fixture
def worker(worker_factory, loopback_allowed):
    """A pipeline worker and the deliveries' worker beside it."""
    worker_factory(env=WORKER_ENV)
    return worker_factory(deliveries=True, env=WORKER_ENV)


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


# --- The deliveries' worker of its own -----------------------------------------------------


def consumed_queues(node: str) -> list[str]:
    replies = celery_app.control.inspect(destination=[node], timeout=5).active_queues()
    return sorted(queue["name"] for queue in replies[node])


def pool_size(node: str) -> int:
    return celery_app.control.inspect(destination=[node], timeout=5).stats()[node]["pool"][
        "max-concurrency"
    ]


def test_a_pipeline_worker_leaves_the_deliveries_to_the_deliveries_worker(
    worker_factory, loopback_allowed, receiver, settings
):
    pipeline = worker_factory(env=WORKER_ENV)
    user = hooked_user(receiver)

    task = task_create(user=user, topic="Comfrey tea for tomatoes", **SMALL)

    wait_for(lambda: status_of(task.pk) == "awaiting_approval", message="the pipeline")
    assert consumed_queues(pipeline.node) == [settings.CELERY_TASK_DEFAULT_QUEUE]
    assert receiver.requests == []
    assert set(WebhookDelivery.objects.values_list("attempts", flat=True)) == {0}
    worker_factory(deliveries=True, env=WORKER_ENV)
    assert {r.json["status"] for r in receiver.wait_for(3)} == {
        "pending", "in_progress", "awaiting_approval"
    }  # fmt: skip


# A receiver that sends its answer's head a byte a second keeps each delivery waiting
# for as long as the test lasts (WEBHOOK_TIMEOUT 60 s is the whole exchange's deadline).
TARPIT_ENV = {**WORKER_ENV, "WEBHOOK_TIMEOUT": "60", "WEBHOOK_CONCURRENCY": "4"}


def test_one_users_tarpit_webhooks_do_not_delay_another_users_tasks(
    worker_factory, loopback_allowed
):
    # Small pools: 4 pipeline threads, 4 delivery threads. Sharing one pool, the first
    # user's deliveries would take all four threads and hold them.
    worker_factory(concurrency=4, env=WORKER_ENV)
    deliveries = worker_factory(deliveries=True, env=TARPIT_ENV)
    with Tarpit("headers", interval=1.0) as tarpit:
        integrator = UserFactory()
        for n in range(10):
            webhook_create(user=integrator, url=f"{tarpit.url}/hooks/{n}")
        for n in range(3):
            task_create(user=integrator, topic=f"Hedge laying, part {n}", **SMALL)
        wait_for(lambda: tarpit.open >= 4, timeout=30, message="the tarpit to hold deliveries")

        other = UserFactory()
        ids = [task_create(user=other, topic=f"Seed swaps {n}", **SMALL).pk for n in range(4)]

        ready = ContentTask.objects.filter(pk__in=ids, status="awaiting_approval")
        wait_for(lambda: ready.count() == 4, timeout=30, message="the other user's tasks")
        assert tarpit.open == 4  # still held: the deliveries' whole pool, and no more
        in_flight = WebhookDelivery.objects.filter(state=DeliveryState.PENDING, attempts=1)
        assert in_flight.count() == 4
        assert pool_size(deliveries.node) == 4  # WEBHOOK_CONCURRENCY


def test_deliveries_a_receiver_keeps_waiting_hold_no_database_connection(
    worker_factory, loopback_allowed
):
    # One database connection for the deliveries' worker: a delivery that kept its
    # connection while the receiver makes it wait would leave none for the next one's
    # claim, which would fail after DB_POOL_TIMEOUT (2 s).
    one_connection = {"DB_POOL_MIN": "1", "DB_POOL_MAX": "1", "DB_POOL_TIMEOUT": "2"}
    worker_factory(deliveries=True, env={**TARPIT_ENV, **one_connection})
    with Tarpit("headers", interval=1.0) as tarpit:
        user = UserFactory()
        for n in range(4):
            webhook_create(user=user, url=f"{tarpit.url}/hooks/{n}")

        task_pause(user=user, task_id=ContentTaskFactory(created_by=user).pk)

        wait_for(lambda: tarpit.open >= 4, timeout=20, message="4 deliveries at the tarpit")
        assert tarpit.open == 4
        assert set(WebhookDelivery.objects.values_list("state", "attempts")) == {("pending", 1)}


@pytest.mark.processes
def test_a_worker_on_both_the_pipelines_and_the_deliveries_queue_refuses_to_start():
    queue = f"both-{os.getpid()}"
    both = f"{queue},{webhook_queue(queue)}"
    command = worker_command(queue=both, extra=["--without-gossip", "--without-mingle"])

    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, "CELERY_QUEUE": queue},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode != 0
    assert f"consumes {webhook_queue(queue)} alone" in done.stderr
