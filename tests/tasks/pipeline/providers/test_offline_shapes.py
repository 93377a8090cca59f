"""The offline writer reads a topic's shape (question, how-to, list, noun phrase) and writes
titles, headings and sentences that read naturally for it."""

import json
import re
from typing import Any

import pytest

from tasks.pipeline.providers import Brief, OfflineLLMProvider
from tasks.pipeline.providers.offline.shapes import shape_of
from tasks.pipeline.text import strip_markdown

STYLES = ("educational", "technical", "listicle", "narrative", "thought_leadership")

# (topic, shape, title the article carries, noun phrase its sentences use)
TOPICS = [
    ("Why do sourdough starters fail?", "question", "Why Do Sourdough Starters Fail?", None),
    ("What is observability?", "question", "What Is Observability?", "observability"),
    ("Should startups use microservices?", "question", "Should Startups Use Microservices?", None),
    ("Is Kubernetes worth it for small teams?", "question", None, "Kubernetes"),
    ("How does DNS work?", "question", "How Does DNS Work?", "DNS"),
    ("How to compost in an apartment", "howto", "How to Compost in an Apartment", None),
    (
        "How small teams can adopt continuous delivery",
        "howto",
        "How Small Teams Can Adopt Continuous Delivery",
        "adopting continuous delivery",
    ),
    ("How we cut our AWS bill by 40%", "howto", "How We Cut Our AWS Bill by 40%", "AWS bill"),
    ("7 ways to cut cloud costs", "list", "7 Ways to Cut Cloud Costs", "cutting cloud costs"),
    ("Ten habits of highly effective remote teams", "list", None, "remote teams"),
    ("5 common mistakes to avoid when hiring", "list", None, None),
    ("3 reasons to learn Rust", "list", "3 Reasons to Learn Rust", "learning Rust"),
    ("Rainwater harvesting", "noun", None, "rainwater harvesting"),
    ("Rainwater Harvesting For Small Gardens", "noun", None, "rainwater harvesting for small"),
    ("Kubernetes best practices", "noun", None, "Kubernetes best practices"),
]

# Glitches of a topic pasted into a noun slot: "What Is How ...?", "the essentials of Why ...".
HEADING_GLITCHES = re.compile(
    r"(?i:what (?:is|are) (?:how|why|what|when|which|who|should|is|can|do|does)\b)"
    r"|\?\?|\?[.,;:]|[{}]"
)
GLITCHES = re.compile(
    HEADING_GLITCHES.pattern + r"|\b(?:of|about|to|on|for|with|in|into|around|behind) "
    r"(?:How|Why|What|When|Where|Which|Who|Should|Is|Can|Do|Does)\b"
)


def brief(topic: str, **overrides: Any) -> Brief:
    fields: dict[str, Any] = {
        "task_type": "blog_post",
        "topic": topic,
        "keywords": ("budget", "small teams"),
        "target_audience": "engineering managers",
        "style": "educational",
        "target_length": 800,
    }
    fields.update(overrides)
    return Brief(**fields)


def draft(b: Brief) -> str:
    provider = OfflineLLMProvider()
    research = provider.generate(
        stage="research", brief=b, prompt="p", context={}, model="m", timeout=5
    ).text
    context = {"research": json.loads(research)}
    return provider.generate(
        stage="draft", brief=b, prompt="p", context=context, model="m", timeout=5
    ).text


def prose(markdown: str) -> str:
    """Paragraph text only: headings and list items are titles, not sentences."""
    lines = [line for line in markdown.splitlines() if not re.match(r"#|\d+\. |- ", line)]
    return " ".join(strip_markdown("\n".join(lines)).split())


@pytest.mark.parametrize(("topic", "kind", "title", "phrase"), TOPICS)
def test_each_topic_is_read_as_its_shape_with_a_natural_title_and_noun_phrase(
    topic: str, kind: str, title: str | None, phrase: str | None
) -> None:
    shape = shape_of(topic)
    assert shape.kind == kind
    if title:
        assert shape.title == title
    if phrase:
        assert phrase in shape.phrase or phrase in shape.core


@pytest.mark.parametrize(
    ("topic", "kind", "title", "phrase", "style"),
    # Each topic once, the styles taking turns: every topic and every style, not their product.
    [(*case, STYLES[index % len(STYLES)]) for index, case in enumerate(TOPICS)],
)
def test_articles_never_paste_a_question_or_how_to_into_a_noun_slot(
    topic: str, kind: str, title: str | None, phrase: str | None, style: str
) -> None:
    markdown = draft(brief(topic, style=style))
    first_line = markdown.splitlines()[0]
    headings = [line for line in markdown.splitlines() if line.startswith("#")]

    assert not GLITCHES.search(prose(markdown)), GLITCHES.search(prose(markdown))
    assert not any(HEADING_GLITCHES.search(heading) for heading in headings), headings
    assert first_line.count("?") == (1 if kind == "question" else 0)
    if title:
        assert first_line.startswith(f"# {title}")
    if phrase:
        assert phrase in prose(markdown)


