"""The offline writer's draft from sources: the pages' own sentences about the topic,
each cited, under the outline's headings; and the offline review loop keeping them."""

import json
import re

import pytest

from tasks.pipeline.claims import SUPPORTED, check_claims
from tasks.pipeline.providers import Brief
from tasks.pipeline.providers.offline import OfflineLLMProvider
from tasks.pipeline.providers.offline.extract import source_sentences
from tasks.pipeline.stages import StageJob, draft, research
from tasks.pipeline.text import sentences, word_count

from .source_pages import PAGES, PageServer

pytestmark = pytest.mark.django_db

BRIEF = Brief(
    task_type="blog_post",
    topic="Rain barrels for city gardens",
    keywords=("rain barrel", "rainwater"),
    target_length=800,
)


@pytest.fixture
def pages(settings):
    settings.SOURCES_ALLOW_PRIVATE = True  # the pages are on loopback
    with PageServer() as server:
        yield server


def researched(pages, *paths: str, brief: Brief = BRIEF) -> dict:
    job = StageJob(
        brief=brief, quality="balanced", name="extract", sources=tuple(map(pages.url, paths))
    )
    return research.run(job, {}).data


def drafted(research_data: dict, brief: Brief = BRIEF, **context) -> dict:
    job = StageJob(brief=brief, quality="balanced", name="extract")
    return draft.run(job, {"research": research_data, **context}).data


def sections(markdown: str) -> dict[str | None, str]:
    """The body's sections by heading (None: the introduction)."""
    found: dict[str | None, str] = {}
    heading = None
    for part in re.split(r"^(## .*)$", markdown, flags=re.MULTILINE):
        if part.startswith("## "):
            heading = part[3:].strip()
        elif part.strip():
            found[heading] = part.strip()
    return found


def test_an_offline_draft_from_sources_says_only_what_they_say_each_sentence_cited(pages):
    data = researched(pages, "/barrels", "/history", "/care")
    article = drafted(data)
    markdown = article["markdown"]

    claims = check_claims(markdown, data["sources"])
    assert len(claims) >= 25
    assert all(claim["verdict"] == SUPPORTED for claim in claims)
    by_number = {source["n"]: source for source in data["sources"]}
    for claim in claims:
        [n] = claim["sources"]
        assert claim["sentence"] in by_number[n]["text"]  # word for word, from that page
    said = [claim["sentence"] for claim in claims]
    assert len(said) == len(set(said))  # no sentence twice
    # No filler: what cites nothing is the short introduction, the conclusion and the
    # credit line of the further reading, none of it a fact.
    uncited = [sentence for sentence, cited in sentences(markdown) if not cited]
    assert len(uncited) <= 5
    assert not any(re.search(r"\d", sentence) for sentence in uncited)
    body = sections(markdown)
    headings = [h for h in body if h is not None]
    for heading in headings[:-2]:  # the sections before the conclusion and further reading
        assert all(cited for _, cited in sentences(body[heading])), heading
    # The pages hold about 640 words: the draft takes nearly all of it and pads nothing.
    assert 550 <= article["word_count"] <= 800
    assert len(headings) >= 4


def test_the_extractive_draft_is_the_same_every_time(pages):
    data = researched(pages, "/barrels", "/history", "/care")

    first, second = drafted(data), drafted(json.loads(json.dumps(data)))

    assert first == second


def test_a_short_target_takes_the_sentences_most_about_the_topic(pages):
    brief = Brief(
        task_type="blog_post",
        topic="The Greenfield rain barrel programme",
        primary_keyword="rain barrel programme",
        target_length=150,
    )
    data = researched(pages, "/barrels", "/history", brief=brief)
    markdown = drafted(data, brief=brief)["markdown"]

    claims = check_claims(markdown, data["sources"])
    assert claims and all(claim["verdict"] == SUPPORTED for claim in claims)
    assert word_count(markdown) <= 150 * 1.1
    assert "The Greenfield Water Board started its rain barrel programme in 1998 [2]." in markdown
    # The page about barrels in general says less about the programme.
    assert sum(claim["source"] == 2 for claim in claims) > len(claims) / 2


