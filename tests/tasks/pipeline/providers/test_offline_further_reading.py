"""Research notes (our related posts, the sources read) end the offline draft as further reading."""

import json
from typing import Any

from tasks.pipeline.providers import Brief, OfflineLLMProvider
from tasks.pipeline.rendering import render_markdown
from tasks.pipeline.text import word_count

LINKS = [
    {"title": "Worm farms for beginners", "url": "/posts/worm-farms/"},
    {"title": "Bokashi [the quick way]", "url": "/posts/bokashi/"},
]
SOURCES = [
    {
        "url": "https://example.org/compost",
        "title": "City composting guide",
        "text": "...",
        "ok": True,
        "error": "",
    },
    {
        "url": "https://down.example/",
        "title": "Unreachable",
        "text": "",
        "ok": False,
        "error": "503",
    },
]


def make_brief(**overrides: Any) -> Brief:
    fields: dict[str, Any] = {
        "task_type": "blog_post",
        "topic": "How to compost in an apartment",
        "keywords": ("compost bins", "food scraps"),
        "primary_keyword": "apartment composting",
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


def draft_with(brief: Brief, **notes: Any) -> str:
    research = json.loads(generate(brief, "research", {}))
    return generate(brief, "draft", {"research": {**research, **notes}})


def test_the_draft_ends_with_links_to_our_posts_and_credit_for_the_sources_read() -> None:
    markdown = draft_with(make_brief(), internal_links=LINKS, sources=SOURCES)
    further = markdown[markdown.index("## Further reading") :]

    assert markdown.rstrip().endswith(further.rstrip())
    assert "- [Worm farms for beginners](/posts/worm-farms/)" in further
    assert "- [Bokashi the quick way](/posts/bokashi/)" in further
    assert "[City composting guide](https://example.org/compost)" in further
    assert "Unreachable" not in markdown and "down.example" not in markdown
    html = render_markdown(further)
    assert 'href="/posts/worm-farms/"' in html and 'href="https://example.org/compost"' in html


def test_without_research_notes_the_draft_is_unchanged() -> None:
    brief = make_brief()
    plain = draft_with(brief)
    assert "Further reading" not in plain
    assert draft_with(brief, internal_links=[], sources=[]) == plain
    assert draft_with(brief, sources=[SOURCES[1]]) == plain  # nothing fetched, nothing credited


def test_links_that_are_not_our_own_site_paths_are_left_out() -> None:
    links = [
        {"title": "Script", "url": "javascript:alert(1)"},
        {"title": "Elsewhere", "url": "//evil.example/post"},
        {"title": "Spaced", "url": "/posts/a b/"},
        {"title": "Fine", "url": "/posts/fine/"},
        "not a link",
    ]
    sources = [{"url": "ftp://example.org/file", "title": "FTP", "ok": True}]
    markdown = draft_with(make_brief(), internal_links=links, sources=sources)
    further = markdown[markdown.index("## Further reading") :]
    assert further.strip().splitlines()[2:] == ["- [Fine](/posts/fine/)"]


def test_further_reading_counts_toward_the_length_and_is_not_taken_for_the_conclusion() -> None:
    brief = make_brief(target_length=500)
    markdown = draft_with(brief, internal_links=LINKS, sources=SOURCES)
    title, _, body = markdown.partition("\n")
    assert abs(word_count(body) - 500) <= 0.1 * 500

    review = json.loads(
        generate(brief, "review", {"draft": {"title": title[2:], "markdown": body.strip()}})
    )
    assert review["issues"] == []


def test_refining_a_draft_rebuilds_its_body_and_keeps_further_reading_last() -> None:
    brief = make_brief(target_length=500)
    markdown = draft_with(brief, internal_links=LINKS, sources=SOURCES)
    title, _, body = markdown.partition("\n")
    further = body[body.index("## Further reading") :].strip()
    gutted = body[: body.index("\n## ")].strip() + "\n\n" + further  # intro and notes only

    refined = generate(
        brief, "refine", {"draft": {"title": title[2:], "markdown": gutted}, "critique": {}}
    )
    assert refined.rstrip().endswith(further)
    assert refined.count("## Further reading") == 1
    new_body = refined.partition("\n")[2].strip()
    review = json.loads(
        generate(brief, "review", {"draft": {"title": title[2:], "markdown": new_body}})
    )
    assert review["issues"] == []
