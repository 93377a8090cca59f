"""The review stage's claims: the deterministic check of each cited sentence against the
task's sources, then a model's judgement of those still supported (the "check" call),
against the fake OpenAI-compatible server on loopback."""

import json
import logging

import pytest

from tasks.pipeline.providers import Brief
from tasks.pipeline.stages import StageJob, review

from ...fakes import CHAT_PATH, FakeLLMServer, Reply, chat_completion

pytestmark = pytest.mark.django_db

BRIEF = Brief(task_type="blog_post", topic="Acme's rain barrels")
SOURCES = [
    {"n": 1, "url": "https://example.com/acme", "title": "Acme", "ok": True, "error": "",
     "text": "Acme was founded in 1998 in Leeds. It makes rain barrels from recycled "
             "plastic. Its barrels hold 200 litres."},
    {"n": 2, "url": "https://example.com/gone", "title": "", "ok": False, "text": "",
     "error": "HTTP 404 Not Found"},
]  # fmt: skip
DRAFT = (
    "Acme makes rain barrels.\n\n## History\n\n"
    "Acme was founded in 1989 [1]. Acme makes rain barrels from recycled plastic [1]. "
    "Its barrels hold 200 litres [1]. Acme sells them online [2]."
)
GOOD_REVIEW = chat_completion(json.dumps({"quality_score": 90, "qa_feedback": "Fine"}))


@pytest.fixture
def fake(settings):
    with FakeLLMServer() as server:
        server.configure(settings)
        settings.LLM_MAX_RETRIES = 0
        settings.LLM_MODELS = {"fast": "m-fast", "balanced": "m-balanced", "quality": "m-q"}
        yield server


def run_review(markdown: str = DRAFT, sources: list | None = SOURCES):
    job = StageJob(brief=BRIEF, quality="balanced", name="review-test")
    context = {
        "research": {"outline": [], "sources": sources or []},
        "draft": {"title": "Acme", "markdown": markdown, "html": "", "word_count": 30},
    }
    return review.run(job, context)


def check_prompts(fake: FakeLLMServer) -> list[str]:
    return [
        request.json["messages"][-1]["content"]
        for request in fake.requests
        if request.path == CHAT_PATH
        and request.json["messages"][-1]["content"].startswith("Check each claim")
    ]


def verdicts(output) -> list[str]:
    return [claim["verdict"] for claim in output.data["claims"]]


def test_a_wrong_year_is_unsupported_with_the_source_excerpt_that_should_support_it(fake):
    fake.script(CHAT_PATH, Reply(GOOD_REVIEW), Reply(chat_completion('{"unsupported": []}')))

    output = run_review()

    wrong_year, made, holds, sells = output.data["claims"]
    assert wrong_year == {
        "sentence": "Acme was founded in 1989.",
        "source": 1,
        "sources": [1],
        "verdict": "unsupported",
        "excerpt": "Acme was founded in 1998 in Leeds.",
        "reason": "1989: not in source [1]",
    }
    assert (made["verdict"], holds["verdict"]) == ("supported", "supported")
    assert sells["verdict"] == "unverifiable"  # its source could not be read
    assert output.data["claims_judged_by_model"] is True
    assert output.calls == 2  # the review, then the check


def test_the_models_judgement_can_flag_a_supported_claim_but_never_clear_a_flagged_one(fake):
    judgement = {
        "unsupported": [
            {"index": 2, "reason": "the page does not say every barrel holds that much"},
            # The claim the check found unsupported was not asked about: naming it
            # changes nothing, and leaving it out does not clear it.
            {"index": 0, "reason": "wrong year"},
        ]
    }
    fake.script(CHAT_PATH, Reply(GOOD_REVIEW), Reply(chat_completion(json.dumps(judgement))))

    output = run_review()

    assert verdicts(output) == ["unsupported", "supported", "unsupported", "unverifiable"]
    claims = output.data["claims"]
    assert claims[0]["reason"] == "1989: not in source [1]"
    assert claims[2]["reason"] == "model: the page does not say every barrel holds that much"
    [prompt] = check_prompts(fake)
    # Only the claims still supported are put to the model, by their index.
    assert "1. Claim: Acme makes rain barrels from recycled plastic." in prompt
    assert "2. Claim: Its barrels hold 200 litres." in prompt
    assert "Source [1] excerpt: It makes rain barrels from recycled plastic." in prompt
    assert "1989" not in prompt and "online" not in prompt


