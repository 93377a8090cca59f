"""The pipeline's model calls against the fake OpenAI-compatible server on loopback:
what the prompts carry, fallbacks, the response cache, the quality loop, the cost
ceiling, malformed answers and the usage recorded per stage."""

import json
import re
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from publishing.services import post_publish
from tasks.models import StageRun
from tasks.pipeline.stages.review import DIMENSIONS
from tasks.pipeline.stages.seo import clean_slug
from tasks.runner import StageFailed, run_pipeline
from tasks.selectors import task_result
from tasks.tasks import run_pipeline_task

from ..fakes import CHAT_PATH, DRAFT, IMAGES_PATH, FakeLLMServer, Reply, chat_completion
from ..publishing.factories import PostFactory
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db

LOW_REVIEW = json.dumps(
    {
        "scores": dict.fromkeys(DIMENSIONS, 40),
        "quality_score": 40,
        "qa_feedback": "Too thin",
        "issues": ["Too short"],
    }
)
REVISED = "# Rain Barrels, Revised\n\nA longer introduction.\n\n## Why\n\nBecause of rain."


@pytest.fixture
def fake_llm(settings):
    with FakeLLMServer() as server:
        server.configure(settings)
        settings.LLM_MODELS = {"fast": "gpt-4o-mini", "balanced": "gpt-4o-mini",
                               "quality": "gpt-4o"}  # fmt: skip
        settings.LLM_MAX_RETRIES = 0
        yield server


def chat_prompts(server: FakeLLMServer, start: str) -> list[str]:
    return [
        request.json["messages"][-1]["content"]
        for request in server.requests
        if request.path == CHAT_PATH and request.json["messages"][-1]["content"].startswith(start)
    ]


def runs(task) -> dict[str, StageRun]:
    return {run.stage: run for run in StageRun.objects.filter(task=task, status="succeeded")}


def failed_run(task) -> StageRun:
    return StageRun.objects.get(task=task, status="failed")


def test_the_prompts_carry_the_tasks_inputs_and_the_editors_feedback(fake_llm):
    task = ContentTaskFactory(
        topic="Rain barrels for allotments",
        keywords=["downpipe diverter", "overflow"],
        target_audience="allotment holders",
        tone="casual",
        feedback="Say more about mosquitoes",
        generation=2,
    )
    assert run_pipeline(task.pk) == "done"
    (draft_prompt,) = chat_prompts(fake_llm, "Write the piece")
    for text in ("Rain barrels for allotments", "downpipe diverter", "overflow",
                 "allotment holders", "casual", "Say more about mosquitoes"):  # fmt: skip
        assert text in draft_prompt


def test_usage_and_cost_are_recorded_per_stage_with_the_provider(fake_llm):
    task = ContentTaskFactory(quality_preference="fast")
    run_pipeline(task.pk)
    stage_runs = runs(task)
    draft = stage_runs["draft"]
    # gpt-4o-mini: $0.15 and $0.60 per million tokens in and out; the fake uses 100 + 50.
    assert (draft.provider, draft.model, draft.tokens_in, draft.tokens_out) == (
        "openai",
        "gpt-4o-mini",
        100,
        50,
    )
    assert draft.cost == Decimal("0.000045") and (draft.calls, draft.cache_hits) == (1, 0)
    assert stage_runs["image"].provider == "openai" and stage_runs["image"].cost > 0


def test_a_stage_model_override_wins_over_the_quality_preference(fake_llm, settings):
    settings.LLM_STAGE_MODELS = {"draft": "gpt-4.1"}
    task = ContentTaskFactory(quality_preference="fast")
    run_pipeline(task.pk)
    models = {
        request.json["messages"][-1]["content"][:15]: request.json["model"]
        for request in fake_llm.requests
        if request.path == CHAT_PATH
    }
    assert models["Write the piece"] == "gpt-4.1"
    assert models["Research the br"] == "gpt-4o-mini"


def test_a_server_that_never_answers_times_out_and_the_next_provider_writes_the_stage(
    fake_llm, settings
):
    settings.LLM_CHAIN = ("openai", "offline")
    settings.LLM_TIMEOUT = 0.5
    fake_llm.reply(CHAT_PATH, chat_completion("late"), delay=5)
    task = ContentTaskFactory()
    started = time.monotonic()
    assert run_pipeline(task.pk) == "done"
    assert time.monotonic() - started < 8  # four stages, each one timeout, not five seconds
    stage_runs = runs(task)
    assert stage_runs["research"].provider == "offline"
    assert stage_runs["draft"].provider == "offline"
    assert stage_runs["image"].provider == "openai"  # the image server still answers
    assert task_result(task)["body_markdown"]


def test_without_a_fallback_the_providers_failure_fails_the_stage_naming_it(fake_llm):
    fake_llm.fail = True
    task = ContentTaskFactory()
    with pytest.raises(StageFailed, match="^Stage research failed: the model provider failed"):
        run_pipeline(task.pk)
    assert "openai: " in failed_run(task).error and "HTTP 500" in failed_run(task).error


