"""The pipeline with the `openai` providers, against a fake OpenAI-compatible server on
loopback (never the internet)."""

import pytest

from tasks.models import StageRun
from tasks.runner import StageFailed, run_pipeline
from tasks.selectors import task_result
from tasks.services import task_fail

from ..fakes import CHAT_PATH, FakeLLMServer
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_llm(settings):
    with FakeLLMServer() as server:
        server.configure(settings)
        settings.LLM_MODELS = {"fast": "gpt-4o-mini", "balanced": "gpt-4o-mini",
                               "quality": "gpt-4o"}  # fmt: skip
        yield server


def test_the_pipeline_uses_the_configured_model_and_cuts_output_to_limits(fake_llm):
    task = ContentTaskFactory(quality_preference="quality")
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    result = task_result(task)
    assert result["title"] == "Rain Barrels, Explained"
    assert "<script>" not in result["body_html"]
    assert result["quality_score"] == 100
    assert len(result["seo_title"]) <= 60 and len(result["meta_description"]) <= 160
    assert len(result["tags"]) == 10 and all(tag == tag.lower() for tag in result["tags"])
    chat_models = {r.json["model"] for r in fake_llm.requests if r.path == CHAT_PATH}
    assert chat_models == {"gpt-4o"}
    draft_run = StageRun.objects.get(task=task, stage="draft")
    assert (draft_run.model, draft_run.tokens_in, draft_run.tokens_out) == ("gpt-4o", 100, 50)


def test_a_failing_provider_records_the_failed_attempt_and_keeps_the_task_running(fake_llm):
    fake_llm.fail = True
    task = ContentTaskFactory()
    with pytest.raises(StageFailed):
        run_pipeline(task.pk)
    failed = StageRun.objects.get(task=task, stage="research")
    assert failed.status == "failed" and "500" in failed.error
    task.refresh_from_db()
    assert task.status == "in_progress"

    # Celery retries; once the provider recovers, it finishes.
    fake_llm.fail = False
    assert run_pipeline(task.pk) == "done"
    runs = StageRun.objects.filter(task=task, stage="research").order_by("attempt")
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "succeeded")]


def test_a_task_whose_retries_are_exhausted_is_failed_with_the_error(fake_llm):
    fake_llm.fail = True
    task = ContentTaskFactory()
    with pytest.raises(StageFailed) as exc:
        run_pipeline(task.pk)
    task_fail(task_id=task.pk, error=str(exc.value))
    task.refresh_from_db()
    assert task.status == "failed" and "research" in task.error
