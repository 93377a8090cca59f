"""The review page shows the feedback ledger, whether the draft addresses each note,
and the style guide's rules on the draft (pass or fail, the offending sentence)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from approvals.services import approval_decide
from tasks.runner import run_pipeline
from tasks.services.style import style_guide_update

from ..tasks.factories import ContentTaskFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


@pytest.fixture
def desk(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


def rows(page: str, table_class: str) -> list[list[str]]:
    """The cells of each body row of the table of that class, as text."""
    table = re.search(rf'<table class="{table_class}">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert table, f"no {table_class} table on the page"
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    ]


def test_the_review_page_shows_every_note_and_whether_this_draft_addresses_it(desk, editor):
    # The quick writer's draft is about the topic and its keywords, and nothing else.
    task = ContentTaskFactory(topic="Composting at home", keywords=["compost"])
    assert run_pipeline(task.pk) == "done"
    for note in ("Say more about composting at home", "Mention worm bins"):
        approval_decide(task_id=task.pk, reviewer=editor, approved=False, feedback=note,
                        regenerate=True)  # fmt: skip
        assert run_pipeline(task.pk) == "done"
    page = desk.get(reverse("admin:tasks_contenttask_review", args=[task.pk])).content.decode()
    ledger = rows(page, "feedback-ledger")
    assert [(row[0], row[1], row[2], row[4]) for row in ledger] == [
        ("1", "Say more about composting at home", editor.username, "addressed"),
        ("2", "Mention worm bins", editor.username, "not addressed"),
    ]


def test_the_review_page_shows_each_rule_of_the_guide_with_the_offending_sentence(desk, editor):
    style_guide_update(user=editor, banned_phrases="it helps\nsynergy",
                       model_rules="Keep a warm tone")  # fmt: skip
    task = ContentTaskFactory(topic="Composting at home")
    assert run_pipeline(task.pk) == "done"
    page = desk.get(reverse("admin:tasks_contenttask_review", args=[task.pk])).content.decode()
    assert "Style guide, version 1" in page
    assert rows(page, "style-results") == [
        ["Banned: &quot;it helps&quot;", "code", "fail", "Because it helps."],
        ["Banned: &quot;synergy&quot;", "code", "pass", "-"],
        ["Keep a warm tone", "model", "not judged: no verdict", "-"],
    ]