def test_a_plans_sections_take_only_the_sources_it_names_for_them(pages):
    data = researched(pages, "/barrels", "/history", "/care")
    plan = {
        "outline": [
            {"heading": "The water board's programme", "point": "rebates", "sources": [2]},
            {"heading": "Keeping the water clean", "point": "care", "sources": [3]},
        ]
    }

    markdown = drafted(data, plan=plan)["markdown"]

    body = sections(markdown)
    programme = sentences(body["The water board's programme"])
    care = sentences(body["Keeping the water clean"])
    assert programme and all(cited == [2] for _, cited in programme)
    assert care and all(cited == [3] for _, cited in care)
    assert "[1]" not in markdown  # no section of the plan uses the first page


def test_an_unreadable_source_keeps_its_number_in_the_citations(pages):
    data = researched(pages, "/gone", "/history")

    markdown = drafted(data)["markdown"]

    assert "[2]" in markdown and "[1]" not in markdown
    claims = check_claims(markdown, data["sources"])
    assert {claim["source"] for claim in claims} == {2}
    assert all(claim["verdict"] == SUPPORTED for claim in claims)


def test_without_a_readable_source_the_writer_cites_nothing(pages):
    data = researched(pages, "/gone")

    markdown = drafted(data)["markdown"]

    assert not any(cited for _, cited in sentences(markdown))
    assert word_count(markdown) > 600  # the writer's own article, as before


def test_source_sentences_leave_out_fragments_headings_and_what_would_read_back_otherwise():
    text = (
        "Barrel basics\n"
        "A rain barrel holds 200 litres of water from the roof. Too short.\n"
        "See the table [3] for the sizes of the common barrels on sale. "
        "Is a barrel worth it for a small garden bed?\n"
        "The *best* barrels are made of recycled food-grade plastic sheets."
    )

    assert source_sentences(text) == ["A rain barrel holds 200 litres of water from the roof."]


def test_plain_text_wrapped_at_a_width_is_read_as_whole_sentences():
    text = (
        "Rain barrels\n"
        "A rain barrel under a downspout in a city garden collects the water that\n"
        "runs off a roof. The Greenfield Water Board started its programme in\n"
        "1998 and Greenfield now counts 40,000 barrels.\n"
    )

    assert source_sentences(text) == [
        "A rain barrel under a downspout in a city garden collects the water that runs off a roof.",
        "The Greenfield Water Board started its programme in 1998 and Greenfield now "
        "counts 40,000 barrels.",
    ]


def test_the_offline_refine_keeps_every_cited_sentence_of_a_draft_short_of_its_target(pages):
    long_brief = Brief(**{**BRIEF.__dict__, "target_length": 2000})
    data = researched(pages, "/barrels", "/history", "/care", brief=long_brief)
    article = drafted(data, brief=long_brief)
    provider = OfflineLLMProvider()
    critique = json.loads(
        provider.generate(
            stage="review", brief=long_brief, prompt="", context={"draft": article}
        ).text
    )
    assert any(issue.startswith("Too short") for issue in critique["issues"])

    refined = provider.generate(
        stage="refine",
        brief=long_brief,
        prompt="",
        context={"draft": article, "critique": critique, "research": data},
    ).text

    assert check_claims(refined, data["sources"]) == check_claims(
        article["markdown"], data["sources"]
    )
    assert sentences(refined.split("\n", 1)[1]) == sentences(article["markdown"])


def test_the_offline_provider_has_no_opinion_on_claims():
    answer = OfflineLLMProvider().generate(
        stage="check", brief=BRIEF, prompt="1. Claim: x\n   Source [1] excerpt: y", context={}
    )

    assert json.loads(answer.text) == {"unsupported": []}


def test_every_source_page_sentence_is_usable_as_written():
    # The pages are the fixture of the tests above: each sentence is extractable.
    for _title, page in PAGES.values():
        assert source_sentences("\n".join(page)) == page
