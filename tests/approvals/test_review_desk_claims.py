"""The review desk's claims: every cited sentence beside the source excerpt that should
support it, flagged ones first; approving with unsupported claims needs the checkbox,
one draft at a time (the bulk approval refuses such drafts); the audit trail shows
what was acknowledged."""

import pytest
from django.test import Client
from django.urls import reverse

from approvals.models import ApprovalDecision
from publishing.models import Post

from ..tasks.factories import (
    ACME_SOURCE,
    RIGHT_YEAR,
    WRONG_YEAR,
    drafted_with_sources,
    founded_in_1989,
)
from .desk import bulk_decide, decide_at_desk, review_url

pytestmark = pytest.mark.django_db

CHECKBOX = "Approve despite the unsupported claims listed above"


@pytest.fixture
def desk(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


def claims_section(page: str) -> str:
    start = page.index('<h2 id="claims">')
    return page[start : page.index("</table>", start)]


def test_the_review_page_shows_the_flagged_claim_first_beside_its_source(desk):
    task = drafted_with_sources(
        markdown="It builds warehouse robots [1]. " + WRONG_YEAR, sources=[ACME_SOURCE]
    )
    page = desk.get(review_url(task)).content.decode()
    section = claims_section(page)
    flagged = section.index("Acme Robotics was founded in 1989.")
    assert flagged < section.index("It builds warehouse robots.")  # flagged first
    row = section[section.rindex("<tr", 0, flagged) : section.index("</tr>", flagged)]
    assert 'class="flagged"' in row and "⚠ unsupported" in row
    assert "1989: not in source [1]" in row
    assert "<blockquote>Acme Robotics was founded in 1998 in Leeds.</blockquote>" in row
    assert ('[1] <a href="https://example.com/acme" rel="noopener noreferrer nofollow" '
            'target="_blank">About Acme</a>') in row  # fmt: skip
    assert "1 unsupported" in page and CHECKBOX in page


def test_approving_at_the_desk_without_the_checkbox_shows_the_error_and_decides_nothing(desk):
    task = founded_in_1989()
    response = decide_at_desk(desk, task, decision="approve")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was decided: the draft has 1 unsupported claim" in page
    assert f"Read it under Claims, then tick “{CHECKBOX}” to approve anyway." in page
    task.refresh_from_db()
    assert task.status == "awaiting_approval"
    assert not ApprovalDecision.objects.filter(task=task).exists()


def test_approving_at_the_desk_with_the_checkbox_records_the_claims(desk):
    task = founded_in_1989()
    response = decide_at_desk(desk, task, decision="approve", acknowledge_unsupported="on")
    assert response.status_code == 302
    assert Post.objects.filter(task=task).exists()
    acknowledged = ApprovalDecision.objects.get(task=task).acknowledged_claims
    assert [claim["sentence"] for claim in acknowledged] == ["Acme Robotics was founded in 1989."]


def test_an_editor_fixing_the_year_at_the_desk_needs_no_acknowledgement(desk):
    task = founded_in_1989()
    page = desk.get(review_url(task)).content.decode()
    form = {"step": "edit", "title": task.topic, "excerpt": "What the sources say.",
            "body_markdown": RIGHT_YEAR, "seo_title": task.topic[:60],
            "meta_description": "What the sources say.", "tags": "sources"}  # fmt: skip
    assert desk.post(review_url(task), form).status_code == 302
    page = desk.get(review_url(task)).content.decode()
    assert "Acme Robotics was founded in 1998." in claims_section(page)
    assert "unsupported" not in claims_section(page) and CHECKBOX not in page
    assert decide_at_desk(desk, task, page, decision="approve").status_code == 302
    assert ApprovalDecision.objects.get(task=task).acknowledged_claims == []


def test_a_draft_without_unsupported_claims_has_no_checkbox(desk):
    task = drafted_with_sources(markdown=RIGHT_YEAR, sources=[ACME_SOURCE])
    page = desk.get(review_url(task)).content.decode()
    assert "Acme Robotics was founded in 1998." in claims_section(page)
    assert CHECKBOX not in page


def test_a_claim_and_a_source_carrying_markup_are_shown_escaped(desk):
    hostile = {
        "url": 'https://example.com/?q="><script>alert("url")</script>',
        "title": "<script>alert('title')</script>",
        "text": "Acme Robotics was founded in 1998.",
    }
    claim = {
        "sentence": "<script>alert('claim')</script> Acme was founded in 1989.",
        "source": 1,
        "sources": [1],
        "verdict": "unsupported",
        "excerpt": "<img src=x onerror=alert('excerpt')>",
        "reason": "model: <b>bold</b> claim",
    }
    task = drafted_with_sources(markdown=WRONG_YEAR, sources=[hostile], claims=[claim])
    page = desk.get(review_url(task)).content.decode()
    for raw in ("<script>alert", "<img src=x", "<b>bold</b>", '"><script>'):
        assert raw not in page
    section = claims_section(page)
    assert "&lt;script&gt;alert(&#x27;claim&#x27;)&lt;/script&gt; Acme was founded" in section
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in section
    assert 'href="https://example.com/?q=&quot;&gt;&lt;script&gt;' in section


def test_a_source_url_that_is_not_http_is_not_made_a_link(desk):
    odd = {**ACME_SOURCE, "url": "javascript:alert(1)"}
    task = drafted_with_sources(markdown=WRONG_YEAR, sources=[odd])
    section = claims_section(desk.get(review_url(task)).content.decode())
    assert "javascript:alert(1)" in section and 'href="javascript' not in section


def test_bulk_approval_refuses_each_draft_with_unsupported_claims_with_a_message(desk):
    wrong = founded_in_1989(topic="Bulk: the wrong year")
    right = drafted_with_sources(markdown=RIGHT_YEAR, sources=[ACME_SOURCE],
                                 topic="Bulk: the right year")  # fmt: skip
    page = bulk_decide(desk, "approve_selected", (wrong, right)).content.decode()
    assert "1 task(s) decided" in page
    assert "Bulk: the wrong year: The draft has 1 unsupported claim" in page
    wrong.refresh_from_db()
    right.refresh_from_db()
    assert wrong.status == "awaiting_approval" and right.status == "published"
    assert not ApprovalDecision.objects.filter(task=wrong).exists()


def test_the_audit_trail_shows_the_claims_an_approval_acknowledged(desk):
    task = founded_in_1989()
    decide_at_desk(desk, task, decision="approve", acknowledge_unsupported="on")
    decision = ApprovalDecision.objects.get(task=task)
    listing = desk.get(reverse("admin:approvals_approvaldecision_changelist")).content.decode()
    assert '<td class="field-claims_acknowledged">1</td>' in listing
    detail = desk.get(reverse("admin:approvals_approvaldecision_change", args=[decision.pk]))
    page = detail.content.decode()
    assert "[1] Acme Robotics was founded in 1989. <em>(1989: not in source [1])</em>" in page
    assert "Source: Acme Robotics was founded in 1998 in Leeds." in page
