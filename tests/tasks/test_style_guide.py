"""The house style guide: one guide, each save a version; the draft is written to it and
the review checks it rule by rule (the offending sentence of each failed rule), each
stage recording the version it used; an edit of the guide reaches the next drafts and
never the approved ones; an editor's edit of a draft is checked again."""

import json

import pytest

from approvals.services import approval_decide
from contentpipeline.errors import ApplicationError
from tasks.models import StageRun, StyleGuide
from tasks.pipeline.style import StyleRules
from tasks.runner import run_pipeline
from tasks.selectors import style_guide_current, task_result
from tasks.services import task_draft_edit
from tasks.services.style import style_guide_update

from ..fakes import CHAT_PATH, DRAFT, PIPELINE_USAGE, REPLIES, FakeLLMServer, Reply
from ..fakes import chat_completion as completion
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_llm(settings):
    with FakeLLMServer() as server:
        server.configure(settings)
        yield server


def drafted(**kwargs):
    task = ContentTaskFactory(**kwargs)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


def style_of(task) -> dict[str, tuple]:
    """The task's style results by rule: (passed, sentence, detail)."""
    report = task_result(task)["style"]
    return {r["rule"]: (r["passed"], r["sentence"], r["detail"]) for r in report["results"]}


def answered(content: str) -> Reply:
    return Reply(completion(content, usage=PIPELINE_USAGE))


# --- The guide and its versions ----------------------------------------------------------


def test_a_guide_never_saved_is_version_zero_without_rules():
    assert style_guide_current() == StyleRules()


def test_each_save_of_the_guide_is_its_next_version_with_who_and_why(editor):
    style_guide_update(user=editor, banned_phrases="synergy\n\n  game   changer \nsynergy",
                       max_sentence_words="30")  # fmt: skip
    guide = style_guide_update(user=editor, reason="house rule", no_exclamation_marks=True,
                               model_rules=["Keep a warm tone"])  # fmt: skip
    assert guide.version == 2
    assert style_guide_current() == StyleRules(
        version=2, banned_phrases=("synergy", "game changer"), no_exclamation_marks=True,
        max_sentence_words=30, model_rules=("Keep a warm tone",),
    )  # fmt: skip
    versions = guide.history.order_by("history_date")
    assert [(v.version, v.history_user, v.history_change_reason) for v in versions] == [
        (1, editor, f"edited by {editor}"),
        (2, editor, "house rule"),
    ]
    # The same rules again: no version.
    assert style_guide_update(user=editor, no_exclamation_marks=True).version == 2
    assert guide.history.count() == 2


@pytest.mark.parametrize(
    "fields",
    [{"tone": "warm"}, {"max_sentence_words": 0.5}, {"max_sentence_words": 5000},
     {"banned_phrases": ["x" * 501]}, {"required_phrases": "a\x00b"}],
)  # fmt: skip
def test_a_bad_rule_changes_nothing(editor, fields):
    with pytest.raises(ApplicationError):
        style_guide_update(user=editor, **fields)
    assert not StyleGuide.objects.filter(version__gt=0).exists()


# --- Written to the guide, checked against it ----------------------------------------------


def test_offline_a_banned_topic_word_fails_its_rule_with_the_sentence_that_uses_it(editor):
    style_guide_update(user=editor, banned_phrases="MULCHING")
    task = drafted(topic="Mulching vegetable beds in autumn")
    passed, sentence, _ = style_of(task)['Banned: "MULCHING"']
    assert passed is False
    assert "mulching" in sentence.lower()
    assert sentence.split()[0] in task_result(task)["body_markdown"]


@pytest.mark.usefixtures("quick_writer")
def test_each_code_rule_passes_or_fails_with_the_offending_sentence(editor):
    # The quick writer's draft: "About <topic>: compost, soil health." "Because it
    # helps." "Step by step."
    style_guide_update(
        user=editor, banned_phrases="it helps\nsynergy", max_sentence_words=3,
        required_phrases="Written with AI assistance\nstep by step",
        model_rules="Keep a warm tone",
    )  # fmt: skip
    task = drafted(topic="Composting at home")
    assert style_of(task) == {
        'Banned: "it helps"': (False, "Because it helps.", ""),
        'Banned: "synergy"': (True, "", ""),
        "At most 3 words a sentence": (False, "About Composting at home: compost, soil health.",
                                       "7 words"),
        'Required: "Written with AI assistance"': (False, "", "not in the piece"),
        'Required: "step by step"': (True, "", ""),
        "Keep a warm tone": (None, "", "not judged: no verdict"),
    }  # fmt: skip
    assert task_result(task)["style"]["version"] == 1


