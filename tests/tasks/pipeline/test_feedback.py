"""The feedback ledger in the pipeline: every note reaches the prompt, the brief's seed
stays the same in every process, and whether a draft addresses a note."""

from dataclasses import replace

from tasks.pipeline.feedback import addressed, answers, checklist, prompt
from tasks.pipeline.providers import Brief
from tasks.pipeline.stages import describe

BRIEF = Brief(task_type="blog_post", topic="Composting at home", keywords=("compost",))
NOTES = ((1, "Add a section on costs for small gardens"), (2, "Mention worm bins"))

DRAFT = """# Composting at Home

Composting turns kitchen scraps into soil.

## What It Costs

A small garden spends little: a bin costs less than a bag of fertiliser.

## Getting Started

Start with a pile in a shady corner.
"""


def test_the_prompt_lists_every_note_of_the_ledger_with_its_generation():
    text = describe(replace(BRIEF, feedback=NOTES[-1][1], feedback_notes=NOTES))
    assert "address every one of these notes" in text
    assert "- Add a section on costs for small gardens (on generation 1)" in text
    assert "- Mention worm bins (on generation 2)" in text


def test_a_brief_with_only_feedback_still_has_it_addressed():
    brief = replace(BRIEF, feedback="Mention worm bins")
    assert brief.notes() == [(0, "Mention worm bins")]
    assert "- Mention worm bins" in describe(brief)


def test_the_notes_change_the_seed_and_lists_give_the_same_brief():
    with_notes = replace(BRIEF, feedback_notes=NOTES)
    as_lists = replace(BRIEF, feedback_notes=[list(note) for note in NOTES])
    assert as_lists == with_notes and as_lists.seed() == with_notes.seed()
    assert with_notes.seed() != BRIEF.seed()
    # A brief without a ledger seeds as before the ledger existed (the same drafts).
    assert BRIEF.seed() == 14777594892294643340


def test_a_note_is_addressed_when_most_of_its_words_are_in_the_draft():
    assert addressed("Add a section on costs for small gardens", DRAFT)
    assert not addressed("Mention worm bins", DRAFT)


def test_a_note_repeated_back_without_being_acted_on_is_not_addressed():
    echoed = DRAFT + "\nTo mention worm bins, it helps to look closely at composting.\n"
    assert not addressed("Mention worm bins", echoed)
    acted_on = echoed + "\nWorm bins suit a balcony.\n"
    assert addressed("Mention worm bins", acted_on)


def test_the_model_is_asked_for_each_numbered_note_and_its_verdicts_win():
    asked = prompt(NOTES)
    assert '"feedback_checklist"' in asked
    assert "1. Add a section on costs" in asked and "2. Mention worm bins" in asked
    assert prompt(()) == ""
    verdicts = answers({"feedback_checklist": [
        {"note": 1, "addressed": False}, {"note": "2", "addressed": "yes"}, "junk",
    ]})  # fmt: skip
    assert verdicts == {1: False}
    assert checklist(NOTES, DRAFT, verdicts) == [
        {"note": NOTES[0][1], "generation": 1, "addressed": False, "judged_by": "model"},
        {"note": NOTES[1][1], "generation": 2, "addressed": False, "judged_by": "code"},
    ]
