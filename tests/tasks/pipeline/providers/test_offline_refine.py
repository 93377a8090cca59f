"""The offline refine stage addresses the critique: it fixes what the review measured (and the
keywords another reviewer names as missing), and leaves a good draft alone."""

import json
import re
from typing import Any

import pytest

from tasks.pipeline.providers import Brief, OfflineLLMProvider
from tasks.pipeline.text import paragraphs, strip_markdown, word_count

KEYWORDS = ("compost bins", "food scraps", "worm farms")


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


def split_title(markdown: str) -> dict[str, str]:
    """What the draft stage stores: the `# ` line as the title, the rest as the body."""
    first, _, rest = markdown.partition("\n")
    assert first.startswith("# ")
    return {"title": first.removeprefix("# ").strip(), "markdown": rest.strip()}


def draft_of(brief: Brief) -> dict[str, str]:
    research = json.loads(generate(brief, "research", {}))
    return split_title(generate(brief, "draft", {"research": research}))


def review_of(brief: Brief, draft: dict[str, str]) -> dict[str, Any]:
    return json.loads(generate(brief, "review", {"draft": draft}))


def refine(brief: Brief, draft: dict[str, str], critique: dict[str, Any] | None = None) -> str:
    critique = review_of(brief, draft) if critique is None else critique
    return generate(brief, "refine", {"draft": draft, "critique": critique})


def sentences(markdown: str) -> list[str]:
    return [s for p in paragraphs(markdown) for s in re.split(r"(?<=[.!?])\s+", p) if s]


def bad_draft(brief: Brief) -> dict[str, str]:
    """Too short, keywords gone, overlong sentences, one giant paragraph and no sections."""
    body = draft_of(brief)["markdown"]
    prose = [line for line in body.splitlines() if line and not re.match(r"#|- |\d+\. ", line)]
    text = " ".join(strip_markdown("\n".join(prose)).split())
    for keyword in (*brief.keywords, brief.primary_keyword):
        text = re.sub(re.escape(keyword), "the project", text, flags=re.IGNORECASE)
    parts = re.split(r"(?<=[.!?])\s+", text)[:16]
    joined = [
        parts[i].rstrip(".") + "; " + parts[i + 1][0].lower() + parts[i + 1][1:]
        for i in range(0, len(parts) - 1, 2)
    ]
    return {"title": "Notes", "markdown": " ".join(joined)}


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"topic": "Why do sourdough starters fail?", "target_length": 1500, "tone": "casual"},
    ],
    ids=["howto-800", "question-1500"],
)
def test_refining_a_bad_draft_lifts_it_past_the_threshold_and_clears_its_issues(
    overrides: dict[str, Any],
) -> None:
    brief = make_brief(**overrides)
    draft = bad_draft(brief)
    before = review_of(brief, draft)
    assert before["quality_score"] < 50
    assert any(issue.startswith("Too short") for issue in before["issues"])
    assert any("sentences longer than 30 words" in issue for issue in before["issues"])

    refined = refine(brief, draft, before)
    after = review_of(brief, split_title(refined))

    assert refined.startswith("# Notes\n\n")
    assert after["quality_score"] >= 80
    assert after["issues"] == []
    body = split_title(refined)["markdown"]
    assert abs(word_count(body) - brief.target_length) <= 0.1 * brief.target_length
    assert max(len(s.split()) for s in sentences(body)) <= 30
    assert max(len(p.split()) for p in paragraphs(body)) <= 150
    headings = re.findall(r"^## (.+)$", body, re.MULTILINE)
    assert len(headings) >= 4  # three body sections and a conclusion
    for keyword in (*brief.keywords, brief.primary_keyword):
        # Each keyword arrives inside a whole sentence, not as a bare list of terms.
        assert any(keyword in s and s.endswith(".") for s in sentences(body)), keyword


