"""A worker as production runs it (the threads pool and concurrency of the settings):
many tasks' model calls in flight at once on a handful of database connections, and a
stage that hangs past its time limit handed to a new run."""

import pytest
from django.db import transaction

from tasks.models import StageRun
from tasks.services import task_create
from tasks.tasks import dispatch_waiting_tasks

from ..factories import UserFactory
from ..fakes import CHAT_PATH, PIPELINE_USAGE, REPLIES, FakeLLMServer, Reply, chat_completion
from .test_worker_lifecycle import (
    SMALL,
    assert_each_stage_stored_once,
    statuses,
    wait_for,
    wait_until_idle,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def user():
    return UserFactory()


def test_twenty_tasks_have_their_calls_in_flight_together_on_one_worker_with_four_connections(
    worker_factory, user
):
    with FakeLLMServer(delay=1.0) as llm:
        # Four connections for twenty threads: a thread waiting on the model holds none.
        worker_factory(env={**llm.env(), "DB_POOL_MAX": "4"})
        with transaction.atomic():  # sent together when it commits
            tasks = [
                task_create(user=user, topic=f"Mulching a vegetable bed, part {i}", **SMALL)
                for i in range(20)
            ]
        ids = [task.pk for task in tasks]
        wait_for(lambda: set(statuses(ids).values()) == {"awaiting_approval"}, 120, "all 20")
    # A worker running two tasks at a time (the prefork default) has two in flight.
    assert llm.most_in_flight >= 10
    for task in tasks:
        assert_each_stage_stored_once(task)


def test_a_stage_hung_past_its_time_limit_is_taken_over_by_a_new_run(
    worker_factory, user, settings
):
    settings.PIPELINE_LEASE_SECONDS = 2
    limits = {"PIPELINE_LEASE_SECONDS": "2", "PIPELINE_STAGE_TIME_LIMIT": "2"}
    research = chat_completion(REPLIES["Research the brief"], usage=PIPELINE_USAGE)
    with FakeLLMServer() as llm:
        llm.script(CHAT_PATH, Reply(research, delay=12))  # the first research call hangs
        worker = worker_factory(env={**llm.env(), **limits})
        task = task_create(user=user, topic="A stage that hangs", **SMALL)
        # Celery beat runs the dispatcher in production; here the test ticks it.
        wait_for(
            lambda: statuses([task.pk])[task.pk] == "awaiting_approval",
            60,
            "a new run to finish the task while the first one still waits",
            tick=dispatch_waiting_tasks,
        )
        hung = StageRun.objects.get(task=task, stage="research", attempt=1)
        assert hung.status == "failed" and hung.error.startswith("Lost")
        wait_until_idle(worker)  # the hung call has come back and its run has ended
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    assert_each_stage_stored_once(task)
    hung.refresh_from_db()
    assert hung.status == "failed"  # its late output did not replace the new run's
