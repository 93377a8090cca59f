"""The offline writer must produce real, deterministic, length-accurate articles."""

import io
import json
import re
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from tasks.pipeline.providers import Brief, OfflineImageProvider, OfflineLLMProvider, ProviderError
from tasks.pipeline.rendering import render_markdown
from tasks.pipeline.text import paragraphs, strip_markdown, word_count

KEYWORDS = ("async communication", "documentation", "mentoring", "Slack")
TASK_TYPES = ("blog_post", "social_post", "newsletter")
LENGTHS = (100, 250, 800, 1500, 3000, 5000)
VOICES = (
    ("professional", "educational"),
    ("casual", "listicle"),
    ("academic", "technical"),
    ("inspirational", "narrative"),
    ("professional", "thought_leadership"),
)


def make_brief(**overrides: Any) -> Brief:
    fields: dict[str, Any] = {
        "task_type": "blog_post",
        "topic": "Remote team onboarding",
        "keywords": KEYWORDS,
        "primary_keyword": "remote onboarding",
        "target_audience": "engineering managers",
        "category": "Management",
        "tone": "professional",
        "style": "educational",
        "target_length": 800,
    }
    fields.update(overrides)
    return Brief(**fields)


def generate(brief: Brief, stage: str, context: dict[str, Any] | None = None) -> str:
    completion = OfflineLLMProvider().generate(
        stage=stage, brief=brief, prompt="prompt", context=context or {}, model="m", timeout=5
    )
    return completion.text


def split_title(markdown: str) -> tuple[str, str]:
    """Mirror of the draft stage: the `# ` line is the title, the rest is the body."""
    first, _, rest = markdown.partition("\n")
    return first.removeprefix("# ").strip(), rest.strip()


def write(brief: Brief) -> dict[str, Any]:
    """Run the four LLM stages in pipeline order, feeding each its predecessors' output."""
    research = json.loads(generate(brief, "research"))
    markdown = generate(brief, "draft", {"research": research})
    title, body = split_title(markdown)
    context = {"research": research, "draft": {"title": title, "markdown": body}}
    review = json.loads(generate(brief, "review", context))
    seo = json.loads(generate(brief, "seo", {**context, "review": review}))
    return {
        "research": research,
        "markdown": markdown,
        "title": title,
        "body": body,
        "review": review,
        "seo": seo,
    }


def sentences_of(markdown: str) -> list[str]:
    text = " ".join(strip_markdown(markdown).split())
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 15]


GRID = [
    pytest.param(length, task_type, tone, style, id=f"{length}-{task_type}-{tone}-{style}")
    for length in LENGTHS
    for task_type in TASK_TYPES
    for tone, style in VOICES
]


@pytest.mark.parametrize(("length", "task_type", "tone", "style"), GRID)
def test_draft_hits_the_target_length_and_covers_topic_and_keywords(
    length: int, task_type: str, tone: str, style: str
) -> None:
    brief = make_brief(target_length=length, task_type=task_type, tone=tone, style=style)
    research = json.loads(generate(brief, "research"))
    markdown = generate(brief, "draft", {"research": research})
    _, body = split_title(markdown)

    assert markdown.startswith("# ")
    assert abs(word_count(body) - length) <= 0.15 * length
    lowered = markdown.lower()
    for term in (brief.topic, brief.primary_keyword, *brief.keywords):
        assert term.lower() in lowered, term
    assert max(Counter(sentences_of(markdown)).values()) <= 3


@pytest.mark.parametrize("length", [100, 800, 3000])
def test_draft_with_feedback_still_hits_the_target_length(length: int) -> None:
    brief = make_brief(
        target_length=length,
        feedback="The intro is too long. Add more concrete examples; explain the costs.",
    )
    _, body = split_title(generate(brief, "draft"))
    assert abs(word_count(body) - length) <= 0.15 * length


def test_same_brief_gives_byte_identical_output_for_every_stage() -> None:
    brief = make_brief(tone="casual", style="listicle", target_length=1200)
    first, second = (
        write(brief),
        write(make_brief(tone="casual", style="listicle", target_length=1200)),
    )
    assert first == second
    image = OfflineImageProvider()
    one = image.generate_image(brief=brief, prompt="p", model="m", timeout=5)
    two = image.generate_image(brief=brief, prompt="p", model="m", timeout=5)
    assert one.content == two.content


def test_keyword_lists_and_tuples_make_the_same_brief() -> None:
    as_list = make_brief(keywords=list(KEYWORDS))
    assert as_list == make_brief()
    assert as_list.seed() == make_brief().seed()


