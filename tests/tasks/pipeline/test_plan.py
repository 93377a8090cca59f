"""The plan research proposes (an outline with points and sources) and the check of an
outline an editor edited: pure functions, no database."""

import pytest

from tasks.pipeline.plan import MAX_SECTIONS, PlanError, clean_outline, propose_outline

SOURCES = [
    {"n": 1, "ok": True, "url": "https://a.example/", "title": "Compost",
     "text": "Compost feeds soil life. Worms turn kitchen scraps into humus."},
    {"n": 2, "ok": False, "url": "https://b.example/", "title": "", "text": "", "error": "404"},
    {"n": 3, "ok": True, "url": "https://c.example/", "title": "Rain",
     "text": "A rain barrel stores roof water for dry weeks; drip irrigation spends it slowly."},
]  # fmt: skip


def test_the_outline_headings_become_sections_with_the_key_points_spread_over_them():
    research = {"outline": ["Why", "How", "## Pitfalls"], "key_points": ["p1", "p2", "p3", "p4"]}
    outline = propose_outline(research, topic="Gardens")
    assert [s["heading"] for s in outline] == ["Why", "How", "Pitfalls"]
    assert [s["point"] for s in outline] == ["p1 p4", "p2", "p3"]
    assert all(s["sources"] == [] for s in outline)


def test_each_section_draws_on_the_readable_source_sharing_most_words_with_it():
    research = {
        "outline": ["Feeding the soil with compost", "Storing rain for dry weeks", "Budget"],
        "key_points": ["Worms make humus", "A barrel and drip irrigation", "Costs"],
        "sources": SOURCES,
    }
    outline = propose_outline(research, topic="Gardens")
    assert [s["sources"] for s in outline] == [[1], [3], []]


def test_sources_without_numbers_are_numbered_by_their_place_as_the_claims_check_does():
    unnumbered = [{k: v for k, v in s.items() if k != "n"} for s in SOURCES]
    research = {"outline": ["Rain barrel storage"], "sources": unnumbered}
    assert propose_outline(research, topic="Gardens")[0]["sources"] == [3]


def test_without_an_outline_the_key_points_are_the_headings_and_without_either_the_topic():
    assert [s["heading"] for s in propose_outline({"key_points": ["A", "B"]}, topic="T")] == [
        "A",
        "B",
    ]
    assert propose_outline({}, topic="Rain barrels") == [
        {"heading": "Rain barrels", "point": "", "sources": []}
    ]


def test_a_proposal_has_at_most_twelve_sections():
    research = {"outline": [f"Heading {i}" for i in range(20)]}
    assert len(propose_outline(research, topic="T")) == MAX_SECTIONS


def test_an_edited_outline_is_cleaned():
    cleaned = clean_outline(
        [{"heading": "  ## Why   it matters ", "point": " a\n b ", "sources": [2, 1, 2]}]
    )
    assert cleaned == [{"heading": "Why it matters", "point": "a b", "sources": [2, 1]}]


@pytest.mark.parametrize(
    "outline",
    [
        [],
        [{"heading": f"H{i}"} for i in range(13)],
        [{"heading": ""}],
        [{"heading": "x" * 201}],
        [{"heading": "H", "point": "p" * 1001}],
        [{"heading": "H", "sources": ["1"]}],
        [{"heading": "H", "sources": [0]}],
        [{"heading": "H", "sources": [True]}],
        [{"heading": "H", "sources": "1"}],
        ["H"],
        "H",
    ],
)
def test_an_outline_that_is_not_a_usable_plan_is_refused(outline):
    with pytest.raises(PlanError):
        clean_outline(outline)