@pytest.mark.usefixtures("quick_writer")
def test_an_exclamation_mark_fails_the_rule_in_the_edited_draft_checked_on_save(editor):
    style_guide_update(user=editor, no_exclamation_marks=True, model_rules="Keep a warm tone")
    task = drafted(topic="Composting at home")
    assert style_of(task)["No exclamation marks"] == (True, "", "")
    body = task_result(task)["body_markdown"] + "\n\nCompost is magic!"
    task_draft_edit(task_id=task.pk, user=editor, body_markdown=body)
    assert style_of(task) == {
        "No exclamation marks": (False, "Compost is magic!", ""),
        "Keep a warm tone": (None, "", "not judged again after the edit"),
    }


@pytest.mark.usefixtures("quick_writer")
def test_an_edited_draft_is_checked_with_the_guide_as_it_is_then(editor):
    task = drafted(topic="Composting at home")
    assert task_result(task)["style"] == {"version": 0, "results": []}
    style_guide_update(user=editor, banned_phrases="editor")
    task_draft_edit(task_id=task.pk, user=editor, title="An editor's title")
    assert task_result(task)["style"]["version"] == 1
    assert style_of(task) == {'Banned: "editor"': (False, "An editor's title", "")}


def test_offline_the_model_rules_are_reported_as_not_judged(editor):
    style_guide_update(user=editor, model_rules="Keep a warm tone\nWrite for beginners")
    task = drafted()
    assert style_of(task) == {
        "Keep a warm tone": (None, "", "not judged: no model"),
        "Write for beginners": (None, "", "not judged: no model"),
    }


def test_the_draft_prompt_holds_the_guide_and_the_model_judges_its_rules(fake_llm, editor):
    style_guide_update(
        user=editor, banned_phrases="synergy", no_exclamation_marks=True, max_sentence_words=25,
        required_phrases="Written with AI assistance",
        model_rules="Keep a warm tone\nWrite for beginners",
    )  # fmt: skip
    review = {"quality_score": 90, "qa_feedback": "Fine", "issues": [], "style": [
        {"rule": 1, "passed": True, "sentence": ""},
        {"rule": 2, "passed": False, "sentence": "Because."},
    ]}  # fmt: skip
    fake_llm.script(
        CHAT_PATH,
        answered(REPLIES["Research the brief"]),
        answered(DRAFT),
        answered(json.dumps(review)),
        answered(REPLIES["Write search metadata"]),
    )
    task = drafted()
    sent = [r.json["messages"][-1]["content"] for r in fake_llm.requests if r.path == CHAT_PATH]
    (draft_prompt,) = [prompt for prompt in sent if prompt.startswith("Write the piece")]
    for rule in ("House style guide (version 1)", '"synergy"', "No exclamation marks",
                 "No sentence longer than 25 words", '"Written with AI assistance"',
                 "- Keep a warm tone", "- Write for beginners"):  # fmt: skip
        assert rule in draft_prompt
    (review_prompt,) = [prompt for prompt in sent if prompt.startswith("Review this draft")]
    assert '"style"' in review_prompt and "2. Write for beginners" in review_prompt
    found = style_of(task)
    assert found["Keep a warm tone"] == (True, "", "")
    assert found["Write for beginners"] == (False, "Because.", "")
    assert found['Required: "Written with AI assistance"'] == (False, "", "not in the piece")


@pytest.mark.usefixtures("quick_writer")
def test_the_draft_and_review_runs_record_the_version_of_the_guide_they_used(editor):
    unguided = drafted()
    style_guide_update(user=editor, banned_phrases="synergy")
    style_guide_update(user=editor, banned_phrases="synergy\nleverage")
    guided = drafted()
    for task, version in ((unguided, 0), (guided, 2)):
        runs = StageRun.objects.filter(task=task, stage__in=["draft", "review"])
        assert {run.stage: run.output["style_guide_version"] for run in runs} == {
            "draft": version, "review": version,
        }  # fmt: skip


@pytest.mark.usefixtures("quick_writer")
def test_an_edit_of_the_guide_changes_the_next_drafts_and_not_the_approved_one(editor):
    style_guide_update(user=editor, banned_phrases="synergy")
    approved = drafted(topic="Composting at home")
    approval_decide(task_id=approved.pk, reviewer=editor, approved=True)
    under_review = drafted(topic="Composting at home")
    before = task_result(approved)["style"]

    style_guide_update(user=editor, banned_phrases="synergy\nit helps")
    approved.refresh_from_db()
    assert approved.status == "published"
    assert task_result(approved)["style"] == before
    assert set(style_of(approved)) == {'Banned: "synergy"'}

    approval_decide(task_id=under_review.pk, reviewer=editor, approved=False,
                    feedback="Warmer, please", regenerate=True)  # fmt: skip
    assert run_pipeline(under_review.pk) == "done"
    under_review.refresh_from_db()
    assert task_result(under_review)["style"]["version"] == 2
    assert style_of(under_review)['Banned: "it helps"'] == (False, "Because it helps.", "")
    # The generation before keeps what its review found.
    assert task_result(under_review, 1)["style"]["version"] == 1