def test_a_failed_cover_falls_back_to_the_offline_image(fake_llm, settings):
    settings.IMAGE_CHAIN = ("openai", "offline")
    fake_llm.reply(IMAGES_PATH, {"error": {"message": "quota"}}, status=429)
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    assert runs(task)["image"].provider == "offline"
    assert task_result(task)["image_url"]


def test_the_cache_answers_the_same_request_a_second_time_without_a_call(fake_llm):
    first = ContentTaskFactory(topic="Rain barrels", keywords=["overflow"])
    run_pipeline(first.pk)
    calls = len(fake_llm.requests)
    second = ContentTaskFactory(topic="Rain barrels", keywords=["overflow"])
    run_pipeline(second.pk)
    chat_calls = [r for r in fake_llm.requests[calls:] if r.path == CHAT_PATH]
    assert chat_calls == []
    stage_runs = runs(second)
    assert all(stage_runs[stage].cache_hits == 1 for stage in ("research", "draft", "seo"))
    assert stage_runs["draft"].cost == 0 and stage_runs["draft"].model == "gpt-4o-mini"
    assert task_result(second)["body_markdown"] == task_result(first)["body_markdown"]


def test_a_task_that_declines_the_cache_pays_for_its_own_calls(fake_llm):
    run_pipeline(ContentTaskFactory(topic="Rain barrels").pk)
    calls = len(fake_llm.requests)
    task = ContentTaskFactory(topic="Rain barrels", use_cache=False)
    run_pipeline(task.pk)
    assert len([r for r in fake_llm.requests[calls:] if r.path == CHAT_PATH]) == 4
    assert runs(task)["draft"].cache_hits == 0


def test_a_low_score_is_refined_and_reviewed_again_until_the_limit(fake_llm, settings):
    settings.QUALITY_THRESHOLD, settings.QUALITY_MAX_REFINEMENTS = 75, 2
    fake_llm.reply(CHAT_PATH + "-unused", {})  # no standing answer: the defaults apply
    fake_llm.script(CHAT_PATH)
    low = Reply(chat_completion(LOW_REVIEW, usage={"prompt_tokens": 10, "completion_tokens": 5}))
    task = ContentTaskFactory()
    # research, draft, then review / refine / review / refine / review: all low.
    fake_llm.script(CHAT_PATH, Reply(chat_completion(json.dumps(
        {"angle": "a", "outline": ["Why"], "key_points": [], "audience_notes": ""}))),
        Reply(chat_completion(DRAFT)), low, Reply(chat_completion(REVISED)), low,
        Reply(chat_completion(REVISED)), low)  # fmt: skip
    run_pipeline(task.pk)
    review = runs(task)["review"]
    assert review.calls == 5  # three reviews, two rewrites
    rounds = review.output["rounds"]
    assert [r["quality_score"] for r in rounds] == [40, 40, 40]
    assert rounds[0]["scores"]["clarity"] == 40
    assert len(chat_prompts(fake_llm, "Revise this draft")) == 2
    assert "Too short" in chat_prompts(fake_llm, "Revise this draft")[0]
    assert task_result(task)["title"] == "Rain Barrels, Revised"


def test_a_good_score_ends_the_loop_after_one_rewrite(fake_llm, settings):
    settings.QUALITY_THRESHOLD, settings.QUALITY_MAX_REFINEMENTS = 75, 3
    good = json.dumps({"scores": dict.fromkeys(DIMENSIONS, 90), "quality_score": 90,
                       "qa_feedback": "Good", "issues": []})  # fmt: skip
    task = ContentTaskFactory()
    fake_llm.script(CHAT_PATH, Reply(chat_completion(json.dumps({"outline": ["Why"]}))),
                    Reply(chat_completion(DRAFT)), Reply(chat_completion(LOW_REVIEW)),
                    Reply(chat_completion(REVISED)), Reply(chat_completion(good)))  # fmt: skip
    run_pipeline(task.pk)
    rounds = runs(task)["review"].output["rounds"]
    assert [r["quality_score"] for r in rounds] == [40, 90]
    result = task_result(task)
    assert result["quality_score"] == 90 and result["scores"]["engagement"] == 90
    assert [(r["round"], r["quality_score"]) for r in result["review_rounds"]] == [(1, 40), (2, 90)]


def test_a_malformed_answer_is_asked_for_again_once(fake_llm):
    task = ContentTaskFactory()
    fake_llm.script(CHAT_PATH, Reply(chat_completion("Sure! Here is some research.")))
    assert run_pipeline(task.pk) == "done"
    assert len(chat_prompts(fake_llm, "Research the brief")) == 2
    assert runs(task)["research"].calls == 2


def test_an_answer_malformed_twice_fails_the_stage_with_a_clear_error(fake_llm):
    task = ContentTaskFactory()
    fake_llm.script(CHAT_PATH, *[Reply(chat_completion("no json here"))] * 2)
    with pytest.raises(StageFailed, match="the model provider failed"):
        run_pipeline(task.pk)
    assert re.search("malformed 2 times.*not a JSON object", failed_run(task).error)


