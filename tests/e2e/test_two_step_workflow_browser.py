"""A two-step approval workflow in a real browser, with real workers: an editor approves
step one; the legal reviewer sees the draft in their inbox with its unread count,
comments on a passage and requests changes; the pipeline's worker writes the next
generation, which answers the comment; both steps approve it and the post goes live.
Screenshots under test-artifacts/browser/<test name>/."""

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.contrib.auth.models import Group
from django.db import connection

from approvals.models import ApprovalDecision, DraftComment, Workflow, WorkflowStep
from notifications.models import Notification
from publishing.models import Post
from tasks.models import ContentTask
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..conftest import start_worker, stop, wait_for_sessions_to_end
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory
from .conftest import Chromium, in_browser_thread
from .test_browser import PASSWORD, TIMEOUT_MS, editor_with_password, log_in, watched

CATEGORY = "Contracts"
COMMENT = "Give concrete examples of this for a small supplier."
CHANGES = "Answer the legal comment before this goes out."


def lawyer_with_password():
    legal = Group.objects.create(name="Legal")
    lawyer = UserFactory(username="lawyer", email="lawyer@example.com")
    lawyer.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    lawyer.save(update_fields=["password"])
    lawyer.groups.add(legal)
    workflow = Workflow.objects.create(name="Editorial and legal", category=CATEGORY)
    editors = Group.objects.get(name="Editors")
    WorkflowStep.objects.create(workflow=workflow, position=1, name="Editorial", group=editors)
    WorkflowStep.objects.create(workflow=workflow, position=2, name="Legal check", group=legal)
    return lawyer


