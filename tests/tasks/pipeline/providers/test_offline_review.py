"""The offline review stage measures the draft it is given against the brief and says what,
measurably, is wrong with it. (That the offline writer's own drafts pass it: the writer's
contract, test_offline_writer.py.)"""

import functools
import json
import re
from typing import Any

import pytest

from tasks.pipeline.providers import Brief, OfflineLLMProvider
from tasks.pipeline.providers.offline.review import WEIGHTS
from tasks.pipeline.text import strip_markdown, word_count

KEYWORDS = ("compost bins", "food scraps", "worm farms")
DIMENSIONS = {
    "clarity",
    "accuracy",
    "completeness",
    "relevance",
    "seo",
    "readability",
    "engagement",
}


def make_brief(**overrides: Any) -> Brief:
    fields: dict[str, Any] = {
        "task_type": "blog_post",
        "topic": "How to compost in an apartment",
        "keywords": KEYWORDS,
        "primary_keyword": "apartment composting",
        "target_audience": "city gardeners",
        "style": "educational",
        "target_length": 800,
    }
    fields.update(overrides)
    return Brief(**fields)


def generate(brief: Brief, stage: str, context: dict[str, Any]) -> str:
    return (
        OfflineLLMProvider()
        .generate(stage=stage, brief=brief, prompt="p", context=context, model="m", timeout=5)
        .text
    )


def draft_of(brief: Brief) -> dict[str, str]:
    """The draft as the draft stage stores it: the `# ` title apart from the body."""
    return dict(_draft(brief))  # a copy: the tests edit drafts


@functools.cache
def _draft(brief: Brief) -> tuple[tuple[str, str], ...]:
    research = json.loads(generate(brief, "research", {}))
    title, _, body = generate(brief, "draft", {"research": research}).partition("\n")
    return (("title", title.removeprefix("# ")), ("markdown", body.strip()))


def review_of(brief: Brief, draft: dict[str, str]) -> dict[str, Any]:
    return json.loads(generate(brief, "review", {"draft": draft}))


def bad_draft(brief: Brief) -> dict[str, str]:
    """Too short, keywords gone, one giant paragraph and no sections: what a hasty writer sends."""
    body = draft_of(brief)["markdown"]
    prose = [line for line in body.splitlines() if line and not re.match(r"#|- |\d+\. ", line)]
    text = " ".join(strip_markdown("\n".join(prose)).split())
    for keyword in (*KEYWORDS, brief.primary_keyword):
        text = re.sub(re.escape(keyword), "the project", text, flags=re.IGNORECASE)
    sentences = re.split(r"(?<=[.!?])\s+", text)[:16]
    return {"title": "Composting", "markdown": " ".join(sentences)}


def test_the_quality_score_is_the_documented_weighting_of_the_seven_scores() -> None:
    brief = make_brief()
    for draft in (draft_of(brief), bad_draft(brief)):
        review = review_of(brief, draft)
        assert set(review) == {"quality_score", "scores", "qa_feedback", "issues"}
        assert set(review["scores"]) == DIMENSIONS
        assert all(0 <= score <= 100 for score in review["scores"].values())
        weighted = sum(WEIGHTS[name] * score for name, score in review["scores"].items())
        assert review["quality_score"] == round(weighted)
    assert sum(WEIGHTS.values()) == pytest.approx(1)


def test_a_short_keywordless_wall_of_text_scores_far_below_the_threshold_and_says_why() -> None:
    brief = make_brief()
    draft = bad_draft(brief)
    words = word_count(draft["markdown"])
    review = review_of(brief, draft)

    assert review["quality_score"] < 50
    issues = review["issues"]
    assert f"Too short: {words} words against a target of 800" in issues
    for keyword in KEYWORDS:
        assert f"Keyword '{keyword}' is missing" in issues
    assert f"1 paragraph longer than 150 words (longest {words})" in issues
    assert "Only 0 body sections ('## ' headings); at least 3 are needed" in issues
    assert "No conclusion section at the end" in issues
    assert review["scores"]["completeness"] < 40
    assert review["scores"]["relevance"] < 50
    assert review["qa_feedback"].startswith(f"Scored {review['quality_score']}/100")


def test_overlong_sentences_are_counted_with_the_longest_measured() -> None:
    brief = make_brief()
    draft = draft_of(brief)
    paragraphs = draft["markdown"].split("\n\n")
    joined = 0
    for index, paragraph in enumerate(paragraphs):
        sentences = re.split(r"(?<=\.)\s+", paragraph)
        if paragraph.startswith(("#", "-")) or len(sentences) < 2 or joined == 12:
            continue
        # Two sentences joined by a semicolon make one sentence of their combined length.
        merged = sentences[0].rstrip(".") + "; " + sentences[1][0].lower() + sentences[1][1:]
        paragraphs[index] = " ".join([merged, *sentences[2:]])
        joined += 1
    long_draft = {**draft, "markdown": "\n\n".join(paragraphs)}
    review = review_of(brief, long_draft)
    lengths = [
        len(s.split())
        for p in paragraphs
        if not p.startswith(("#", "-"))
        for s in re.split(r"(?<=[.!?])\s+", p)
    ]
    long_ones = sorted((n for n in lengths if n > 30), reverse=True)

    assert len(long_ones) >= 6
    expected = f"{len(long_ones)} sentences longer than 30 words (longest {long_ones[0]})"
    assert expected in review["issues"]
    assert review["scores"]["clarity"] < review_of(brief, draft)["scores"]["clarity"]


def test_a_draft_far_over_the_target_is_too_long() -> None:
    brief = make_brief(target_length=400)
    draft = draft_of(make_brief(target_length=1200))
    review = review_of(brief, draft)
    assert (
        f"Too long: {word_count(draft['markdown'])} words against a target of 400"
        in (review["issues"])
    )


def test_a_primary_keyword_only_buried_in_the_body_is_flagged_for_search() -> None:
    brief = make_brief()
    draft = draft_of(brief)
    intro, rest = draft["markdown"].split("\n## ", 1)
    intro = re.sub("apartment composting", "the work", intro, flags=re.IGNORECASE)
    buried = {"title": "Composting at Home", "markdown": f"{intro}\n## {rest}"}
    review = review_of(brief, buried)
    message = "Primary keyword 'apartment composting' is not in the title, a heading or the "
    assert message + "introduction" in review["issues"]
    assert review["scores"]["seo"] < review_of(brief, draft)["scores"]["seo"]


def test_a_list_that_delivers_fewer_items_than_its_topic_promises_is_flagged() -> None:
    brief = make_brief(topic="7 ways to cut cloud costs", keywords=(), primary_keyword="")
    draft = draft_of(brief)
    sections = draft["markdown"].split("\n## ")
    trimmed = "\n## ".join(s for s in sections if not re.match(r"[67]\. ", s))
    review = review_of(brief, {**draft, "markdown": trimmed})
    assert "The topic promises 7 items but the article numbers 5" in review["issues"]


def test_an_empty_draft_scores_zero_on_every_count() -> None:
    review = review_of(make_brief(), {"title": "", "markdown": " "})
    assert review["quality_score"] == 0
    assert set(review["scores"].values()) == {0}
    assert review["issues"] == ["The draft is empty"]
