"""An editor's edit runs the draft's checks again on save (tasks.services.drafts), and
the task's result shows the claims of the text as it stands (tasks.selectors)."""

import pytest

from tasks.models import Draft
from tasks.selectors import task_result
from tasks.services import task_draft_edit, task_reopen
from tasks.services.decisions import task_approve

from .factories import ACME_SOURCE as ACME
from .factories import RIGHT_YEAR, WRONG_YEAR, drafted_with_sources, founded_in_1989

pytestmark = pytest.mark.django_db


def verdicts(task) -> list[tuple[str, str]]:
    return [(claim["sentence"], claim["verdict"]) for claim in task_result(task)["claims"]]


def test_the_result_shows_the_claims_the_review_found(editor):
    task = founded_in_1989()
    assert verdicts(task) == [
        ("Acme Robotics was founded in 1989.", "unsupported"),
        ("It builds warehouse robots.", "supported"),
    ]
    claim = task_result(task)["claims"][0]
    assert claim["source"] == 1 and claim["reason"] == "1989: not in source [1]"
    assert claim["excerpt"] == "Acme Robotics was founded in 1998 in Leeds."


def test_a_draft_whose_review_checked_no_claims_has_none(editor):
    task = drafted_with_sources(markdown="No citations here.", sources=[ACME], claims=[])
    assert task_result(task)["claims"] == []


def test_fixing_the_year_in_an_edit_makes_the_claim_supported(editor):
    task = founded_in_1989()
    task_draft_edit(task_id=task.pk, user=editor, body_markdown=RIGHT_YEAR)
    task.refresh_from_db()
    assert verdicts(task) == [
        ("Acme Robotics was founded in 1998.", "supported"),
        ("It builds warehouse robots.", "supported"),
    ]
    draft = Draft.objects.get(task=task)
    assert draft.checks["claims"] == task_result(task)["claims"]


def test_an_edit_that_plants_a_wrong_year_is_flagged_on_save(editor):
    task = drafted_with_sources(markdown=RIGHT_YEAR, sources=[ACME])
    assert "unsupported" not in dict(verdicts(task)).values()
    task_draft_edit(task_id=task.pk, user=editor, body_markdown=WRONG_YEAR)
    assert ("Acme Robotics was founded in 1989.", "unsupported") in verdicts(task)


def test_an_edit_that_leaves_the_body_alone_checks_it_again_all_the_same(editor):
    task = founded_in_1989()
    task_draft_edit(task_id=task.pk, user=editor, title="A better title")
    assert Draft.objects.get(task=task).checks["claims"][0]["verdict"] == "unsupported"


def model_judged(markdown: str) -> list[dict]:
    """The review's claims as a model's judgement leaves them: the second sentence,
    which the deterministic check passes, found unsupported by the model."""
    from tasks.pipeline.claims import check_claims, with_judgement

    claims = check_claims(markdown, [{**ACME, "n": 1, "ok": True}])
    return with_judgement(claims, {1: "the source says they build them, not for whom"})


def test_a_sentence_a_model_found_unsupported_stays_so_while_it_is_still_there(editor):
    task = drafted_with_sources(
        markdown=RIGHT_YEAR, sources=[ACME], claims=model_judged(RIGHT_YEAR)
    )
    assert verdicts(task)[1] == ("It builds warehouse robots.", "unsupported")
    task_draft_edit(task_id=task.pk, user=editor, body_markdown=RIGHT_YEAR + "\n\nMore.")
    claim = task_result(task)["claims"][1]
    assert claim["verdict"] == "unsupported"
    assert claim["reason"] == "model: the source says they build them, not for whom"


def test_a_sentence_a_model_found_unsupported_is_checked_afresh_once_rewritten(editor):
    task = drafted_with_sources(
        markdown=RIGHT_YEAR, sources=[ACME], claims=model_judged(RIGHT_YEAR)
    )
    rewritten = "Acme Robotics was founded in 1998 [1]. It builds robots for warehouses [1]."
    task_draft_edit(task_id=task.pk, user=editor, body_markdown=rewritten)
    assert verdicts(task)[1] == ("It builds robots for warehouses.", "supported")


def test_approval_reopened_by_a_changed_text_checks_that_text(editor):
    task = drafted_with_sources(markdown=RIGHT_YEAR, sources=[ACME])
    task_approve(task_id=task.pk, user=editor, published=False)
    content = {**{k: task_result(task)[k] for k in ("title", "excerpt", "seo_title",
               "meta_description", "tags")}, "body_markdown": WRONG_YEAR}  # fmt: skip
    task_reopen(task_id=task.pk, user=editor, content=content)
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    assert ("Acme Robotics was founded in 1989.", "unsupported") in verdicts(task)
