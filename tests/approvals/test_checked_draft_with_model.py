"""The whole of a checked draft with an OpenAI-compatible model (the fake server on
loopback): the model plants a wrong year and a banned word; the review flags both; the
API refuses the approval until it acknowledges the claim, and the decision records
what it acknowledged."""
# The fake server's fixtures are imported from the pipeline's tests: as arguments they
# "redefine" the names.
# ruff: noqa: F811

from approvals.models import ApprovalDecision
from tasks.models import ContentTask
from tasks.runner import run_pipeline
from tasks.services.style import style_guide_update
from tests.fakes import Reply, chat_completion

from ..tasks.factories import ContentTaskFactory
from ..tasks.test_pipeline_with_openai import (  # noqa: F401 - fixtures
    WRONG_YEAR_DRAFT,
    acme_page,
    fake_llm,
    script_pipeline,
)


def test_a_models_wrong_year_and_banned_word_are_flagged_and_acknowledged_on_approval(
    fake_llm,
    acme_page,
    editor,
    editor_client,
):
    style_guide_update(user=editor, banned_phrases="barrels")
    script_pipeline(fake_llm, WRONG_YEAR_DRAFT, Reply(chat_completion('{"unsupported": []}')))
    task = ContentTaskFactory(topic="Acme's rain barrels", sources=[acme_page])
    assert run_pipeline(task.pk) == "done"
    url = f"/api/tasks/{task.pk}"

    result = editor_client.get(url).json()["result"]
    flagged = [claim for claim in result["claims"] if claim["verdict"] == "unsupported"]
    assert [claim["sentence"] for claim in flagged] == ["Acme was founded in 1989."]
    [banned] = [rule for rule in result["style"]["results"] if "barrels" in rule["rule"]]
    assert banned["passed"] is False
    assert banned["sentence"] == "Its barrels hold 200 litres."
    decide = {"approved": True, "expected_content_hash": result["content_hash"]}

    refused = editor_client.post(f"{url}/approval", decide, content_type="application/json")
    assert refused.status_code == 409
    assert [c["sentence"] for c in refused.json()["claims"]] == ["Acme was founded in 1989."]
    assert not ApprovalDecision.objects.filter(task=task).exists()
    assert ContentTask.objects.get(pk=task.pk).status == "awaiting_approval"

    approved = editor_client.post(
        f"{url}/approval", {**decide, "acknowledge_unsupported": True},
        content_type="application/json",
    )  # fmt: skip
    assert approved.status_code == 200, approved.content
    decision = ApprovalDecision.objects.get(task=task)
    assert [c["sentence"] for c in decision.acknowledged_claims] == ["Acme was founded in 1989."]
    assert decision.acknowledged_claims[0]["excerpt"].startswith("Acme was founded in 1998")
    audit = editor_client.get("/api/approvals", {"task": str(task.pk)}).json()["results"]
    assert audit[0]["acknowledged_claims"][0]["sentence"] == "Acme was founded in 1989."