def test_a_question_topic_opens_the_article_by_asking_it() -> None:
    markdown = draft(brief("Why do sourdough starters fail?"))
    body = markdown.split("\n", 2)[2]
    assert body.startswith("Why do sourdough starters fail? ")
    # The subject is plural, so headings and sentences agree with it.
    assert "What Is Sourdough Starters" not in markdown
    assert not re.search(
        r"(?:how (?:well )?|^|\. )sourdough starters (?:is|has|plays|evolves)\b",
        markdown,
        re.IGNORECASE | re.MULTILINE,
    )


def test_a_how_to_topic_is_named_as_a_clause_mid_sentence_in_lower_case() -> None:
    markdown = draft(brief("How to compost in an apartment"))
    assert " shows how to compost in an apartment" in markdown or (
        "Knowing how to compost in an apartment" in markdown
    )
    assert "What Is Composting?" in markdown or "Composting" in markdown
    statement = draft(brief("How small teams can adopt continuous delivery", style="technical"))
    assert "how small teams can adopt continuous delivery" in statement
    assert "Continuous Delivery" in "\n".join(
        line for line in statement.splitlines() if line.startswith("## ")
    )


@pytest.mark.parametrize(
    ("topic", "count", "length"),
    [
        # Too short for a section per item: one numbered list.
        ("7 ways to cut cloud costs", 7, 150),
        ("The 5 best tools for remote teams", 5, 150),
        # Long enough for a section per item.
        ("3 reasons to learn Rust", 3, 800),
        ("A dozen tips for better sleep", 12, 800),
        ("Ten habits of highly effective remote teams", 10, 2500),
    ],
)
def test_a_list_topic_gets_exactly_the_number_of_items_its_title_promises(
    topic: str, count: int, length: int
) -> None:
    markdown = draft(brief(topic, target_length=length, style="narrative"))
    sections = re.findall(r"^## (\d+)\. ", markdown, re.MULTILINE)
    items = re.findall(r"^(\d+)\. ", markdown, re.MULTILINE)
    numbers = sections or items
    assert [int(n) for n in numbers] == list(range(1, count + 1)), (sections, items)
    if length >= 800:
        assert len(sections) == count  # room for a section per item
    else:
        assert not sections


def test_a_list_outline_of_the_wrong_length_is_replaced_so_the_count_holds() -> None:
    b = brief("7 ways to cut cloud costs")
    context = {"research": {"outline": ["Rightsizing", "Spot Instances", "Conclusion"]}}
    markdown = (
        OfflineLLMProvider()
        .generate(stage="draft", brief=b, prompt="p", context=context, model="m", timeout=5)
        .text
    )
    assert len(re.findall(r"^## \d+\. ", markdown, re.MULTILINE)) == 7


@pytest.mark.parametrize(
    ("topic", "kept", "lowered"),
    [
        ("How to cut your AWS bill", "AWS", "aws"),
        ("Kubernetes for small teams", "Kubernetes", "kubernetes"),
        ("Why do Python projects rot?", "Python", "python"),
    ],
)
def test_acronyms_and_proper_nouns_keep_their_capitals_inside_sentences(
    topic: str, kept: str, lowered: str
) -> None:
    text = prose(draft(brief(topic)))
    assert kept in text
    assert not re.search(rf"\b{lowered}\b", text)


def test_a_title_cased_topic_reads_in_lower_case_inside_sentences() -> None:
    text = prose(draft(brief("Rainwater Harvesting")))
    assert "rainwater harvesting" in text
    assert "of Rainwater Harvesting" not in text


def test_search_titles_for_question_topics_keep_the_question_mark_last_in_its_clause() -> None:
    b = brief("Why do sourdough starters fail?", primary_keyword="starter care")
    markdown = draft(b)
    title, _, body = markdown.partition("\n")
    context = {"draft": {"title": title[2:], "markdown": body.strip()}}
    seo = json.loads(
        OfflineLLMProvider()
        .generate(stage="seo", brief=b, prompt="p", context=context, model="m", timeout=5)
        .text
    )
    assert "?:" not in seo["seo_title"]
    assert seo["seo_title"] == "Why Do Sourdough Starters Fail? Starter Care"
