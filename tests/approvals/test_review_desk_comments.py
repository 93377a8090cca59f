"""Comments on the review page: the page carries the script and the hidden comment
form; a comment posted through the page is kept; replies and resolve are forms too;
the comments are listed beside the decision form, open ones first, each with its
quote, author, time and the version it was made on (an older one marked), resolved
ones folded away; what people typed is shown as text, never as markup."""

import re

import pytest
from django.test import Client

from approvals.models import DraftComment
from approvals.services import approval_decide
from approvals.services.comments import comment_add, comment_resolve
from tasks.runner import run_pipeline
from tasks.selectors import task_result
from tasks.services import task_draft_edit

from ..tasks.factories import ContentTaskFactory
from .desk import review_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]
SCRIPT = "contentpipeline/draft_comments.js"


@pytest.fixture
def desk(editor) -> Client:
    client = Client()
    client.force_login(editor)
    return client


@pytest.fixture
def drafted_task(integrator):
    task = ContentTaskFactory(created_by=integrator, topic="Composting at home")
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


def comments_section(page: str) -> str:
    found = re.search(r'<section class="draft-comments" id="comments">(.*?)</section>', page, re.S)
    assert found, "no comments section on the page"
    return found.group(1)


def test_the_page_carries_the_script_and_a_hidden_comment_form_by_the_draft(desk, drafted_task):
    page = desk.get(review_url(drafted_task)).content.decode()
    assert SCRIPT in page
    assert re.search(r"<article[^>]*data-comment-draft", page)
    form = re.search(r'<form method="post" id="comment-form"[^>]*>', page).group(0)
    assert "hidden" in form
    # Nothing inline for the script: it is a file of its own.
    assert "onclick" not in page and "getSelection" not in page


def test_a_comment_posted_through_the_page_is_kept_and_listed(desk, editor, drafted_task):
    response = desk.post(review_url(drafted_task), {
        "step": "comment", "quote": "Because it helps.", "body": "Helps how? Say what it does.",
    })  # fmt: skip
    assert response.status_code == 302 and response.url.endswith("#comments")
    comment = DraftComment.objects.get()
    assert (comment.quote, comment.author, comment.draft_version) == (
        "Because it helps.", editor, 0
    )  # fmt: skip
    section = comments_section(desk.get(review_url(drafted_task)).content.decode())
    assert "Because it helps." in section and "Helps how? Say what it does." in section
    assert editor.username in section and "on version 0" in section


def test_a_quote_not_in_the_draft_shows_the_form_again_with_the_error(desk, drafted_task):
    response = desk.post(review_url(drafted_task), {
        "step": "comment", "quote": "Words nobody wrote", "body": "Hm",
    })  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 200 and "not in the draft" in page
    form = re.search(r'<form method="post" id="comment-form"[^>]*>', page).group(0)
    assert "hidden" not in form and "Words nobody wrote" in page
    assert not DraftComment.objects.exists()


def test_replies_and_resolve_are_forms_of_the_page(desk, editor, drafted_task):
    comment = comment_add(task_id=drafted_task.pk, author=editor, quote="Step by step.",
                          body="Which steps?")  # fmt: skip
    page = desk.get(review_url(drafted_task)).content.decode()
    assert f'name="parent" value="{comment.pk}"' in page
    assert f'name="comment" value="{comment.pk}"' in page
    replied = desk.post(review_url(drafted_task), {"step": "reply", "parent": comment.pk,
                                                   "body": "Number them."})  # fmt: skip
    assert replied.status_code == 302
    reply = DraftComment.objects.get(parent=comment)
    assert reply.body == "Number them." and reply.quote == ""
    resolved = desk.post(review_url(drafted_task), {"step": "resolve", "comment": comment.pk})
    assert resolved.status_code == 302
    comment.refresh_from_db()
    assert comment.resolved and comment.resolved_by == editor


def test_open_comments_come_first_and_resolved_ones_are_folded(desk, editor, drafted_task):
    older = comment_add(task_id=drafted_task.pk, author=editor, quote="Because it helps.",
                        body="First, and resolved")  # fmt: skip
    comment_add(task_id=drafted_task.pk, author=editor, quote="Step by step.", body="Still open")
    comment_resolve(task_id=drafted_task.pk, comment_id=older.pk, user=editor)
    section = comments_section(desk.get(review_url(drafted_task)).content.decode())
    assert section.index("Still open") < section.index("First, and resolved")
    folded = re.search(r'<details class="resolved-comments">(.*?)</details>', section, re.S)
    assert folded and "First, and resolved" in folded.group(1)
    assert "Still open" not in folded.group(1)


def test_a_comment_on_an_older_version_is_marked(desk, editor, drafted_task):
    comment_add(task_id=drafted_task.pk, author=editor, quote="Because it helps.", body="Old")
    body = task_result(drafted_task)["body_markdown"]
    edited = body.replace("Because it helps.", "It feeds the soil.")
    task_draft_edit(task_id=drafted_task.pk, user=editor, body_markdown=edited)
    comment_add(task_id=drafted_task.pk, author=editor, quote="It feeds the soil.", body="New")
    section = comments_section(desk.get(review_url(drafted_task)).content.decode())
    old, new = section.split('id="comment-')[1:3]
    assert "on version 0" in old and "an older version" in old
    assert "on version 1" in new and "an older version" not in new


def test_markup_in_a_quote_and_a_comment_is_shown_as_text(desk, editor, drafted_task):
    body = task_result(drafted_task)["body_markdown"]
    nasty = "<script>alert(1)</script>"
    task_draft_edit(task_id=drafted_task.pk, user=editor,
                    body_markdown=f"{body}\n\nThe tag `{nasty}` is shown as code.")  # fmt: skip
    comment_add(task_id=drafted_task.pk, author=editor, quote=nasty,
                body=f'{nasty}<img src=x onerror="alert(2)">')  # fmt: skip
    section = comments_section(desk.get(review_url(drafted_task)).content.decode())
    assert "<script>" not in section and "<img" not in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in section


def test_a_5001_character_comment_or_a_nul_byte_is_refused_on_the_page(desk, drafted_task):
    for body in ("x" * 5001, "bad\x00byte"):
        response = desk.post(review_url(drafted_task), {
            "step": "comment", "quote": "Because it helps.", "body": body,
        })  # fmt: skip
        assert response.status_code == 200
    assert not DraftComment.objects.exists()


def test_the_owner_who_is_no_editor_cannot_comment_on_the_page(integrator, drafted_task):
    owner = Client()
    owner.force_login(integrator)
    response = owner.post(review_url(drafted_task), {
        "step": "comment", "quote": "Because it helps.", "body": "Mine",
    })  # fmt: skip
    assert response.status_code in (302, 403)
    assert not DraftComment.objects.exists()


def test_a_comment_sent_with_a_request_for_changes_says_so_on_the_next_draft(
    desk, editor, drafted_task
):
    comment_add(task_id=drafted_task.pk, author=editor, quote="Step by step.", body="Which?")
    approval_decide(task_id=drafted_task.pk, reviewer=editor, approved=False, regenerate=True,
                    feedback="Number the steps")  # fmt: skip
    assert run_pipeline(drafted_task.pk) == "done"
    section = comments_section(desk.get(review_url(drafted_task)).content.decode())
    folded = re.search(r'<details class="resolved-comments">(.*?)</details>', section, re.S)
    assert folded and "Which?" in folded.group(1)
    assert "on version 0 of generation 1" in folded.group(1)
    assert "sent to generation 2 with the request for changes" in folded.group(1)