def test_different_topics_produce_different_articles() -> None:
    onboarding = write(make_brief())["body"]
    pricing = write(make_brief(topic="SaaS pricing experiments"))["body"]
    assert onboarding != pricing
    shared = set(sentences_of(onboarding)) & set(sentences_of(pricing))
    assert len(shared) < len(sentences_of(onboarding)) / 4


def test_research_is_json_with_an_outline_that_grows_with_length() -> None:
    short = json.loads(generate(make_brief(target_length=250), "research"))
    long = json.loads(generate(make_brief(target_length=3000), "research"))
    for research in (short, long):
        assert set(research) == {"angle", "outline", "key_points", "audience_notes"}
        assert 3 <= len(research["outline"]) <= 8
        assert all(isinstance(point, str) and point for point in research["key_points"])
        assert "engineering managers" in research["audience_notes"]
    assert len(long["outline"]) > len(short["outline"])


def test_draft_follows_an_outline_supplied_by_the_research_stage() -> None:
    research = {"outline": ["Why Budgets Slip", "Tools We Trust", "Hiring Remotely", "Conclusion"]}
    markdown = generate(make_brief(), "draft", {"research": research})
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == ["Why Budgets Slip", "Tools We Trust", "Hiring Remotely", "Conclusion"]


def test_draft_is_structured_markdown_with_readable_paragraphs() -> None:
    markdown = write(make_brief(target_length=1500))["markdown"]
    lines = markdown.splitlines()
    assert lines[0].startswith("# ") and not lines[1].strip()
    assert sum(line.startswith("## ") for line in lines) >= 4
    assert all(len(p.split()) <= 150 for p in paragraphs(markdown))


def test_listicle_numbers_its_sections_and_technical_style_uses_technical_sections() -> None:
    listicle = generate(make_brief(style="listicle"), "draft")
    numbered = [line for line in listicle.splitlines() if re.match(r"## \d+\. ", line)]
    assert len(numbered) >= 3
    technical = generate(make_brief(style="technical", target_length=2000), "draft")
    technical_headings = ("How It Works", "Implementation Details", "Pitfalls", "Failure Modes")
    assert any(heading in technical for heading in technical_headings)


def test_tone_changes_the_voice() -> None:
    casual = generate(make_brief(tone="casual", target_length=1500), "draft")
    academic = generate(make_brief(tone="academic", target_length=1500), "draft")
    assert re.search(r"\b\w+n't\b|\b\w+'(?:re|ll|ve)\b", casual)
    assert "n't" not in academic
    assert casual != academic


def test_editor_feedback_changes_the_draft_and_is_answered_point_by_point() -> None:
    feedback = "Add more concrete examples; explain the costs for small teams."
    plain = generate(make_brief(), "draft")
    revised = generate(make_brief(feedback=feedback), "draft")
    assert revised != plain
    assert "add more concrete examples" in revised.lower()
    assert "explain the costs for small teams" in revised.lower()


def test_feedback_is_answered_even_in_a_very_short_draft() -> None:
    revised = generate(make_brief(target_length=100, feedback="Add a clear next step"), "draft")
    assert "add a clear next step" in revised.lower()


def test_a_good_draft_passes_review_with_no_issues() -> None:
    review = write(make_brief())["review"]
    assert set(review) == {"quality_score", "scores", "qa_feedback", "issues"}
    assert review["quality_score"] >= 85
    assert review["issues"] == []
    assert review["qa_feedback"].startswith("Meets the brief")


def test_review_scores_a_draft_missing_keywords_lower() -> None:
    brief = make_brief()
    article = write(brief)
    stripped = article["body"]
    for keyword in ("Slack", "mentoring", "documentation"):
        stripped = re.sub(re.escape(keyword), "teamwork", stripped, flags=re.IGNORECASE)
    review = json.loads(
        generate(brief, "review", {"draft": {"title": article["title"], "markdown": stripped}})
    )
    assert review["quality_score"] < article["review"]["quality_score"]
    assert "Keyword 'Slack' is missing" in review["issues"]


def article_score(brief: Brief) -> int:
    return write(brief)["review"]["quality_score"]


def test_review_flags_a_draft_far_below_the_target_length() -> None:
    brief = make_brief(target_length=1500)
    short = write(make_brief(target_length=400))
    review = json.loads(
        generate(brief, "review", {"draft": {"title": "T", "markdown": short["body"]}})
    )
    assert review["quality_score"] < article_score(brief)
    assert any(issue.startswith("Too short: ") for issue in review["issues"])


