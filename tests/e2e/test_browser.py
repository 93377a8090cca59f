"""The site in a real browser: headless Chromium, driven by Playwright, against the real
ASGI server, PostgreSQL and Redis. An editor approves a draft at the review desk in
admin; a reader then finds the post with the search box and opens it. Each step leaves
a screenshot under test-artifacts/browser/<test name>/."""

import re
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password

from publishing.models import Post
from tasks.models import Status
from tasks.runner import run_pipeline
from tasks.selectors import task_result

from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory
from .conftest import Chromium, in_browser_thread

PASSWORD = "a-long-test-password"
# A word no other text of the site uses, and one the English stemmer leaves as it is,
# so the highlighted text is the word itself.
WORD = "axolotl"
TIMEOUT_MS = 15_000


def editor_with_password():
    """An editor who can log in through the form: the server hashes with its own
    settings, not with the fast hasher the test process uses."""
    editor = UserFactory(editor=True)
    editor.password = make_password(PASSWORD, hasher=PBKDF2PasswordHasher())
    editor.save(update_fields=["password"])
    return editor


def draft_awaiting_approval():
    task = ContentTaskFactory(
        topic=f"Caring for an {WORD} in a home aquarium",
        keywords=[WORD, "water quality"],
    )
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    assert task.status == Status.AWAITING_APPROVAL
    return task


def watched(page, problems: list[str]):
    """The page, with its script errors and the server's 5xx answers noted in
    `problems` as they happen."""
    page.set_default_timeout(TIMEOUT_MS)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    page.on(
        "response",
        lambda r: r.status >= 500 and problems.append(f"{r.url}: HTTP {r.status}"),
    )
    return page


def log_in(page, username: str, *, shot: Path | None = None) -> None:
    """Log into the admin through its form (a screenshot of it filled in, if asked)."""
    from playwright.sync_api import expect

    page.goto("/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    if shot is not None:
        page.screenshot(path=shot, full_page=True)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))


def editor_approves_and_reader_finds(
    chromium: Chromium, base_url: str, username: str, topic: str, title: str, shots: Path
) -> list[str]:
    """The whole journey in one browser, an editor's context then a reader's. Returns
    the page errors and server errors the browser saw on the way."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    problems: list[str] = []

    def watch(page):
        return watched(page, problems)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium.launch_options())
        try:
            editor = watch(browser.new_context(base_url=base_url).new_page())
            log_in(editor, username, shot=shots / "01-admin-login.png")

            editor.goto("/admin/tasks/contenttask/")
            row = editor.locator("tr", has_text=topic)
            expect(row.locator("td.field-status")).to_have_text("Awaiting Approval")
            editor.screenshot(path=shots / "02-task-list.png", full_page=True)
            row.get_by_role("link", name="Review draft").click()
            expect(editor).to_have_url(re.compile(r"/admin/tasks/contenttask/[0-9a-f-]+/review/$"))
            expect(editor.locator("article h1")).to_have_text(title)
            editor.get_by_label("Approve and publish").check()
            editor.screenshot(path=shots / "03-review-desk.png", full_page=True)
            editor.get_by_role("button", name="Record decision").click()
            expect(editor.locator("ul.messagelist li.success")).to_contain_text(
                f"Published “{title}”"
            )
            editor.screenshot(path=shots / "04-approved.png", full_page=True)

            reader = watch(browser.new_context(base_url=base_url).new_page())
            reader.goto("/")
            expect(reader.locator("article.summary h2 a", has_text=title)).to_be_visible()
            reader.screenshot(path=shots / "05-home.png", full_page=True)
            search_box = reader.locator("header.site").get_by_role("searchbox")
            search_box.fill(WORD)
            search_box.press("Enter")
            expect(reader).to_have_url(re.compile(rf"/search/\?q={WORD}$"))
            result = reader.locator("article.summary", has_text=title)
            marks = result.locator("p.snippet mark")
            expect(marks.first).to_be_visible()
            assert {text.lower() for text in marks.all_inner_texts()} == {WORD}
            reader.screenshot(path=shots / "06-search-results.png", full_page=True)
            result.get_by_role("link", name=title).click()
            expect(reader).to_have_url(re.compile(r"/posts/[\w-]+/$"))
            expect(reader.locator("article h1")).to_have_text(title)
            reader.screenshot(path=shots / "07-post.png", full_page=True)
        finally:
            browser.close()
    return problems


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)  # the first run may install Chromium; later ones take seconds
def test_an_editor_approves_a_draft_and_a_reader_finds_it_highlighted_by_search(
    asgi_server, chromium, screenshots
):
    editor = editor_with_password()
    task = draft_awaiting_approval()
    title = task_result(task)["title"]
    assert WORD in title.lower()

    problems = in_browser_thread(
        editor_approves_and_reader_finds,
        chromium, asgi_server.url, editor.username, task.topic, title, screenshots,
    )  # fmt: skip

    assert problems == [], f"{problems}\n{asgi_server.log()[-3000:]}"
    post = Post.objects.get(task=task)
    assert post.title == title
    assert sorted(path.name for path in screenshots.iterdir()) == [
        "01-admin-login.png", "02-task-list.png", "03-review-desk.png", "04-approved.png",
        "05-home.png", "06-search-results.png", "07-post.png",
    ]  # fmt: skip
