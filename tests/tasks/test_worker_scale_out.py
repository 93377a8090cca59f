"""Scaling out: Celery workers with node names of their own (as on several hosts) share
one broker and one database; the work is spread over them and each task runs once."""

import uuid
from collections import Counter

import pytest
from django.db import transaction

from contentpipeline.celery import app as celery_app
from tasks.models import PIPELINE_STAGES, StageRun
from tasks.queue import RUN_PIPELINE_TASK
from tasks.services import task_create

from ..factories import UserFactory
from .test_worker_lifecycle import (
    SMALL,
    assert_each_stage_stored_once,
    node_name,
    statuses,
    wait_for,
    wait_until_idle,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_named_workers_share_thirty_tasks_and_run_each_once(worker_factory):
    user = UserFactory()
    suffix = uuid.uuid4().hex[:6]
    # A few threads each, as a small host has: one worker cannot take the whole batch
    # before the other gets its turn.
    first = worker_factory(node=f"w1-{suffix}", concurrency=4)
    second = worker_factory(node=f"w2-{suffix}", concurrency=4)
    nodes = {node_name(first), node_name(second)}

    with transaction.atomic():  # sent together when it commits, offline providers
        tasks = [
            task_create(user=user, topic=f"Composting in a small garden, part {i}", **SMALL)
            for i in range(30)
        ]
    ids = [task.pk for task in tasks]
    wait_for(lambda: set(statuses(ids).values()) == {"awaiting_approval"}, 180, "all 30 tasks")
    wait_until_idle(first, second)  # whatever either worker still had has run

    runs = StageRun.objects.filter(task__in=ids)
    # No attempt failed or was repeated: one run per stage per task.
    assert runs.count() == len(ids) * len(PIPELINE_STAGES)
    ran_on = {}
    for task in tasks:
        assert_each_stage_stored_once(task)
        workers = set(runs.filter(task=task).values_list("worker", flat=True))
        assert len(workers) == 1, f"{task.pk} ran on {workers}"
        ran_on[task.pk] = workers.pop()
        claims = [h for h in task.history.all() if h.history_change_reason == "pipeline started"]
        assert len(claims) == 1
    per_worker = Counter(ran_on.values())
    assert set(per_worker) == nodes, per_worker
    assert min(per_worker.values()) > 0

    # Each task's message was executed once, by the worker that recorded its stages.
    stats = celery_app.control.inspect(destination=sorted(nodes), timeout=5).stats() or {}
    executed = {node: stats[node]["total"].get(RUN_PIPELINE_TASK, 0) for node in nodes}
    assert executed == dict(per_worker)
