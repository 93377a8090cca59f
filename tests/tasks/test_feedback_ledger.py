"""The feedback ledger: every request-changes note is kept, each later generation is
written to all of them, and its review says which of them the new draft addresses;
offline and with a model (the fake OpenAI-compatible server on loopback)."""

import json

import pytest

from approvals.services import approval_decide
from tasks.models import FeedbackNote
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..fakes import CHAT_PATH, DRAFT, PIPELINE_USAGE, REPLIES, FakeLLMServer, Reply
from ..fakes import chat_completion as completion
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_llm(settings):
    with FakeLLMServer() as server:
        server.configure(settings)
        yield server


def request_changes(task, editor, note: str) -> None:
    approval_decide(task_id=task.pk, reviewer=editor, approved=False, feedback=note,
                    regenerate=True)  # fmt: skip
    assert run_pipeline(task.pk) == "done"


def prompts(server: FakeLLMServer, start: str) -> list[str]:
    sent = [r.json["messages"][-1]["content"] for r in server.requests if r.path == CHAT_PATH]
    return [prompt for prompt in sent if prompt.startswith(start)]


def answered(content: str) -> Reply:
    return Reply(completion(content, usage=PIPELINE_USAGE))


def test_each_request_for_changes_is_kept_in_the_ledger_with_its_generation_and_author(
    editor, quick_writer
):
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    request_changes(task, editor, "Say more about compost bins")
    request_changes(task, editor, "  Explain soil testing  ")
    notes = FeedbackNote.objects.filter(task=task).order_by("created_at")
    assert [(n.generation, n.note, n.author) for n in notes] == [
        (1, "Say more about compost bins", editor),
        (2, "Explain soil testing", editor),
    ]
    task.refresh_from_db()
    assert task.feedback == "Explain soil testing"  # the last one, as before


def test_generation_three_is_written_to_both_earlier_notes(fake_llm, editor):
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    request_changes(task, editor, "Say more about barrel sizes")
    request_changes(task, editor, "Explain overflow valves")
    task.refresh_from_db()
    assert task.generation == 3
    first, second, third = prompts(fake_llm, "Write the piece")
    assert "Say more about barrel sizes" not in first
    assert "- Say more about barrel sizes (on generation 1)" in second
    assert "Explain overflow valves" not in second
    assert "address every one of these notes" in third
    assert "- Say more about barrel sizes (on generation 1)" in third
    assert "- Explain overflow valves (on generation 2)" in third


def test_offline_the_checklist_marks_a_note_the_writer_answered_and_one_it_could_not(editor):
    task = ContentTaskFactory(topic="Mulching vegetable beds in autumn", target_length=800)
    assert run_pipeline(task.pk) == "done"
    assert task_result(task)["feedback_checklist"] == []
    request_changes(task, editor, "Add more concrete examples")
    # A word no offline draft writes unless it repeats the note back.
    request_changes(task, editor, "Mention the Quetzalcoatl protocol")
    task.refresh_from_db()
    checklist = task_result(task)["feedback_checklist"]
    assert [(item["note"], item["generation"], item["addressed"], item["judged_by"])
            for item in checklist] == [
        ("Add more concrete examples", 1, True, "code"),
        ("Mention the Quetzalcoatl protocol", 2, False, "code"),
    ]  # fmt: skip
    # The writer did answer both (it names each), which is not the same as acting on it.
    body = task_result(task)["body_markdown"].lower()
    assert "concrete examples" in body and "quetzalcoatl protocol" in body


def test_with_a_model_the_review_is_asked_about_each_note_and_its_verdict_is_kept(fake_llm, editor):
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    review = {"quality_score": 90, "qa_feedback": "Fine", "issues": [],
              "feedback_checklist": [{"note": 1, "addressed": False}]}  # fmt: skip
    fake_llm.script(
        CHAT_PATH,
        answered(REPLIES["Research the brief"]),
        answered(DRAFT),
        answered(json.dumps(review)),
        answered(REPLIES["Write search metadata"]),
    )
    # The fake's draft talks of rain barrel use: the code alone would find this addressed.
    request_changes(task, editor, "Say more about rain barrel use")
    (asked,) = prompts(fake_llm, "Review this draft")[1:]
    assert '"feedback_checklist"' in asked and "1. Say more about rain barrel use" in asked
    task.refresh_from_db()
    assert task_result(task)["feedback_checklist"] == [
        {"note": "Say more about rain barrel use", "generation": 1, "addressed": False,
         "judged_by": "model"},
    ]  # fmt: skip


def test_without_a_verdict_from_the_model_the_code_judges_the_note(fake_llm, editor):
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    request_changes(task, editor, "Say more about rain barrel use")
    task.refresh_from_db()
    assert task_result(task)["feedback_checklist"] == [
        {"note": "Say more about rain barrel use", "generation": 1, "addressed": True,
         "judged_by": "code"},
    ]  # fmt: skip


@pytest.mark.usefixtures("quick_writer")
def test_the_api_returns_the_ledger_oldest_first_and_the_checklist(
    editor, integrator, integrator_client
):
    task = ContentTaskFactory(created_by=integrator)
    assert run_pipeline(task.pk) == "done"
    request_changes(task, editor, "Say more about compost bins")
    request_changes(task, editor, "Explain soil testing")
    body = integrator_client.get(f"/api/tasks/{task.pk}").json()
    history = body["feedback_history"]
    assert [(n["note"], n["by"], n["generation"]) for n in history] == [
        ("Say more about compost bins", editor.username, 1),
        ("Explain soil testing", editor.username, 2),
    ]
    assert history[0]["at"] < history[1]["at"]
    assert [
        (item["note"], item["generation"]) for item in body["result"]["feedback_checklist"]
    ] == [
        ("Say more about compost bins", 1),
        ("Explain soil testing", 2),
    ]
    listed = integrator_client.get("/api/tasks").json()["results"]
    assert [n["note"] for n in listed[0]["feedback_history"]] == [n["note"] for n in history]
