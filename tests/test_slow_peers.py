"""Peers that answer a byte at a time, against real worker processes: research sources
that trickle their pages and a model server that trickles its answers. Every call ends
at its deadline with its socket closed by the worker, and the tasks settle; nothing is
left holding the peer's connections once they have. (Webhook receivers that do the
same are in tests/tasks/test_webhook_worker.py.)"""

import time

import pytest

from tasks.models import ContentTask, StageRun
from tasks.services import task_create

from .factories import UserFactory
from .tarpit import Tarpit

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = {"target_length": 100, "generate_image": False, "keywords": ["soil"]}
# Once the last task has settled, the peer must see every connection closed within this.
CLOSED_WITHIN = 2.0


def wait_for(condition, timeout: float = 90, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")


def settled(task_ids) -> bool:
    statuses = set(ContentTask.objects.filter(pk__in=task_ids).values_list("status", flat=True))
    return statuses == {"awaiting_approval"}


def test_sources_that_trickle_are_given_up_at_the_deadline_with_their_sockets_closed(
    worker_factory,
):
    with Tarpit("headers", interval=0.3) as pit:
        worker_factory(env={"SOURCES_ALLOW_PRIVATE": "true", "SOURCE_FETCH_TIMEOUT": "1"})
        owner = UserFactory()
        sources = [[f"{pit.url}/task{t}/page{n}" for n in range(5)] for t in range(4)]
        tasks = [
            task_create(user=owner, topic=f"Mulching with straw, part {t}", sources=urls, **SMALL)
            for t, urls in enumerate(sources)
        ]

        wait_for(lambda: settled([task.pk for task in tasks]), message="the tasks to settle")
        wait_for(lambda: pit.accepted == 20, timeout=10, message="every source to be asked for")
        assert pit.wait_closed(CLOSED_WITHIN), f"{pit.open} connection(s) left open"
    for task in tasks:
        research = StageRun.objects.get(task=task, stage="research", status="succeeded")
        read = research.output["sources"]
        assert [source["url"] for source in read] == sources[tasks.index(task)]
        assert all(not source["ok"] and "timed out" in source["error"] for source in read)


def test_a_model_server_that_trickles_is_given_up_at_the_deadline_and_the_fallback_writes(
    worker_factory,
):
    with Tarpit("headers", interval=0.3) as pit:
        worker_factory(
            env={
                "LLM_PROVIDER": "openai",
                "LLM_FALLBACKS": "offline",
                "LLM_BASE_URL": f"{pit.url}/v1",
                "LLM_API_KEY": "test-key",
                "LLM_TIMEOUT": "1",
                "LLM_MAX_RETRIES": "0",
            }
        )
        owner = UserFactory()
        tasks = [
            task_create(user=owner, topic=f"Raised beds from pallets, part {t}", **SMALL)
            for t in range(2)
        ]

        wait_for(lambda: settled([task.pk for task in tasks]), message="the tasks to settle")
        # Each text stage of each task asked the model first.
        wait_for(lambda: pit.accepted >= 2 * 4, timeout=10, message="the model to be asked")
        assert pit.wait_closed(CLOSED_WITHIN), f"{pit.open} connection(s) left open"
    written = StageRun.objects.filter(task__in=tasks, status="succeeded").exclude(stage="image")
    assert set(written.values_list("provider", flat=True)) == {"offline"}