def test_review_flags_a_wall_of_text_without_headings() -> None:
    brief = make_brief()
    wall = " ".join(sentences_of(write(brief)["body"]))
    review = json.loads(generate(brief, "review", {"draft": {"title": "T", "markdown": wall}}))
    assert review["quality_score"] < 70
    assert any("heading" in issue for issue in review["issues"])
    assert any("150 words" in issue for issue in review["issues"])


def test_review_of_an_empty_draft_scores_zero() -> None:
    review = json.loads(generate(make_brief(), "review", {}))
    assert review["quality_score"] == 0
    assert review["issues"]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"task_type": "social_post", "target_length": 100},
        {
            "topic": "An exceptionally long topic about distributed engineering organisations "
            "and the many ways they onboard, mentor and retain new colleagues",
            "keywords": tuple(f"keyword number {n}" for n in range(15)),
            "primary_keyword": "a remarkably long primary keyword phrase for search engines",
            "target_audience": "very senior engineering leaders in fast-growing companies",
        },
    ],
    ids=["default", "short-social", "oversized-inputs"],
)
def test_seo_metadata_respects_the_published_limits(overrides: dict[str, Any]) -> None:
    seo = write(make_brief(**overrides))["seo"]
    assert set(seo) == {"seo_title", "meta_description", "tags", "excerpt"}
    assert 0 < len(seo["seo_title"]) <= 60
    assert 0 < len(seo["meta_description"]) <= 160
    assert 0 < len(seo["tags"]) <= 10
    assert all(tag == tag.lower() for tag in seo["tags"])
    assert len(set(seo["tags"])) == len(seo["tags"])
    assert 0 < len(seo["excerpt"]) <= 300


def test_seo_tags_come_from_keywords_and_category() -> None:
    tags = write(make_brief())["seo"]["tags"]
    assert {"remote onboarding", "slack", "documentation", "management"} <= set(tags)


def test_token_accounting_estimates_words_and_costs_nothing() -> None:
    completion = OfflineLLMProvider().generate(
        stage="draft", brief=make_brief(), prompt="word " * 300, context={}, model="m", timeout=5
    )
    assert completion.model == "offline-writer-1"
    assert completion.cost == Decimal("0")
    assert completion.tokens_in == 400
    assert completion.tokens_out == round(len(completion.text.split()) * 4 / 3)


def test_an_unknown_stage_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="publish"):
        generate(make_brief(), "publish")


def test_cover_image_is_a_1200_by_630_png_that_depends_on_the_topic() -> None:
    provider = OfflineImageProvider()
    result = provider.generate_image(brief=make_brief(), prompt="p", model="m", timeout=5)
    assert result.content_type == "image/png"
    assert result.model == "offline-image-1"
    assert result.cost == Decimal("0")
    with Image.open(io.BytesIO(result.content)) as image:
        assert image.format == "PNG"
        assert image.size == (1200, 630)
    other = provider.generate_image(
        brief=make_brief(topic="SaaS pricing experiments"), prompt="p", model="m", timeout=5
    )
    assert other.content != result.content


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("# A Title\n\nOne two three.", 5),
        ("## 1. Start small\n\n- first item\n* second item\n1. third item", 8),
        ("Some *emphasis*, **bold** and `code` words.", 6),
        ("See [the docs](https://example.com/a/very/long/path) now.", 4),
        ("```python\nprint('hi')\n```\n\nDone.", 2),
        ("> Quoted text here\n\n---\n\nAfter the rule.", 6),
        ("Dashes — and ellipses … are not words.", 6),
    ],
)
def test_word_count_counts_what_a_reader_sees(markdown: str, expected: int) -> None:
    assert word_count(markdown) == expected


def test_a_social_posts_hashtags_never_open_a_paragraph_that_markdown_reads_as_a_heading() -> None:
    brief = Brief(
        task_type="social_post",
        topic="Remote team onboarding",
        keywords=KEYWORDS,
        primary_keyword="remote onboarding",
        target_audience="engineering managers",
        style="listicle",
        target_length=800,
    )
    markdown = write(brief)["markdown"]
    assert re.search(r"(?: #\w+)+$", markdown.rstrip())
    assert not re.search(r"^#[^# ]", markdown, re.MULTILINE)
    assert render_markdown(markdown).count("<h1>") == 1