def wait_until(condition, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
        connection.close()  # a fresh read of what the workers committed
    return found


def decide(page, task_id: str, choice: str, feedback: str = "") -> str:
    from playwright.sync_api import expect

    page.goto(f"/admin/tasks/contenttask/{task_id}/review/")
    page.get_by_label(re.compile(choice)).check()
    if feedback:
        page.locator("#id_feedback").fill(feedback)
    page.get_by_role("button", name="Record decision").click()
    message = page.locator("ul.messagelist li.success")
    expect(message).to_be_visible()
    return message.inner_text()


def walk(chromium: Chromium, base_url: str, editor: str, lawyer: str, task_id: str,
         shots: Path, between) -> dict:  # fmt: skip
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    seen: dict = {"problems": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium.launch_options())
        try:
            ed = watched(browser.new_context(base_url=base_url).new_page(), seen["problems"])
            log_in(ed, editor)
            seen["step1"] = decide(ed, task_id, "Approve step 1")
            ed.screenshot(path=shots / "01-editor-approved-step-1.png", full_page=True)

            law = watched(browser.new_context(base_url=base_url).new_page(), seen["problems"])
            log_in(law, lawyer)
            unread = law.locator("#inbox-unread")
            expect(unread).to_have_text("1", timeout=30_000)  # live, over the task socket
            law.screenshot(path=shots / "02-legal-inbox-count.png", full_page=True)
            law.goto("/admin/notifications/notification/")
            waiting = law.get_by_role("link", name=re.compile("Draft waiting for your review"))
            seen["inbox_item"] = waiting.first.inner_text()
            # Its link is the review page at SITE_URL (the server's own address in the
            # deployment; this test's server listens elsewhere): open the page itself.
            law.goto(f"/admin/tasks/contenttask/{task_id}/review/")
            seen["step_shown"] = law.locator("#content-main").inner_text()
            law.evaluate(
                """() => {
                    const article = document.querySelector("article[data-comment-draft]");
                    const text = article.querySelector("p").firstChild;
                    const range = document.createRange();
                    range.setStart(text, 0);
                    // Up to 60 characters, ending at a word's end.
                    let end = Math.min(text.length, 60);
                    const space = text.data.lastIndexOf(" ", end);
                    if (end < text.length && space > 20) end = space;
                    range.setEnd(text, end);
                    const selection = window.getSelection();
                    selection.removeAllRanges();
                    selection.addRange(range);
                    article.dispatchEvent(new KeyboardEvent("keyup", {bubbles: true}));
                }"""
            )
            expect(law.locator("#comment-form")).to_be_visible()
            law.get_by_label("Comment", exact=True).fill(COMMENT)
            law.get_by_role("button", name="Add comment").click()
            expect(law.locator("#comments .comment", has_text=COMMENT)).to_be_visible()
            law.screenshot(path=shots / "03-legal-commented.png", full_page=True)
            seen["changes"] = decide(law, task_id, "Request changes", CHANGES)

            # The pipeline's worker writes generation 2 (waited for in a thread of its
            # own: Django refuses queries in the thread of Playwright's event loop).
            with ThreadPoolExecutor(1) as thread:
                thread.submit(between).result()

            seen["step1_again"] = decide(ed, task_id, "Approve step 1")
            seen["step2"] = decide(law, task_id, "Approve and publish")
            law.screenshot(path=shots / "04-legal-approved-published.png", full_page=True)
            reader = watched(browser.new_context(base_url=base_url).new_page(), seen["problems"])
            reader.goto("/")
            reader.locator("article.summary h2 a").first.click()
            expect(reader).to_have_url(re.compile(r"/posts/[\w-]+/$"))
            seen["post_title"] = reader.locator("article h1").inner_text()
            reader.screenshot(path=shots / "05-post-live.png", full_page=True)
        finally:
            browser.close()
    return seen


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)  # the first run may install Chromium; later ones take seconds
def test_a_two_step_workflow_with_inbox_comment_and_changes_ends_with_the_post_live(
    asgi_server, celery_worker, chromium, screenshots, settings, tmp_path, django_db_blocker
):
    editor, lawyer = editor_with_password(), lawyer_with_password()
    # The deliveries' worker of the queue the server sends to: it makes the inboxes.
    deliveries = start_worker(
        queue=settings.CELERY_TASK_DEFAULT_QUEUE, deliveries=True, log_dir=tmp_path
    )
    try:
        task = ContentTaskFactory(topic="Signing supplier contracts", category=CATEGORY,
                                  generate_image=False)  # fmt: skip
        assert run_pipeline(task.pk) == "done"

        def generation_two_drafted():
            wait_until(lambda: ContentTask.objects.filter(
                pk=task.pk, generation=2, status="awaiting_approval").exists())  # fmt: skip

        seen = in_browser_thread(
            walk, chromium, asgi_server.url, editor.username, lawyer.username, str(task.pk),
            screenshots, generation_two_drafted,
        )  # fmt: skip
    finally:
        stop(deliveries)
        wait_for_sessions_to_end(django_db_blocker, deliveries.session_name)

    assert seen["problems"] == [], f"{seen['problems']}\n{asgi_server.log()[-3000:]}"
    assert "step 2 of 2" in seen["step_shown"].lower() or "Legal check" in seen["step_shown"]
    assert "Signing supplier contracts" in seen["inbox_item"]
    told = Notification.objects.filter(recipient=lawyer, task=task)
    assert told.filter(kind="draft_waiting").count() >= 1
    comment = DraftComment.objects.get(body=COMMENT)
    assert comment.author == lawyer and comment.sent_to_generation == 2
    task.refresh_from_db()
    assert task.status == "published" and task.generation == 2
    checklist = task_result(task)["feedback_checklist"]
    about_comment = [item for item in checklist if COMMENT in item["note"]]
    assert about_comment and about_comment[0]["addressed"] is True
    decisions = ApprovalDecision.objects.filter(task=task).order_by("created_at")
    assert [(d.generation, d.step, d.decision, d.reviewer) for d in decisions] == [
        (1, 1, "approved", editor), (1, 2, "changes_requested", lawyer),
        (2, 1, "approved", editor), (2, 2, "approved", lawyer),
    ]  # fmt: skip
    post = Post.objects.get(task=task)
    assert post.is_live and seen["post_title"] == post.title
