"""A checked draft at the review desk, in a real browser: an offline task drafted from
three source pages, changes requested once, written again against a style guide. The
editor sees every claim with its source's words, the feedback checklist and each
rule's result; plants a wrong year by editing the draft and sees it flagged beside the
source's sentence; is refused an approval without acknowledging it, and approves with
the box ticked. A reader then finds the post with its Sources list and provenance.
Screenshots under test-artifacts/browser/<test name>/."""

import re
from pathlib import Path

import pytest

from approvals.models import ApprovalDecision
from approvals.services import approval_decide
from publishing.models import Post
from tasks.models import Status
from tasks.runner import run_pipeline
from tasks.selectors import task_result
from tasks.services.style import style_guide_update

from ..tasks.factories import ContentTaskFactory
from ..tasks.pipeline.providers.source_pages import PageServer
from .conftest import Chromium, in_browser_thread
from .test_browser import TIMEOUT_MS, editor_with_password, log_in, watched

NOTE = "Give concrete examples from the water board's programme."
# A word the extractive draft takes from the pages (the second page's first sentence).
BANNED = "programme"
TRUE_FACT = "started its rain barrel programme in 1998"
PLANTED = "started its rain barrel programme in 1989"


def checked_draft(editor, urls: list[str]):
    """A second-generation draft awaiting approval: drafted from the pages, sent back
    with NOTE, written again with a style guide that bans BANNED."""
    task = ContentTaskFactory(
        topic="Rain barrels for city gardens", keywords=["rain barrel"], target_length=600,
        sources=urls, generate_image=False,
    )  # fmt: skip
    assert run_pipeline(task.pk) == "done"
    approval_decide(task_id=task.pk, reviewer=editor, approved=False, regenerate=True,
                    feedback=NOTE)  # fmt: skip
    style_guide_update(user=editor, banned_phrases=BANNED, no_exclamation_marks=True)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.status == Status.AWAITING_APPROVAL and task.generation == 2
    return task


def review_in_browser(chromium: Chromium, base_url: str, username: str, task_id: str,
                      shots: Path) -> dict:  # fmt: skip
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    seen: dict = {"problems": []}

    def watch(page):
        return watched(page, seen["problems"])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium.launch_options())
        try:
            editor = watch(browser.new_context(base_url=base_url).new_page())
            log_in(editor, username)

            editor.goto(f"/admin/tasks/contenttask/{task_id}/review/")
            claims = editor.locator("table.claims tbody tr")
            expect(claims.first).to_be_visible()
            seen["claims_shown"] = claims.count()
            seen["flagged_before"] = editor.locator("table.claims tr.flagged").count()
            ledger = editor.locator("table.feedback-ledger tr", has_text=NOTE)
            expect(ledger).to_be_visible()
            seen["ledger_row"] = ledger.inner_text()
            banned = editor.locator("table.style-results tr", has_text=BANNED)
            expect(banned).to_be_visible()
            seen["banned_row"] = banned.inner_text()
            seen["acknowledge_before"] = editor.get_by_label(
                "Approve despite the unsupported claims listed above"
            ).count()
            editor.screenshot(path=shots / "01-review-desk.png", full_page=True)

            body = editor.get_by_label("Body (Markdown)")
            body.fill(body.input_value().replace(TRUE_FACT, PLANTED))
            editor.get_by_role("button", name="Save as a new version").click()
            flagged = editor.locator("table.claims tr.flagged", has_text="1989")
            expect(flagged).to_be_visible()
            seen["flagged_row"] = flagged.inner_text()
            editor.screenshot(path=shots / "02-planted-year-flagged.png", full_page=True)

            editor.get_by_label("Approve and publish").check()
            editor.get_by_role("button", name="Record decision").click()
            expect(editor.locator("ul.messagelist li.error")).to_contain_text("unsupported")
            seen["refusal"] = editor.locator("ul.messagelist li.error").inner_text()
            editor.screenshot(path=shots / "03-refused-without-acknowledging.png", full_page=True)

            editor.get_by_label("Approve and publish").check()
            editor.get_by_label("Approve despite the unsupported claims listed above").check()
            editor.get_by_role("button", name="Record decision").click()
            expect(editor.locator("ul.messagelist li.success")).to_contain_text("Published")
            editor.screenshot(path=shots / "04-approved-acknowledged.png", full_page=True)

            reader = watch(browser.new_context(base_url=base_url).new_page())
            reader.goto("/")
            reader.locator("article.summary h2 a").first.click()
            expect(reader).to_have_url(re.compile(r"/posts/[\w-]+/$"))
            expect(reader.locator("#source-2")).to_be_visible()
            seen["sources_listed"] = reader.locator("[id^=source-]").count()
            seen["cite_links"] = reader.locator("a[href^='#source-']").count()
            seen["disclosure"] = reader.locator("meta[name=ai-disclosure]").get_attribute("content")
            reader.screenshot(path=shots / "05-post-with-sources.png", full_page=True)
        finally:
            browser.close()
    return seen


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)  # the first run may install Chromium; later ones take seconds
def test_an_editor_sees_the_checks_flags_a_planted_year_and_must_acknowledge_it(
    asgi_server, chromium, screenshots, settings, queue_without_worker
):
    settings.SOURCES_ALLOW_PRIVATE = True  # the pages are on loopback
    editor = editor_with_password()
    with PageServer() as pages:
        task = checked_draft(editor, [pages.url(p) for p in ("/barrels", "/history", "/care")])
    result = task_result(task)
    assert TRUE_FACT in result["body_markdown"]
    assert {claim["verdict"] for claim in result["claims"]} == {"supported"}

    seen = in_browser_thread(
        review_in_browser, chromium, asgi_server.url, editor.username, str(task.pk), screenshots
    )

    assert seen["problems"] == [], f"{seen['problems']}\n{asgi_server.log()[-3000:]}"
    # Every claim shown, none flagged before the edit; the note and the rule checked.
    assert seen["claims_shown"] == len(result["claims"]) and seen["flagged_before"] == 0
    assert seen["acknowledge_before"] == 0
    assert "addressed" in seen["ledger_row"]
    # The rule failed, with the offending sentence beside it (which holds the word too).
    assert "fail" in seen["banned_row"] and seen["banned_row"].count(BANNED) >= 2
    # The planted year flagged beside the sentence of the source that says otherwise.
    assert "1989" in seen["flagged_row"] and TRUE_FACT in seen["flagged_row"]
    assert "acknowledge" in seen["refusal"].lower() or "Approve despite" in seen["refusal"]
    decision = ApprovalDecision.objects.get(task=task, decision="approved")
    assert [claim["sentence"] for claim in decision.acknowledged_claims] == [
        claim["sentence"] for claim in task_result(task)["claims"] if "1989" in claim["sentence"]
    ]
    post = Post.objects.get(task=task)
    assert seen["sources_listed"] == len(post.sources) == 3
    assert seen["cite_links"] >= len(result["claims"])
    assert seen["disclosure"]