def test_a_model_that_clears_nothing_leaves_the_deterministic_verdicts(fake):
    fake.script(
        CHAT_PATH,
        Reply(GOOD_REVIEW),
        Reply(chat_completion('{"unsupported": [], "supported": [0, 1, 2, 3]}')),
    )

    output = run_review()

    assert verdicts(output) == ["unsupported", "supported", "supported", "unverifiable"]


@pytest.mark.parametrize(
    "failure",
    [
        [Reply({"error": {"message": "overloaded"}}, status=500)],
        [Reply(chat_completion("I think they are fine.")), Reply(chat_completion("[]"))],
    ],
    ids=["server-error", "malformed-twice"],
)
def test_a_failing_check_call_keeps_the_deterministic_verdicts_and_the_stage(fake, failure, caplog):
    fake.script(CHAT_PATH, Reply(GOOD_REVIEW), *failure)

    with caplog.at_level(logging.WARNING, logger="tasks.pipeline.stages.review"):
        output = run_review()

    assert verdicts(output) == ["unsupported", "supported", "supported", "unverifiable"]
    assert output.data["claims_judged_by_model"] is False
    assert output.data["quality_score"] == 90
    assert "The claims check call failed" in caplog.text


def test_no_check_call_is_made_when_no_claim_is_supported(fake):
    fake.script(CHAT_PATH, Reply(GOOD_REVIEW))

    output = run_review("Intro.\n\n## History\n\nAcme was founded in 1989 [1].")

    assert verdicts(output) == ["unsupported"]
    assert output.data["claims_judged_by_model"] is False
    assert output.calls == 1
    assert check_prompts(fake) == []


def test_a_task_without_sources_has_no_claims_and_no_check_call(fake):
    fake.script(CHAT_PATH, Reply(GOOD_REVIEW))

    output = run_review("Intro.\n\n## History\n\nAcme was founded in 1998 [1].", sources=[])

    assert output.data["claims"] == []
    assert output.data["claims_judged_by_model"] is False
    assert output.calls == 1


def test_the_check_call_uses_the_reviews_model(fake, settings):
    settings.LLM_STAGE_MODELS = {"review": "m-review", "draft": "m-draft"}
    fake.script(CHAT_PATH, Reply(GOOD_REVIEW), Reply(chat_completion('{"unsupported": []}')))

    run_review()

    models = [r.json["model"] for r in fake.requests if r.path == CHAT_PATH]
    assert models == ["m-review", "m-review"]


def test_the_offline_provider_does_not_count_as_a_judge(settings):
    settings.LLM_CHAIN = ("offline",)

    output = run_review()

    assert verdicts(output) == ["unsupported", "supported", "supported", "unverifiable"]
    assert output.data["claims_judged_by_model"] is False
    assert output.calls >= 2  # the offline check was asked, and flagged nothing


def test_a_check_model_of_its_own_wins_over_the_reviews(fake, settings):
    settings.LLM_STAGE_MODELS = {"review": "m-review", "check": "m-check"}
    fake.script(CHAT_PATH, Reply(GOOD_REVIEW), Reply(chat_completion('{"unsupported": []}')))

    run_review()

    models = [r.json["model"] for r in fake.requests if r.path == CHAT_PATH]
    assert models == ["m-review", "m-check"]


def test_one_check_call_judges_at_most_the_first_hundred_supported_claims(fake, settings):
    fake.script(CHAT_PATH, Reply(GOOD_REVIEW), Reply(chat_completion('{"unsupported": []}')))
    many = " ".join("Its barrels hold 200 litres [1]." for _ in range(review.MAX_JUDGED + 5))

    output = run_review(f"Intro.\n\n## Barrels\n\n{many}")

    [prompt] = check_prompts(fake)
    assert f"{review.MAX_JUDGED - 1}. Claim:" in prompt
    assert f"{review.MAX_JUDGED}. Claim:" not in prompt
    assert len(output.data["claims"]) == review.MAX_JUDGED + 5