def test_a_list_draft_refined_delivers_the_items_its_topic_promises() -> None:
    brief = make_brief(topic="7 ways to cut cloud costs")
    draft = bad_draft(brief)
    body = split_title(refine(brief, draft))["markdown"]
    numbers = re.findall(r"^## (\d+)\. ", body, re.MULTILINE)
    assert numbers == [str(n) for n in range(1, 8)]


def test_refining_a_good_draft_changes_nothing() -> None:
    for brief in (make_brief(), make_brief(topic="What is observability?", target_length=300)):
        draft = draft_of(brief)
        review = review_of(brief, draft)
        assert review["issues"] == []
        refined = refine(brief, draft, review)
        assert refined == f"# {draft['title']}\n\n{draft['markdown']}\n"
        assert review_of(brief, split_title(refined)) == review


def test_a_draft_ten_times_its_target_is_trimmed_without_losing_a_keyword() -> None:
    # Sentences alone cannot take 3000 words to 300: whole sections go too.
    brief = make_brief(target_length=300)
    draft = draft_of(make_brief(target_length=3000))
    before = review_of(brief, draft)
    words = word_count(draft["markdown"])
    assert before["issues"] == [f"Too long: {words} words against a target of 300"]

    refined = split_title(refine(brief, draft, before))
    after = review_of(brief, refined)
    assert abs(word_count(refined["markdown"]) - 300) <= 0.1 * 300
    assert after["issues"] == []
    sections = re.compile(r"^## ", re.MULTILINE)
    assert len(sections.findall(refined["markdown"])) < len(sections.findall(draft["markdown"]))
    for keyword in (*brief.keywords, brief.primary_keyword):
        assert keyword.lower() in refined["markdown"].lower()


def test_missing_introduction_and_conclusion_are_written_around_the_existing_sections() -> None:
    brief = make_brief()
    draft = draft_of(brief)
    sections = draft["markdown"].split("\n## ")
    middle = "## " + "\n## ".join(sections[1:-1])
    kept = re.findall(r"^## (.+)$", middle, re.MULTILINE)
    before = review_of(brief, {**draft, "markdown": middle})
    assert "No introduction before the first section" in before["issues"]
    assert "No conclusion section at the end" in before["issues"]

    body = split_title(refine(brief, {**draft, "markdown": middle}, before))["markdown"]
    headings = re.findall(r"^## (.+)$", body, re.MULTILINE)
    assert not body.startswith("## ")
    assert headings[: len(kept)] == kept
    assert len(headings) == len(kept) + 1
    assert review_of(brief, {**draft, "markdown": body})["issues"] == []


def test_keywords_another_reviewer_names_as_missing_are_written_in() -> None:
    brief = make_brief()
    draft = draft_of(brief)
    critique = {"quality_score": 70, "issues": ["Missing keywords: bokashi, worm farms"]}
    refined = refine(brief, draft, critique)
    assert any("bokashi" in s for s in sentences(refined))
    as_text = generate(brief, "refine", {"draft": draft, "critique": json.dumps(critique)})
    assert as_text == refined
    assert refined.count("worm farms") == f"# {draft['title']}\n\n{draft['markdown']}".count(
        "worm farms"
    )


def test_code_tables_quotes_and_further_reading_survive_refinement_verbatim() -> None:
    brief = make_brief(target_length=500)
    kept = [
        "```python\ndef turn(pile):\n\n    return pile\n```",
        "> A quote; with a semicolon that stays exactly as the author wrote it in the quote.",
        "| bin | litres |\n|---|---|\n| small | 10 |",
        "## Further reading\n\n- [Worm farms for beginners](/posts/worm-farms/)",
    ]
    markdown = "A short opening about food scraps.\n\n## Setup\n\n" + "\n\n".join(kept)
    refined = refine(brief, {"title": "Bins", "markdown": markdown})
    for block in kept:
        assert block in refined
    assert refined.rstrip().endswith("- [Worm farms for beginners](/posts/worm-farms/)")
    assert review_of(brief, split_title(refined))["quality_score"] >= 75
