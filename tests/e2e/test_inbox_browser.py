"""A real browser (headless Chromium) on an admin page: the inbox's unread count in the
header changes when a notification is made for the user, without a reload."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from notifications.models import Kind
from notifications.selectors import notification_unread_count
from notifications.services import notification_send

from .conftest import Chromium, in_browser_thread
from .test_browser import TIMEOUT_MS, editor_with_password, log_in, watched


def tell(user) -> int:
    notification_send(
        recipients=[user], kind=Kind.DRAFT_WAITING, task=None,
        title="Draft waiting for your review: pond dipping", url="http://localhost:8000/admin/",
    )  # fmt: skip
    return notification_unread_count(user=user)


def count_goes_live(chromium: Chromium, base_url: str, user) -> tuple[list[str], str, str]:
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium.launch_options())
        try:
            page = watched(browser.new_context(base_url=base_url).new_page(), problems)
            log_in(page, user.username)
            shown = page.locator("#inbox-unread")
            before = shown.text_content()
            # The page's socket opens on its own time: tell the user again until the
            # count the server sends reaches the page (no reload in between).
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while True:
                # Django refuses queries in the thread of Playwright's event loop.
                with ThreadPoolExecutor(1) as thread:
                    count = thread.submit(tell, user).result()
                try:
                    expect(shown).to_have_text(str(count), timeout=1000)
                    break
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise
            return problems, before, shown.text_content()
        finally:
            browser.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)  # the first run may install Chromium; later ones take seconds
def test_the_unread_count_in_the_admin_header_updates_live(asgi_server, chromium):
    editor = editor_with_password()
    problems, before, after = in_browser_thread(count_goes_live, chromium, asgi_server.url, editor)
    assert problems == [], f"{problems}\n{asgi_server.log()[-3000:]}"
    assert before == "0" and int(after) >= 1
