"""Comments on a passage of a draft, over the API: editors add them (and replies) and
resolve them, the task's owner reads them, nobody else learns of them; a quote must be
in the draft's text as it stands; bad input is refused with nothing written."""

import html
import re

import pytest

from approvals.models import DraftComment
from approvals.services.comments import comment_add
from tasks.runner import run_pipeline
from tasks.selectors import task_result
from tasks.services import task_draft_edit

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


@pytest.fixture
def drafted_task(integrator):
    task = ContentTaskFactory(created_by=integrator)
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    return task


def passage(task, words: int = 8, paragraph: int = 0) -> str:
    """Some words of a paragraph of the draft, as a reader selects them on the page."""
    paragraphs = re.findall(r"<p>(.*?)</p>", task_result(task)["body_html"], re.S)
    text = html.unescape(re.sub(r"<[^>]+>", "", paragraphs[paragraph]))
    return " ".join(text.split()[:words])


def url(task, *rest) -> str:
    return "/".join([f"/api/tasks/{task.pk}/comments", *map(str, rest)])


def test_an_editor_comments_on_a_passage_and_the_owner_reads_it(
    editor_client, editor, integrator_client, drafted_task
):
    quote = passage(drafted_task)
    response = editor_client.post(url(drafted_task), {"quote": quote, "body": "Too vague."},
                                  format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    made = response.json()
    assert {k: made[k] for k in ("quote", "body", "author", "parent", "resolved",
                                 "draft_version")} == {
        "quote": quote, "body": "Too vague.", "author": editor.username, "parent": None,
        "resolved": False, "draft_version": 0,
    }  # fmt: skip
    listed = integrator_client.get(url(drafted_task)).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == made["id"]
    assert set(listed) == {"count", "next", "previous", "results"}


def test_a_reply_answers_a_comment_and_has_no_quote(editor_client, drafted_task):
    data = {"quote": passage(drafted_task), "body": "Cite this?"}
    first = editor_client.post(url(drafted_task), data, format="json").json()
    answer = {"parent": first["id"], "body": "Source 2 has it."}
    reply = editor_client.post(url(drafted_task), answer, format="json")
    assert reply.status_code == 201, reply.content
    assert reply.json()["parent"] == first["id"] and reply.json()["quote"] == ""
    quoted = editor_client.post(
        url(drafted_task), {"parent": first["id"], "body": "x", "quote": passage(drafted_task)},
        format="json",
    )  # fmt: skip
    deeper = editor_client.post(url(drafted_task), {"parent": reply.json()["id"], "body": "x"},
                                format="json")  # fmt: skip
    assert quoted.status_code == 400 and deeper.status_code == 400
    assert DraftComment.objects.count() == 2
    listed = editor_client.get(url(drafted_task)).json()["results"]
    assert [c["parent"] for c in listed] == [None, first["id"]]


def test_an_editor_resolves_a_comment_once(editor_client, drafted_task):
    made = editor_client.post(url(drafted_task), {"quote": passage(drafted_task),
                                                  "body": "Fix"}, format="json").json()  # fmt: skip
    resolved = editor_client.post(url(drafted_task, made["id"], "resolve"))
    assert resolved.status_code == 200 and resolved.json()["resolved"] is True
    again = editor_client.post(url(drafted_task, made["id"], "resolve"))
    assert again.status_code == 409
    comment = DraftComment.objects.get()
    assert comment.resolved and comment.resolved_at is not None


def test_the_owner_reads_but_neither_comments_nor_resolves(editor, integrator_client, drafted_task):
    made = comment_add(task_id=drafted_task.pk, author=editor, quote=passage(drafted_task),
                       body="Fix")  # fmt: skip
    posted = integrator_client.post(url(drafted_task), {"quote": passage(drafted_task),
                                                        "body": "Mine"}, format="json")  # fmt: skip
    resolved = integrator_client.post(url(drafted_task, made.pk, "resolve"))
    assert posted.status_code == 403 and resolved.status_code == 403
    assert DraftComment.objects.count() == 1 and not DraftComment.objects.get().resolved


def test_another_integrator_gets_404_and_anonymous_401(editor, anon_client, drafted_task):
    made = comment_add(task_id=drafted_task.pk, author=editor, quote=passage(drafted_task),
                       body="Fix")  # fmt: skip
    stranger = client_for(UserFactory())
    assert stranger.get(url(drafted_task)).status_code == 404
    assert stranger.post(url(drafted_task), {"quote": passage(drafted_task), "body": "x"},
                         format="json").status_code == 404  # fmt: skip
    assert stranger.post(url(drafted_task, made.pk, "resolve")).status_code == 404
    assert anon_client.get(url(drafted_task)).status_code == 401
    assert anon_client.post(url(drafted_task), {"body": "x"}, format="json").status_code == 401
    assert anon_client.post(url(drafted_task, made.pk, "resolve")).status_code == 401
    assert DraftComment.objects.count() == 1 and not DraftComment.objects.get().resolved


def test_a_quote_not_in_the_draft_is_400_and_writes_nothing(editor_client, drafted_task):
    response = editor_client.post(
        url(drafted_task), {"quote": "words the draft never says", "body": "Hm"}, format="json"
    )
    assert response.status_code == 400
    assert "not in the draft" in response.json()["detail"]
    assert not DraftComment.objects.exists()


def test_a_quote_across_paragraphs_matches_as_the_page_selects_it(editor_client, drafted_task):
    # A browser's selection over block boundaries reads "...end.\n\nHeading\n\nStart...".
    blocks = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", inner)).split())
        for _, inner in re.findall(r"<(p|h2)>(.*?)</\1>", task_result(drafted_task)["body_html"])
    ]
    quote = "\n\n".join([" ".join(blocks[0].split()[-3:]), blocks[1], blocks[2].split()[0]])
    response = editor_client.post(url(drafted_task), {"quote": quote, "body": "Joins badly"},
                                  format="json")  # fmt: skip
    assert response.status_code == 201, response.content
    assert DraftComment.objects.get().quote == quote


