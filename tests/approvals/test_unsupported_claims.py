"""Approving a draft whose claims its sources do not support needs an explicit
acknowledgement, recorded in the decision: through the service, the API, the audit
trail, the command and the bulk decision (the contract's example: a source says
"founded in 1998", the draft "founded in 1989 [1]")."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from approvals.models import ApprovalDecision
from approvals.services import (
    UnsupportedClaims,
    approval_decide,
    approval_decide_many,
    draft_approve,
)
from publishing.models import Post
from tasks.services import task_draft_edit

from ..tasks.factories import RIGHT_YEAR, drafted_with_sources, founded_in_1989

pytestmark = pytest.mark.django_db

WRONG_CLAIM = {
    "sentence": "Acme Robotics was founded in 1989.",
    "source": 1,
    "sources": [1],
    "verdict": "unsupported",
    "excerpt": "Acme Robotics was founded in 1998 in Leeds.",
    "reason": "1989: not in source [1]",
}


def assert_nothing_decided(task) -> None:
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    assert not ApprovalDecision.objects.filter(task=task).exists()
    assert not Post.objects.filter(task=task).exists()


# --- The service --------------------------------------------------------------------------


def test_approving_unsupported_claims_unacknowledged_is_refused_and_decides_nothing(editor):
    task = founded_in_1989()
    with pytest.raises(UnsupportedClaims) as refused:
        draft_approve(task_id=task.pk, reviewer=editor)
    assert refused.value.status_code == 409
    assert refused.value.extra["claims"] == [WRONG_CLAIM]
    assert "1 unsupported claim " in refused.value.message
    assert "`acknowledge_unsupported`" in refused.value.message
    assert_nothing_decided(task)


def test_an_acknowledged_approval_records_the_claims_it_acknowledged(editor):
    task = founded_in_1989()
    record, post = approval_decide(
        task_id=task.pk, reviewer=editor, approved=True, acknowledge_unsupported=True
    )
    task.refresh_from_db()
    assert task.status == "published" and post.task_id == task.pk
    assert record.acknowledged_claims == [WRONG_CLAIM]
    assert ApprovalDecision.objects.get(task=task).acknowledged_claims == [WRONG_CLAIM]


def test_a_draft_whose_claims_are_all_supported_needs_no_acknowledgement(editor):
    task = drafted_with_sources(markdown=RIGHT_YEAR, sources=[{"url": "https://e.com/a",
                                "title": "A", "text": "Acme Robotics was founded in 1998. "
                                "It builds warehouse robots."}])  # fmt: skip
    record, _ = draft_approve(task_id=task.pk, reviewer=editor)
    assert record.decision == "approved" and record.acknowledged_claims == []


def test_unverifiable_claims_do_not_block_an_approval(editor):
    unread = {"url": "https://e.com/gone", "title": "", "text": "", "ok": False,
              "error": "404 Not Found"}  # fmt: skip
    task = drafted_with_sources(markdown="Acme was founded in 1989 [1].", sources=[unread])
    record, _ = draft_approve(task_id=task.pk, reviewer=editor)
    assert record.acknowledged_claims == []


def test_rejecting_needs_no_acknowledgement(editor):
    task = founded_in_1989()
    record, _ = approval_decide(task_id=task.pk, reviewer=editor, approved=False,
                                feedback="The year is wrong.")  # fmt: skip
    assert record.decision == "rejected" and record.acknowledged_claims == []


def test_an_editor_fixing_the_year_makes_approval_need_no_acknowledgement(editor):
    task = founded_in_1989()
    task_draft_edit(task_id=task.pk, user=editor, body_markdown=RIGHT_YEAR)
    record, _ = draft_approve(task_id=task.pk, reviewer=editor)
    assert record.acknowledged_claims == []
    assert Post.objects.get(task=task).body_markdown == RIGHT_YEAR


def test_an_edit_that_plants_a_wrong_year_needs_the_acknowledgement_again(editor):
    task = drafted_with_sources(markdown=RIGHT_YEAR, sources=[{"url": "https://e.com/a",
                                "title": "A", "text": "Acme Robotics was founded in 1998. "
                                "It builds warehouse robots."}])  # fmt: skip
    task_draft_edit(task_id=task.pk, user=editor,
                    body_markdown=RIGHT_YEAR.replace("1998", "1989"))  # fmt: skip
    with pytest.raises(UnsupportedClaims):
        draft_approve(task_id=task.pk, reviewer=editor)
    assert_nothing_decided(task)


def test_many_approvals_refuse_each_draft_with_unsupported_claims_on_its_own(editor):
    wrong, fixed = founded_in_1989(), founded_in_1989()
    task_draft_edit(task_id=fixed.pk, user=editor, body_markdown=RIGHT_YEAR)
    results = approval_decide_many(task_ids=[wrong.pk, fixed.pk], reviewer=editor, approved=True)
    assert [(r["ok"], r["status"]) for r in results] == [
        (False, "awaiting_approval"),
        (True, "approved"),
    ]
    assert "1 unsupported claim" in results[0]["error"]
    assert_nothing_decided(wrong)
    acknowledged = approval_decide_many(task_ids=[wrong.pk], reviewer=editor, approved=True,
                                        acknowledge_unsupported=True)  # fmt: skip
    assert acknowledged[0]["ok"]
    assert ApprovalDecision.objects.get(task=wrong).acknowledged_claims == [WRONG_CLAIM]


# --- The API ------------------------------------------------------------------------------


def test_the_api_answers_409_with_the_claims_and_decides_nothing(editor_client):
    task = founded_in_1989()
    shown = editor_client.get(f"/api/tasks/{task.pk}").json()["result"]["claims"]
    assert shown[0] == WRONG_CLAIM and shown[1]["verdict"] == "supported"

    response = editor_client.post(f"/api/tasks/{task.pk}/approval", {"approved": True},
                                  format="json")  # fmt: skip
    assert response.status_code == 409
    body = response.json()
    assert body["claims"] == [WRONG_CLAIM]
    assert "acknowledge_unsupported" in body["detail"]
    assert_nothing_decided(task)


def test_the_api_approves_with_the_acknowledgement_and_the_audit_trail_shows_it(editor_client):
    task = founded_in_1989()
    response = editor_client.post(
        f"/api/tasks/{task.pk}/approval",
        {"approved": True, "acknowledge_unsupported": True},
        format="json",
    )
    assert response.status_code == 200 and response.json()["approval_status"] == "approved"
    assert ApprovalDecision.objects.get(task=task).acknowledged_claims == [WRONG_CLAIM]

    listed = editor_client.get("/api/approvals", {"task": str(task.pk)}).json()["results"]
    assert listed[0]["acknowledged_claims"] == [WRONG_CLAIM]

    export = editor_client.get("/api/approvals", {"format": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    cell = rows[1][rows[0].index("acknowledged_claims")]
    assert cell == "[1] Acme Robotics was founded in 1989. (1989: not in source [1])"


def test_the_api_approves_a_fixed_draft_without_acknowledgement(editor_client, editor):
    task = founded_in_1989()
    task_draft_edit(task_id=task.pk, user=editor, body_markdown=RIGHT_YEAR)
    result = editor_client.get(f"/api/tasks/{task.pk}").json()["result"]
    assert {claim["verdict"] for claim in result["claims"]} == {"supported"}
    response = editor_client.post(f"/api/tasks/{task.pk}/approval", {"approved": True},
                                  format="json")  # fmt: skip
    assert response.status_code == 200
    assert editor_client.get("/api/approvals").json()["results"][0]["acknowledged_claims"] == []


def test_the_acknowledgement_must_be_a_boolean(editor_client):
    task = founded_in_1989()
    response = editor_client.post(
        f"/api/tasks/{task.pk}/approval",
        {"approved": True, "acknowledge_unsupported": "perhaps"},
        format="json",
    )
    assert response.status_code == 400 and "acknowledge_unsupported" in response.json()
    assert_nothing_decided(task)


# --- The command --------------------------------------------------------------------------


def test_the_command_refuses_unacknowledged_claims_and_names_its_flag(editor):
    task = founded_in_1989()
    with pytest.raises(CommandError) as refused:
        call_command("approval_decide", str(task.pk), "--approve", "--as", editor.username)
    message = str(refused.value)
    assert "--acknowledge-unsupported" in message
    assert "[1] Acme Robotics was founded in 1989. (1989: not in source [1])" in message
    assert_nothing_decided(task)


def test_the_command_approves_with_its_acknowledgement_flag(editor):
    task = founded_in_1989()
    out = io.StringIO()
    call_command("approval_decide", str(task.pk), "--approve", "--acknowledge-unsupported",
                 "--as", editor.username, stdout=out)  # fmt: skip
    assert f"approved: task {task.pk}" in out.getvalue()
    assert ApprovalDecision.objects.get(task=task).acknowledged_claims == [WRONG_CLAIM]
