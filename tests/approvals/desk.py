"""The review desk's forms as a browser sends them: what a page shows is read from the
page itself (the hidden content hash of the text it showed), then posted back."""

import re

from django.test import Client
from django.urls import reverse

CHANGELIST = "admin:tasks_contenttask_changelist"


def review_url(task) -> str:
    return reverse("admin:tasks_contenttask_review", args=[task.pk])


def hash_on_review_page(page: str) -> str:
    """The decision form's hidden `expected_content_hash`: the text the page showed."""
    found = re.search(r'<input type="hidden" name="expected_content_hash" value="([^"]*)"', page)
    assert found, "no expected_content_hash in the decision form"
    return found.group(1)


def decide_at_desk(client: Client, task, page: str | None = None, **fields):
    """Post the decision form of the task's review page (`page`, as read earlier, or
    read now), with what the page carries."""
    if page is None:
        page = client.get(review_url(task)).content.decode()
    form = {"step": "decide", "expected_content_hash": hash_on_review_page(page), **fields}
    return client.post(review_url(task), form)


def shown_in_list(page: str) -> list[str]:
    """The `<task id>:<content hash>` each row awaiting approval carries."""
    return re.findall(r'<input type="hidden" name="content_hash_shown" value="([^"]*)"', page)


def bulk_decide(client: Client, action: str, tasks, page: str | None = None, **fields):
    """Choose `action` for the tasks in the task list (`page`, as read earlier, or read
    now) and send it, as the list's form does."""
    if page is None:
        page = client.get(reverse(CHANGELIST)).content.decode()
    form = {
        "action": action,
        "_selected_action": [str(task.pk) for task in tasks],
        "content_hash_shown": shown_in_list(page),
        **fields,
    }
    return client.post(reverse(CHANGELIST), form, follow=True)
