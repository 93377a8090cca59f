"""Requesting changes sends the draft's open comments with the feedback: each becomes
a note of the feedback ledger (`On "<quote>": <body>`), the next generation's draft is
written to it and its review says whether it was addressed; the comments are resolved
as sent. With a model (the fake OpenAI-compatible server on loopback)."""

import pytest

from approvals.models import DraftComment
from approvals.services import approval_decide
from approvals.services.comments import comment_add, comment_resolve
from tasks.models import FeedbackNote
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..fakes import CHAT_PATH, FakeLLMServer
from ..tasks.factories import ContentTaskFactory

pytestmark = pytest.mark.django_db

FEEDBACK = "Tighten the whole piece."


@pytest.fixture
def fake_llm(settings):
    with FakeLLMServer() as server:
        server.configure(settings)
        yield server


def draft_prompts(server: FakeLLMServer) -> list[str]:
    sent = [r.json["messages"][-1]["content"] for r in server.requests if r.path == CHAT_PATH]
    return [prompt for prompt in sent if prompt.startswith("Write the piece")]


# Passages of the fake model's draft (tests/fakes.py DRAFT), and the quick writer's.
QUOTES = ["Intro about rain barrel use.", "Why", "Because."]
QUICK_QUOTE = "Because it helps."


def test_changes_requested_with_two_open_comments_reach_generation_two(fake_llm, editor):
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    first_quote, second_quote, third_quote = QUOTES
    first = comment_add(task_id=task.pk, author=editor, quote=first_quote,
                        body="Name the barrel's volume")  # fmt: skip
    comment_add(task_id=task.pk, author=editor, parent_id=first.pk, body="In litres, please")
    second = comment_add(task_id=task.pk, author=editor, quote=second_quote,
                         body="Explain the overflow valve")  # fmt: skip
    done = comment_add(task_id=task.pk, author=editor, quote=third_quote, body="Already fixed")
    comment_resolve(task_id=task.pk, comment_id=done.pk, user=editor)

    approval_decide(task_id=task.pk, reviewer=editor, approved=False, feedback=FEEDBACK,
                    regenerate=True)  # fmt: skip
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.generation == 2

    notes = [f'On "{first_quote}": Name the barrel\'s volume',
             f'On "{second_quote}": Explain the overflow valve']  # fmt: skip
    assert [n.note for n in FeedbackNote.objects.filter(task=task).order_by("created_at", "id")
            ] == [FEEDBACK, *notes]  # fmt: skip
    _, prompt = draft_prompts(fake_llm)
    for note in notes:
        assert f"- {note} (on generation 1)" in prompt
    assert "Already fixed" not in prompt and "In litres" not in prompt
    checklist = task_result(task)["feedback_checklist"]
    assert [(item["note"], item["generation"]) for item in checklist] == [
        (FEEDBACK, 1), (notes[0], 1), (notes[1], 1),
    ]  # fmt: skip
    assert all(isinstance(item["addressed"], bool) for item in checklist)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.resolved, first.sent_to_generation, first.resolved_by) == (True, 2, editor)
    assert (second.resolved, second.sent_to_generation) == (True, 2)
    assert DraftComment.objects.get(pk=done.pk).sent_to_generation is None


def test_a_plain_rejection_sends_no_comment_anywhere(editor, quick_writer):
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    comment = comment_add(task_id=task.pk, author=editor, quote=QUICK_QUOTE, body="Weak")
    approval_decide(task_id=task.pk, reviewer=editor, approved=False, feedback=FEEDBACK)
    assert [n.note for n in FeedbackNote.objects.filter(task=task)] == [FEEDBACK]
    comment.refresh_from_db()
    assert not comment.resolved and comment.sent_to_generation is None


def test_a_refused_request_for_changes_leaves_the_comments_open(editor, quick_writer):
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    comment = comment_add(task_id=task.pk, author=editor, quote=QUICK_QUOTE, body="Weak")
    with pytest.raises(Exception, match="changed since you read it"):
        approval_decide(task_id=task.pk, reviewer=editor, approved=False, feedback=FEEDBACK,
                        regenerate=True, expected_content_hash="0" * 64)  # fmt: skip
    comment.refresh_from_db()
    assert not comment.resolved and not FeedbackNote.objects.filter(task=task).exists()
