"""Lifecycle guarantees proven against real Celery worker processes: priorities,
pause/cancel of a running task, crash recovery, racing workers, a broker outage."""

import time

import pytest
from celery.utils.nodenames import default_nodename, host_format
from django.conf import settings
from django.utils import timezone

from contentpipeline.celery import app as celery_app
from devtools.processes import stop
from tasks.models import PIPELINE_STAGES, ContentTask, StageRun
from tasks.services import task_cancel, task_create, task_dispatch, task_pause, task_resume
from tasks.tasks import dispatch_waiting_tasks

from ..brokers import use_broker
from ..factories import UserFactory
from ..fakes import FakeLLMServer

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = {"target_length": 100, "generate_image": False, "keywords": ["soil"]}


def wait_for(condition, timeout: float = 60, message: str = "condition", tick=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tick:
            tick()
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")


def node_name(worker) -> str:
    """The Celery node name the worker process was started with (`-n name@%h`)."""
    return host_format(default_nodename(worker.args[worker.args.index("-n") + 1]))


def wait_until_idle(*workers, timeout: float = 60) -> None:
    """Wait until these workers have run every message sent so far: none is left in
    the test's queue, nor scheduled, reserved or running in a worker. Whatever a run
    started by one of those messages would have written, it has written by then.

    A message only moves forward (queue, scheduled, reserved, running, done), so
    looking at each place in that order cannot miss one that is still on its way."""
    nodes = [node_name(worker) for worker in workers]
    inspect = celery_app.control.inspect(destination=nodes, limit=len(nodes), timeout=5)

    def idle() -> bool:
        with celery_app.connection_for_write() as connection:
            channel = connection.default_channel
            if channel.queue_declare(queue=settings.CELERY_TASK_DEFAULT_QUEUE).message_count:
                return False
        for held in (inspect.scheduled, inspect.reserved, inspect.active):
            replies = held() or {}
            if set(replies) != set(nodes) or any(replies.values()):
                return False  # a worker still holds a message, or did not answer
        return True

    wait_for(idle, timeout, "the workers to run every message in the queue")


def statuses(ids) -> dict:
    return dict(ContentTask.objects.filter(pk__in=ids).values_list("pk", "status"))


def stage_running(task, stage: str) -> bool:
    return StageRun.objects.filter(task=task, stage=stage, status="running").exists()


def assert_each_stage_stored_once(task) -> None:
    for stage in PIPELINE_STAGES:
        stored = StageRun.objects.filter(
            task=task, generation=task.generation, stage=stage, status__in=["succeeded", "skipped"]
        )
        assert stored.count() == 1, f"{stage} stored {stored.count()} times"


@pytest.fixture
def user():
    return UserFactory()


def test_urgent_tasks_start_before_waiting_low_ones(worker_factory, user):
    low = [task_create(user=user, topic=f"Low priority note {i}", priority="low", **SMALL)
           for i in range(20)]  # fmt: skip
    urgent = [task_create(user=user, topic=f"Urgent note {i}", priority="urgent", **SMALL)
              for i in range(5)]  # fmt: skip
    worker_factory(concurrency=1)
    ids = [t.pk for t in low + urgent]
    wait_for(lambda: set(statuses(ids).values()) == {"awaiting_approval"}, 120, "all 25 tasks")

    started = dict(ContentTask.objects.filter(pk__in=ids).values_list("pk", "started_at"))
    last_urgent = max(started[t.pk] for t in urgent)
    first_low = min(started[t.pk] for t in low)
    assert last_urgent < first_low
    # Equal priority runs oldest first.
    low_order = sorted(low, key=lambda t: started[t.pk])
    assert [t.pk for t in low_order] == [t.pk for t in low]


def test_a_paused_running_task_does_no_further_stage_and_resumes_where_it_stopped(
    worker_factory, user
):
    with FakeLLMServer(delay=1.0) as llm:
        worker = worker_factory(env=llm.env())
        task = task_create(user=user, topic="Pausing a running pipeline", **SMALL)
        wait_for(lambda: stage_running(task, "draft"), 30, "the draft stage")
        task_pause(user=user, task_id=task.pk)
        # The stage in flight finishes and is kept; nothing after it starts.
        wait_for(
            lambda: StageRun.objects.filter(task=task, stage="draft", status="succeeded").exists(),
            30,
            "the draft in flight to finish",
        )
        wait_until_idle(worker)  # the run has ended: a stage it went on to is recorded
        task.refresh_from_db()
        assert task.status == "paused"
        assert not StageRun.objects.filter(task=task, stage="review").exists()
        kept = dict(
            StageRun.objects.filter(task=task, status="succeeded").values_list("stage", "pk")
        )
        assert set(kept) == {"research", "draft"}

        task_resume(user=user, task_id=task.pk)
        wait_for(lambda: statuses([task.pk])[task.pk] == "awaiting_approval", 60, "completion")
    task.refresh_from_db()
    assert_each_stage_stored_once(task)
    after = dict(StageRun.objects.filter(task=task, status="succeeded").values_list("stage", "pk"))
    assert {stage: after[stage] for stage in kept} == kept  # none was recomputed
    assert StageRun.objects.filter(task=task, stage="research").count() == 1


def test_a_cancelled_running_task_stops_before_its_next_stage(worker_factory, user):
    with FakeLLMServer(delay=1.0) as llm:
        worker = worker_factory(env=llm.env())
        task = task_create(user=user, topic="Cancelling a running pipeline", **SMALL)
        wait_for(lambda: stage_running(task, "research"), 30, "the research stage")
        task_cancel(user=user, task_id=task.pk)
        wait_for(
            lambda: not StageRun.objects.filter(task=task, status="running").exists(),
            30,
            "the stage in flight to finish",
        )
        wait_until_idle(worker)  # the run has ended: a stage it went on to is recorded
    task.refresh_from_db()
    assert task.status == "cancelled"
    assert list(StageRun.objects.filter(task=task).values_list("stage", flat=True)) == ["research"]


def test_a_task_survives_its_worker_being_killed_mid_stage(worker_factory, user, settings):
    settings.PIPELINE_LEASE_SECONDS = 2
    lease = {"PIPELINE_LEASE_SECONDS": "2"}
    with FakeLLMServer(delay=1.0) as llm:
        first = worker_factory(env={**llm.env(), **lease})
        task = task_create(user=user, topic="Surviving a killed worker", **SMALL)
        wait_for(lambda: stage_running(task, "draft"), 30, "the draft stage")
        stop(first, kill=True)  # SIGKILL, main process and children

        worker_factory(env={**llm.env(), **lease})
        # Celery beat runs the dispatcher in production; here the test ticks it.
        wait_for(
            lambda: statuses([task.pk])[task.pk] == "awaiting_approval",
            90,
            "recovery",
            tick=dispatch_waiting_tasks,
        )
    task.refresh_from_db()
    assert_each_stage_stored_once(task)
    abandoned = StageRun.objects.get(task=task, stage="draft", attempt=1)
    assert abandoned.status == "failed" and abandoned.error.startswith("Lost")


def test_rapid_pause_and_resume_never_run_a_stage_twice_at_once(worker_factory, user):
    with FakeLLMServer(delay=1.0) as llm:
        worker = worker_factory(env=llm.env())
        task = task_create(user=user, topic="Pausing and resuming in a hurry", **SMALL)
        wait_for(lambda: stage_running(task, "research"), 30, "the research stage")
        for _ in range(10):
            task_pause(user=user, task_id=task.pk)
            task_resume(user=user, task_id=task.pk)
        wait_for(lambda: statuses([task.pk])[task.pk] == "awaiting_approval", 60, "completion")
        wait_until_idle(worker)  # every surplus resume message has run (and given up)
    task.refresh_from_db()
    assert_each_stage_stored_once(task)
    runs = list(StageRun.objects.filter(task=task).order_by("started_at"))
    assert [r.stage for r in runs] == ["research", "draft", "review", "image", "seo"]
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier.finished_at <= later.started_at  # one stage at a time, never two


def test_a_task_whose_worker_keeps_dying_in_a_stage_fails_after_three_lost_runs(
    worker_factory, user, settings
):
    settings.PIPELINE_LEASE_SECONDS = 2
    env = {"PIPELINE_LEASE_SECONDS": "2", "PIPELINE_MAX_LOST_RUNS": "3"}
    with FakeLLMServer(delay=60.0) as llm:  # the research call never comes back in time
        task = task_create(user=user, topic="A stage that kills its worker", **SMALL)
        for attempt in (1, 2, 3):
            worker = worker_factory(env={**llm.env(), **env})
            wait_for(
                lambda attempt=attempt: StageRun.objects.filter(
                    task=task, stage="research", attempt=attempt, status="running"
                ).exists(),
                60,
                f"research attempt {attempt}",
                tick=dispatch_waiting_tasks,
            )
            stop(worker, kill=True)
        worker_factory(env={**llm.env(), **env})
        wait_for(
            lambda: statuses([task.pk])[task.pk] == "failed",
            60,
            "the task to fail",
            tick=dispatch_waiting_tasks,
        )
    task.refresh_from_db()
    assert "Stage research was lost 3 times" in task.error
    attempts = StageRun.objects.filter(task=task, stage="research")
    assert attempts.count() == 3 and {a.status for a in attempts} == {"failed"}
    assert dispatch_waiting_tasks() == 0


def test_two_workers_racing_for_one_task_run_it_once(worker_factory, user):
    with FakeLLMServer(delay=0.3) as llm:
        first = worker_factory(env=llm.env(), concurrency=1)
        second = worker_factory(env=llm.env(), concurrency=1)
        task = task_create(user=user, topic="One task, two workers", **SMALL)
        for _ in range(3):
            task_dispatch(task_id=task.pk, priority=task.celery_priority)  # duplicate deliveries
        wait_for(lambda: statuses([task.pk])[task.pk] == "awaiting_approval", 60, "completion")
        wait_until_idle(first, second)  # every losing delivery has run (and given up)
    task.refresh_from_db()
    assert_each_stage_stored_once(task)
    assert StageRun.objects.filter(task=task).count() == len(PIPELINE_STAGES)
    claims = [h for h in task.history.all() if h.history_change_reason == "pipeline started"]
    assert len(claims) == 1


def test_tasks_created_while_the_broker_is_down_run_once_it_is_back(
    worker_factory, user, settings, integrator_client, integrator
):
    real_broker = celery_app.conf.broker_url

    use_broker("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        started = time.monotonic()
        responses = [
            integrator_client.post("/api/tasks", {"topic": f"Outage task {i}", **SMALL},
                                   format="json")
            for i in range(3)
        ]  # fmt: skip
        elapsed = time.monotonic() - started
    finally:
        use_broker(real_broker)
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert elapsed < 30
    ids = [r.json()["id"] for r in responses]
    assert set(statuses(ids).values()) == {"pending"}

    worker_factory()
    settings.PIPELINE_DISPATCH_GRACE = 0
    ContentTask.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    wait_for(
        lambda: set(statuses(ids).values()) == {"awaiting_approval"},
        60,
        "the dispatcher to send the waiting tasks",
        tick=dispatch_waiting_tasks,
    )
    for task in ContentTask.objects.filter(pk__in=ids):
        assert_each_stage_stored_once(task)