def test_a_comment_is_kept_with_the_version_it_was_made_on(editor, editor_client, drafted_task):
    quote = passage(drafted_task)
    before = comment_add(task_id=drafted_task.pk, author=editor, quote=quote, body="On v0")
    body = task_result(drafted_task)["body_markdown"]
    edited = body.replace(quote, "An editor's new opening words.")
    task_draft_edit(task_id=drafted_task.pk, user=editor, body_markdown=edited)
    gone = editor_client.post(url(drafted_task), {"quote": quote, "body": "On v1"}, format="json")
    assert gone.status_code == 400  # the passage is not in the text any more
    after = editor_client.post(
        url(drafted_task), {"quote": "An editor's new opening words.", "body": "Better"},
        format="json",
    )  # fmt: skip
    assert after.status_code == 201, after.content
    assert (before.draft_version, after.json()["draft_version"]) == (0, 1)


@pytest.mark.parametrize(
    ("field", "value"),
    [("body", "x" * 5001), ("body", "   "), ("body", "bad\x00byte"), ("quote", "bad\x00byte"),
     ("quote", "y" * 1001)],
)  # fmt: skip
def test_bad_input_is_400_and_writes_nothing(editor_client, drafted_task, field, value):
    data = {"quote": passage(drafted_task), "body": "Fine", field: value}
    response = editor_client.post(url(drafted_task), data, format="json")
    assert response.status_code == 400, response.content
    assert not DraftComment.objects.exists()


def test_a_5000_character_comment_is_accepted(editor_client, drafted_task):
    data = {"quote": passage(drafted_task), "body": "x" * 5000}
    assert editor_client.post(url(drafted_task), data, format="json").status_code == 201


def test_an_unknown_comment_cannot_be_resolved_or_replied_to(editor, editor_client, drafted_task):
    other = ContentTaskFactory(created_by=drafted_task.created_by)
    assert run_pipeline(other.pk) == "done"
    elsewhere = comment_add(task_id=other.pk, author=editor, quote=passage(other), body="x")
    assert editor_client.post(url(drafted_task, elsewhere.pk, "resolve")).status_code == 404
    reply = editor_client.post(url(drafted_task), {"parent": elsewhere.pk, "body": "x"},
                               format="json")  # fmt: skip
    assert reply.status_code == 404
    assert editor_client.post(url(drafted_task, 99999999, "resolve")).status_code == 404


def test_a_task_without_a_draft_takes_no_comment(editor_client, integrator):
    task = ContentTaskFactory(created_by=integrator)
    response = editor_client.post(url(task), {"quote": "anything", "body": "x"}, format="json")
    assert response.status_code == 409
