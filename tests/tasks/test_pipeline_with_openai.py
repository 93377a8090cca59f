"""The pipeline with the `openai` providers, against a fake OpenAI-compatible server on
loopback (never the internet)."""

from datetime import datetime, timedelta

import pytest

from tasks.models import StageRun
from tasks.runner import StageFailed, run_pipeline
from tasks.selectors import task_result
from tasks.services import task_fail

from ..fakes import CHAT_PATH, REPLIES, FakeLLMServer, Reply, chat_completion
from .factories import ContentTaskFactory
from .pipeline.providers.source_pages import PageServer

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


WRONG_YEAR_DRAFT = (
    "# Acme's Rain Barrels\n\nA short history of a barrel maker.\n\n## History\n\n"
    "Acme was founded in 1989 [1]. Its barrels hold 200 litres [1]."
)


@pytest.fixture
def acme_page(settings):
    settings.SOURCES_ALLOW_PRIVATE = True  # the page is served on loopback
    with PageServer() as server:
        server.pages["/acme"] = (
            b"<html><head><title>About Acme</title></head><body><article><h1>About Acme</h1>"
            b"<p>Acme was founded in 1998 in Leeds by two gardeners. Its barrels hold 200 "
            b"litres and are made from recycled plastic.</p></article></body></html>"
        )
        yield server.url("/acme")


def script_pipeline(fake: FakeLLMServer, draft: str, check: Reply) -> None:
    """The pipeline's calls in order: research, draft, review, check, then the SEO."""
    fake.script(
        CHAT_PATH,
        Reply(chat_completion(REPLIES["Research the brief"])),
        Reply(chat_completion(draft)),
        Reply(chat_completion(REPLIES["Review this draft"])),
        check,
    )


def test_a_planted_wrong_year_is_an_unsupported_claim_beside_its_source_excerpt(
    fake_llm, acme_page, editor_client
):
    script_pipeline(fake_llm, WRONG_YEAR_DRAFT, Reply(chat_completion('{"unsupported": []}')))
    task = ContentTaskFactory(topic="Acme's rain barrels", sources=[acme_page])

    assert run_pipeline(task.pk) == "done"

    result = editor_client.get(f"/api/tasks/{task.pk}").json()["result"]
    [source] = result["sources"]
    assert (source["n"], source["url"], source["title"]) == (1, acme_page, "About Acme")
    assert datetime.fromisoformat(source["fetched_at"]).utcoffset() == timedelta(0)
    assert "text" not in source
    wrong, right = result["claims"]
    assert wrong == {
        "sentence": "Acme was founded in 1989.",
        "source": 1,
        "sources": [1],
        "verdict": "unsupported",
        "excerpt": "Acme was founded in 1998 in Leeds by two gardeners.",
        "reason": "1989: not in source [1]",
    }
    assert right["verdict"] == "supported"
    check = [r for r in fake_llm.requests if r.path == CHAT_PATH][3]
    assert check.json["messages"][-1]["content"].startswith("Check each claim")
    assert "Its barrels hold 200 litres." in check.json["messages"][-1]["content"]


def test_a_failing_check_call_leaves_the_deterministic_verdicts_and_the_task_finishes(
    fake_llm, acme_page, settings
):
    settings.LLM_MAX_RETRIES = 0  # the client's own retry would get the fake's good answer
    script_pipeline(fake_llm, WRONG_YEAR_DRAFT, Reply({"error": {"message": "down"}}, status=500))
    task = ContentTaskFactory(topic="Acme's rain barrels", sources=[acme_page])

    assert run_pipeline(task.pk) == "done"

    claims = task_result(task)["claims"]
    assert [claim["verdict"] for claim in claims] == ["unsupported", "supported"]
    review = StageRun.objects.get(task=task, stage="review", status="succeeded")
    assert review.output["claims_judged_by_model"] is False


def test_a_task_without_sources_has_no_sources_and_no_claims(fake_llm):
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    result = task_result(task)
    assert (result["sources"], result["claims"]) == ([], [])