def test_the_cost_ceiling_fails_the_task_before_the_call_that_would_cross_it(fake_llm):
    # gpt-4o: $2.50 / $10 per million tokens. Research is estimated at ~0.6 cents and
    # costs 0.075; the draft is estimated at ~1.7 cents: past the ceiling of one cent.
    task = ContentTaskFactory(
        quality_preference="quality", target_length=800, max_cost=Decimal("0.01")
    )
    result = run_pipeline_task.apply(args=[str(task.pk)]).get()
    assert result == "failed"
    task.refresh_from_db()
    assert task.status == "failed"
    assert "cost ceiling of $0.0100" in task.error and "draft" in task.error
    assert chat_prompts(fake_llm, "Write the piece") == []  # never paid for
    assert len(chat_prompts(fake_llm, "Research the brief")) == 1  # and not retried


def test_the_settings_ceiling_applies_to_a_task_without_its_own(fake_llm, settings):
    settings.TASK_MAX_COST = Decimal("0.0001")
    task = ContentTaskFactory(quality_preference="quality")
    with pytest.raises(StageFailed, match="cost ceiling") as failed:
        run_pipeline(task.pk)
    assert failed.value.final


def test_the_offline_providers_never_meet_a_ceiling_of_zero(settings):
    task = ContentTaskFactory(max_cost=Decimal("0"))
    assert run_pipeline(task.pk) == "done"


@pytest.fixture
def source_page():
    page = (
        b"<html><head><title>Barrel maths</title></head><body><nav>Home | Shop</nav>"
        b"<article><h1>Barrel maths</h1><p>A 200 litre barrel fills from a 10 square metre "
        b"roof in 20 millimetres of rain, which surprises most allotment holders who "
        b"assume it takes a whole season.</p><p>Empty it before frost to keep the tap "
        b"from cracking.</p></article><footer>Copyright</footer></body></html>"
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/barrels"
    server.shutdown()
    server.server_close()


def test_the_draft_prompt_carries_the_sources_text_and_posts_to_link(
    fake_llm, settings, source_page
):
    settings.SOURCES_ALLOW_PRIVATE = True  # the page is served on loopback
    PostFactory(title="Overflow pipes for rain barrels", tags=["rain barrels"])
    task = ContentTaskFactory(
        topic="Rain barrels", keywords=["rain barrels"], sources=[source_page]
    )
    run_pipeline(task.pk)
    (prompt,) = chat_prompts(fake_llm, "Write the piece")
    assert "fills from a 10 square metre roof" in prompt
    assert "Home | Shop" not in prompt  # the page's navigation is not its text
    assert "Overflow pipes for rain barrels" in prompt and "/posts/" in prompt
    research = runs(task)["research"].output
    assert research["sources"][0]["ok"] and research["sources"][0]["url"] == source_page


def test_the_draft_prompt_asks_for_citations_by_the_sources_numbers(
    fake_llm, settings, source_page
):
    settings.SOURCES_ALLOW_PRIVATE = True  # the page is served on loopback
    gone = source_page.replace("/barrels", "/gone").replace("127.0.0.1", "127.0.0.2")
    task = ContentTaskFactory(topic="Rain barrels", sources=[gone, source_page])
    run_pipeline(task.pk)
    (prompt,) = chat_prompts(fake_llm, "Write the piece")
    assert "Cite your sources." in prompt
    assert "ends with that source's number in square brackets" in prompt
    assert "reference material below ([2]) and no others" in prompt
    assert f"[BEGIN SOURCE 2: {source_page} | Barrel maths]" in prompt


def test_without_a_readable_source_the_draft_prompt_asks_to_cite_nothing(fake_llm):
    task = ContentTaskFactory(topic="Rain barrels")
    run_pipeline(task.pk)
    (prompt,) = chat_prompts(fake_llm, "Write the piece")
    assert "cite nothing (no [1]-style marks)" in prompt
    assert "present nothing as coming from a study" in prompt
    assert "Cite your sources" not in prompt


def test_the_seo_stage_gives_the_post_its_slug(fake_llm):
    seo = {"seo_title": "Rain barrels", "meta_description": "About rain.", "tags": ["rain"],
           "excerpt": "Rain.", "slug": "Rain Barrels: a 101 Guide!! <script>"}  # fmt: skip
    task = ContentTaskFactory()
    fake_llm.script(CHAT_PATH, *[Reply(chat_completion(json.dumps(
        {"angle": "a", "outline": ["Why"]})))], Reply(chat_completion(DRAFT)),
        Reply(chat_completion(json.dumps({"quality_score": 90}))),
        Reply(chat_completion(json.dumps(seo))))  # fmt: skip
    run_pipeline(task.pk)
    assert task_result(task)["slug"] == "rain-barrels-a-101-guide-script"
    post = post_publish(task=task)
    assert post.slug == "rain-barrels-a-101-guide-script"


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("", "Rain barrels, explained"), "rain-barrels-explained"),
        (("???", None, "Ünïcode tïtle"), "unicode-title"),
        (("word " * 40,), "-".join(["word"] * 12)),
        (("",), ""),
    ],
)
def test_a_slug_is_ascii_words_and_hyphens_cut_at_a_word(candidates, expected):
    assert clean_slug(*candidates) == expected
