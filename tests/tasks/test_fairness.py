"""Fair shares between users: a run message is a ticket for one run, and the run takes
the pending task whose turn it is. Within a priority owners take turns, so one owner's
backlog does not hold up another's task; a higher priority still goes first; and
MAX_RUNS_PER_USER caps one owner's runs in flight."""

import logging

import pytest
from django.db import transaction

from contentpipeline.observability import request_id_var
from tasks.models import ContentTask, StageRun
from tasks.runner import run_pipeline
from tasks.services import task_cancel, task_claim, task_complete, task_create
from tasks.tasks import run_pipeline_task

from ..factories import UserFactory
from ..fakes import CHAT_PATH, FakeLLMServer, Reply
from .test_worker_lifecycle import SMALL, wait_for

pytestmark = pytest.mark.django_db


def queue(user, count: int, **fields) -> list[ContentTask]:
    """`count` tasks submitted by `user`, one after the other."""
    return [
        task_create(user=user, topic=f"{user.username}'s garden note {i}", **SMALL, **fields)
        for i in range(count)
    ]


def next_run(message_for: ContentTask) -> ContentTask | None:
    """The task that a run message naming `message_for` runs (its claim, no stages)."""
    claim = task_claim(task_id=message_for.pk, in_turn=True)
    return None if claim is None else claim.task


def test_with_a_slot_busy_the_next_run_is_the_other_owners_task_not_the_backlogs():
    a, b = UserFactory(), UserFactory()
    running, *backlog = queue(a, 51)
    assert next_run(running) == running  # the busy slot
    (bs,) = queue(b, 1)

    # The next message taken is one of A's, sent long before B's: it runs B's task.
    assert next_run(backlog[0]) == bs
    # Then A's backlog, in the order it was submitted.
    assert next_run(backlog[1]) == backlog[0]
    assert next_run(backlog[2]) == backlog[1]


def test_a_higher_priority_goes_first_and_owners_take_turns_within_a_priority():
    a, b = UserFactory(), UserFactory()
    a_normal = queue(a, 3)
    (b_normal,) = queue(b, 1)
    (a_high,) = queue(a, 1, priority="high")

    order = [next_run(a_normal[0]) for _ in range(5)]

    assert order == [a_high, a_normal[0], b_normal, a_normal[1], a_normal[2]]
    assert next_run(a_normal[0]) is None  # nothing left: the message is spent


def test_max_runs_per_user_caps_an_owners_runs_and_their_next_is_sent_when_one_ends(
    settings, outbox, django_capture_on_commit_callbacks
):
    settings.MAX_RUNS_PER_USER = 2
    a, b = UserFactory(), UserFactory()
    a_tasks = queue(a, 4)
    first, second = next_run(a_tasks[0]), next_run(a_tasks[1])
    assert [first, second] == a_tasks[:2]

    # A is at the cap: a message for A's third task runs nothing, A's tasks wait ...
    assert next_run(a_tasks[2]) is None
    assert ContentTask.objects.get(pk=a_tasks[2].pk).status == "pending"
    # ... while another owner's task still runs.
    (bs,) = queue(b, 1)
    assert next_run(a_tasks[3]) == bs

    # One of A's runs ends: a message for A's next task goes out at once, not at the
    # dispatcher's next beat, and it runs that task.
    assert outbox.messages() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert task_complete(task_id=first.pk, lease_id=first.lease_id)
    assert outbox.messages() == 1
    assert next_run(a_tasks[3]) == a_tasks[2]
    assert next_run(a_tasks[3]) is None  # A is at the cap again


def test_the_message_of_a_task_no_longer_runnable_runs_the_next_in_turn(integrator):
    cancelled, waiting = queue(integrator, 2)
    task_cancel(user=integrator, task_id=cancelled.pk)

    # No task is left pending with no message for it: the cancelled one's runs the other.
    assert run_pipeline_task(str(cancelled.pk)) == "done"

    assert ContentTask.objects.get(pk=waiting.pk).status == "awaiting_approval"
    assert ContentTask.objects.get(pk=cancelled.pk).status == "cancelled"


def test_a_failed_stage_is_retried_as_the_task_that_was_run_not_the_one_named(settings, integrator):
    cancelled, waiting = queue(integrator, 2)
    task_cancel(user=integrator, task_id=cancelled.pk)
    with FakeLLMServer() as llm:
        llm.configure(settings)
        settings.LLM_MAX_RETRIES = 0
        llm.script(CHAT_PATH, Reply({"error": {"message": "overloaded"}}, status=500))
        # Run as a worker would, the retry included (at once: an eager run's retries).
        result = run_pipeline_task.apply(args=[str(cancelled.pk)])

    assert result.get() == "done"
    research = StageRun.objects.filter(task=waiting, stage="research").order_by("attempt")
    assert [attempt.status for attempt in research] == ["failed", "succeeded"]
    assert ContentTask.objects.get(pk=waiting.pk).status == "awaiting_approval"


def test_a_run_taken_on_another_tasks_message_does_not_log_under_that_messages_request(
    integrator, caplog, django_capture_on_commit_callbacks
):
    cancelled, waiting = queue(integrator, 2)
    task_cancel(user=integrator, task_id=cancelled.pk)
    logged = []

    class RequestIds(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append((record.task_id, request_id_var.get()))

    handler = RequestIds()
    caplog.set_level(logging.INFO, logger="tasks.stage_runs")
    logging.getLogger("tasks.stage_runs").addHandler(handler)
    token = request_id_var.set("the-request-that-queued-the-cancelled-task")
    try:
        with django_capture_on_commit_callbacks(execute=True):  # the stage lines go then
            assert run_pipeline(cancelled.pk, in_turn=True) == "done"
    finally:
        request_id_var.reset(token)
        logging.getLogger("tasks.stage_runs").removeHandler(handler)

    assert logged and set(logged) == {(str(waiting.pk), None)}


@pytest.mark.django_db(transaction=True)
def test_with_two_runs_in_flight_another_owners_task_starts_within_three_runs(worker_factory):
    a, b = UserFactory(), UserFactory()
    worker_factory(concurrency=2)
    with transaction.atomic():  # sent together when it commits
        backlog = queue(a, 30)
    wait_for(
        lambda: ContentTask.objects.filter(created_by=a, status="in_progress").exists(),
        30, "A's first run",
    )  # fmt: skip
    (bs,) = queue(b, 1)

    wait_for(lambda: ContentTask.objects.get(pk=bs.pk).started_at is not None, 60, "B's run")
    bs.refresh_from_db()
    started_between = ContentTask.objects.filter(
        pk__in=[task.pk for task in backlog],
        started_at__gt=bs.created_at,
        started_at__lt=bs.started_at,
    ).count()
    waiting = ContentTask.objects.filter(created_by=a, status="pending").count()
    assert started_between <= 3, f"{started_between} of A's runs started before B's"
    assert waiting > 20  # B did not wait for A's backlog to drain
