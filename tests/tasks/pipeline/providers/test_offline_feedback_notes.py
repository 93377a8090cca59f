"""The offline writer answers every note of the feedback ledger, not only the last,
whatever the length of the piece."""

import json

import pytest

from tasks.pipeline.providers import Brief, OfflineLLMProvider
from tasks.pipeline.text import word_count

NOTES = ((1, "Add more concrete examples"), (2, "Explain the costs for small teams"))


def draft(brief: Brief) -> str:
    provider = OfflineLLMProvider()
    research = provider.generate(stage="research", brief=brief, prompt="", context={}).text
    context = {"research": json.loads(research)}
    return provider.generate(stage="draft", brief=brief, prompt="", context=context).text


@pytest.mark.parametrize("length", [100, 300, 1200])
def test_every_note_of_the_ledger_is_answered_within_the_length(length):
    brief = Brief(task_type="blog_post", topic="Remote team onboarding", target_length=length,
                  feedback=NOTES[-1][1], feedback_notes=NOTES)  # fmt: skip
    text = draft(brief).lower()
    assert "add more concrete examples" in text
    assert "explain the costs for small teams" in text
    assert abs(word_count(text) - length) <= 0.15 * length


def test_the_same_ledger_gives_the_same_draft():
    brief = Brief(task_type="blog_post", topic="Remote team onboarding", feedback_notes=NOTES)
    assert draft(brief) == draft(Brief(task_type="blog_post", topic="Remote team onboarding",
                                       feedback_notes=[list(note) for note in NOTES]))  # fmt: skip
