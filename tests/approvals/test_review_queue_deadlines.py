"""The review queue (the admin's task list) by deadline: what waits for review comes
first, the soonest due first and those without a deadline after them, and a draft past
its deadline is marked overdue."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tasks.models import Status

from ..tasks.factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


def queue_page(editor) -> str:
    client = Client()
    client.force_login(editor)
    response = client.get("/admin/tasks/contenttask/")
    assert response.status_code == 200
    return response.content.decode()


def rows(page: str) -> list[str]:
    return re.findall(r"<tr>.*?</tr>", page, flags=re.S)


def task(topic: str, hours: float | None, status=Status.AWAITING_APPROVAL):
    due = None if hours is None else timezone.now() + timedelta(hours=hours)
    return ContentTaskFactory(topic=topic, due_at=due, status=status)


def test_the_queue_sorts_waiting_tasks_by_deadline_with_those_without_one_after(editor):
    # Made in an order that the newest first would not put right.
    task("Overdue draft", -2)
    task("Published long ago", -100, status=Status.PUBLISHED)
    task("No deadline draft", None)
    task("Due in two days", 48)
    task("Plan due in an hour", 1, status=Status.AWAITING_PLAN)
    topics = (
        "Published long ago|No deadline draft|Due in two days|Plan due in an hour|Overdue draft"
    )
    order = [found.group(0) for row in rows(queue_page(editor))
             if (found := re.search(topics, row))]  # fmt: skip
    assert order == [
        "Overdue draft", "Plan due in an hour", "Due in two days", "No deadline draft",
        "Published long ago",
    ]  # fmt: skip


def test_a_draft_past_its_deadline_is_marked_overdue_and_others_are_not(editor):
    task("Overdue draft", -2)
    task("Due tomorrow", 24)
    task("Published past its deadline", -2, status=Status.PUBLISHED)
    by_topic = {}
    for row in rows(queue_page(editor)):
        for topic in ("Overdue draft", "Due tomorrow", "Published past its deadline"):
            if topic in row:
                by_topic[topic] = row
    assert 'class="overdue"' in by_topic["Overdue draft"]
    assert "(overdue)" in by_topic["Overdue draft"]
    assert "overdue" not in by_topic["Due tomorrow"] and 'class="due"' in by_topic["Due tomorrow"]
    assert "overdue" not in by_topic["Published past its deadline"]


def test_the_queue_has_a_due_column(editor):
    task("Due tomorrow", 24)
    assert re.search(r'<th scope="col" class="[^"]*column-due', queue_page(editor))


def test_the_review_page_shows_the_deadline_and_whether_it_has_passed(editor):
    overdue, due = task("Overdue draft", -2), task("Due tomorrow", 24)
    client = Client()
    client.force_login(editor)
    page = client.get(f"/admin/tasks/contenttask/{overdue.pk}/review/").content.decode()
    assert re.search(r'<span class="overdue">[^<]*\(overdue\)</span>', page)
    page = client.get(f"/admin/tasks/contenttask/{due.pk}/review/").content.decode()
    assert f'<span class="due">{timezone.localtime(due.due_at):%Y-%m-%d %H:%M}' in page
    assert "overdue" not in page
