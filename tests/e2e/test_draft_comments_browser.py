"""Comments on a passage of the draft, in a real browser: the editor selects a sentence
of the draft with the mouse, the comment form appears with the passage quoted, and the
comment is listed beside the decision form; another selection, made by a script as a
keyboard or touch selection would be, quotes across a heading; the editor replies to
the first and resolves it, and it folds away with its reply. Screenshots under
test-artifacts/browser/<test name>/."""

from pathlib import Path

import pytest

from approvals.models import DraftComment
from tasks.runner import run_pipeline

from ..tasks.factories import ContentTaskFactory
from .conftest import Chromium, in_browser_thread
from .test_browser import TIMEOUT_MS, editor_with_password, log_in, watched

# Sentences of the quick writer's draft (tests/fakes.py QuickWriter).
SENTENCE = "Because it helps."
COMMENT = "Helps how? Say what the compost does to the soil."
REPLY = "Agreed: name the nutrients."


def comment_in_browser(chromium: Chromium, base_url: str, username: str, task_id: str,
                       shots: Path) -> dict:  # fmt: skip
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    seen: dict = {"problems": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium.launch_options())
        try:
            editor = watched(browser.new_context(base_url=base_url).new_page(), seen["problems"])
            log_in(editor, username)
            editor.goto(f"/admin/tasks/contenttask/{task_id}/review/")
            form = editor.locator("#comment-form")
            seen["form_hidden_at_first"] = form.is_hidden()

            # Drag the mouse across the sentence, as a reader selects it.
            sentence = editor.locator("article[data-comment-draft] p", has_text=SENTENCE)
            sentence.scroll_into_view_if_needed()
            box = sentence.bounding_box()
            editor.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2)
            editor.mouse.down()
            editor.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] / 2, steps=8)
            editor.mouse.up()
            expect(form).to_be_visible()
            seen["quoted"] = editor.get_by_label("Passage").input_value()
            editor.screenshot(path=shots / "01-passage-selected.png", full_page=True)
            editor.get_by_label("Comment", exact=True).fill(COMMENT)
            editor.get_by_role("button", name="Add comment").click()
            listed = editor.locator("#comments .comment", has_text=COMMENT)
            expect(listed).to_be_visible()
            seen["listed"] = listed.inner_text()
            seen["beside_decision"] = editor.locator(".review-columns #comments").count()
            editor.screenshot(path=shots / "02-comment-listed.png", full_page=True)

            # A selection from the end of the first paragraph over the next heading.
            editor.evaluate(
                """() => {
                    const article = document.querySelector("article[data-comment-draft]");
                    const [first] = article.querySelectorAll("p");
                    const heading = article.querySelector("h2");
                    const range = document.createRange();
                    range.setStart(first.firstChild, first.firstChild.length - 13);
                    range.setEnd(heading.firstChild, heading.firstChild.length);
                    const selection = window.getSelection();
                    selection.removeAllRanges();
                    selection.addRange(range);
                    article.dispatchEvent(new KeyboardEvent("keyup", {bubbles: true}));
                }"""
            )
            seen["quoted_across"] = editor.get_by_label("Passage").input_value()
            editor.get_by_label("Comment", exact=True).fill("Heading comes too soon")
            editor.get_by_role("button", name="Add comment").click()
            expect(editor.locator("#comments .comment", has_text="too soon")).to_be_visible()

            listed.get_by_label("Reply").fill(REPLY)
            listed.get_by_role("button", name="Reply").click()
            expect(editor.locator("#comments .comment", has_text=REPLY)).to_be_visible()
            editor.locator("#comments .comment", has_text=COMMENT).get_by_role(
                "button", name="Resolve"
            ).click()
            folded = editor.locator("details.resolved-comments")
            expect(folded.locator("summary")).to_have_text("1 resolved comment")
            seen["folded_open"] = folded.get_attribute("open")
            folded.locator("summary").click()
            seen["resolved"] = folded.inner_text()
            editor.screenshot(path=shots / "03-resolved-with-reply.png", full_page=True)
        finally:
            browser.close()
    return seen


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)  # the first run may install Chromium; later ones take seconds
def test_an_editor_selects_a_passage_comments_replies_and_resolves(
    asgi_server, chromium, screenshots, quick_writer, queue_without_worker
):
    editor = editor_with_password()
    task = ContentTaskFactory(topic="Composting at home", generate_image=False)
    assert run_pipeline(task.pk) == "done"

    seen = in_browser_thread(
        comment_in_browser, chromium, asgi_server.url, editor.username, str(task.pk), screenshots
    )

    assert seen["problems"] == [], f"{seen['problems']}\n{asgi_server.log()[-3000:]}"
    assert seen["form_hidden_at_first"] is True
    assert seen["quoted"] == SENTENCE
    assert SENTENCE in seen["listed"] and "on version 0" in seen["listed"]
    assert editor.username in seen["listed"] and seen["beside_decision"] == 1
    assert seen["quoted_across"] == "soil health. Why"
    assert seen["folded_open"] is None  # folded until opened
    assert COMMENT in seen["resolved"] and REPLY in seen["resolved"]
    first = DraftComment.objects.get(body=COMMENT)
    assert (first.quote, first.resolved, first.resolved_by) == (SENTENCE, True, editor)
    assert DraftComment.objects.get(parent=first).body == REPLY
    across = DraftComment.objects.get(body="Heading comes too soon")
    assert across.quote == "soil health. Why" and not across.resolved
