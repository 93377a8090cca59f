"""A task created by an HTTP request runs under that request's id: the id travels in
the Celery message's headers (and its retry's), and every stage-run log line a real
worker process writes for the task carries it, in the JSON log format."""

import json
import time

import pytest

from tasks.models import ContentTask

from ..conftest import client_for
from ..factories import UserFactory
from ..fakes import CHAT_PATH, FakeLLMServer, Reply

pytestmark = pytest.mark.django_db(transaction=True)

BRIEF = {"topic": "Mulching paths between raised beds", "target_length": 100,
         "generate_image": False, "keywords": ["mulch"]}  # fmt: skip


def wait_until_awaiting_approval(task_id: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ContentTask.objects.get(pk=task_id).status == "awaiting_approval":
            return
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish")


def stage_lines(worker, task_id: str) -> list[dict]:
    """The worker's stage-run log lines for the task (its log is stdout and stderr:
    Celery's banner, then one JSON object a line)."""
    lines = []
    for raw in worker.log_path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            record = json.loads(raw)
            if record.get("event") == "stage_run" and record.get("task_id") == task_id:
                lines.append(record)
    return lines


def test_the_stage_run_lines_of_a_task_carry_the_id_of_the_request_that_created_it(
    worker_factory,
):
    client = client_for(UserFactory())
    with FakeLLMServer() as llm:
        # The task's first model call fails: its research is tried again by Celery.
        llm.script(CHAT_PATH, Reply({"error": {"message": "not now"}}, status=400))
        worker = worker_factory(env={**llm.env(), "LOG_FORMAT": "json", "LLM_MAX_RETRIES": "0"})
        named = client.post("/api/tasks", BRIEF, format="json",
                            headers={"X-Request-ID": "integrator-7f3a-1"})  # fmt: skip
        assert named.status_code == 201 and named["X-Request-ID"] == "integrator-7f3a-1"
        wait_until_awaiting_approval(named.json()["id"])
        unnamed = client.post("/api/tasks", {**BRIEF, "topic": "Edging a lawn"}, format="json")
        wait_until_awaiting_approval(unnamed.json()["id"])

    lines = stage_lines(worker, named.json()["id"])
    assert [(line["stage"], line["outcome"]) for line in lines] == [
        ("research", "failed"),  # the first message
        ("research", "succeeded"),  # its retry, published by the worker
        ("draft", "succeeded"),
        ("review", "succeeded"),
        ("image", "skipped"),
        ("seo", "succeeded"),
    ]
    assert {line["request_id"] for line in lines} == {"integrator-7f3a-1"}
    draft = lines[2]
    assert draft["model"] and draft["provider"] == "openai"
    assert draft["tokens_in"] > 0 and draft["tokens_out"] > 0
    assert isinstance(draft["cost"], float) and draft["duration_ms"] >= 0
    assert draft["level"] == "INFO" and lines[0]["level"] == "WARNING"
    assert "not now" in lines[0]["error"]

    # Without an id of its own, the request's generated one goes with the task.
    other = stage_lines(worker, unnamed.json()["id"])
    assert len(other) == 5
    assert {line["request_id"] for line in other} == {unnamed["X-Request-ID"]}
