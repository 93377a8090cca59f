"""A decision is bound to the text the editor read: editor A reads a draft, editor B
edits it, A approves what A read; the edited text must not go live unread. Over the
API (`expected_content_hash`), at the review desk (the page's own hash), in bulk from
the task list (each row's hash as the list showed it) and from the shell."""

import io
import re
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from approvals.models import ApprovalDecision
from approvals.services import DraftChanged, approval_decide
from publishing.models import Post
from tasks.models import ContentTask
from tasks.runner import run_pipeline
from tasks.services import task_draft_edit

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory
from .desk import bulk_decide, decide_at_desk, hash_on_review_page, review_url, shown_in_list

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


def drafted(**kwargs) -> ContentTask:
    task = ContentTaskFactory(**kwargs)
    assert run_pipeline(task.pk) == "done"
    return task


def undecided(task: ContentTask, history: int) -> bool:
    """Still awaiting approval, with no decision, no post and no new history record."""
    task.refresh_from_db()
    return (
        task.status == "awaiting_approval"
        and not ApprovalDecision.objects.filter(task=task).exists()
        and not Post.objects.filter(task=task).exists()
        and task.history.count() == history
    )


@pytest.fixture
def editor_b():
    return UserFactory(editor=True, username="editor-b")


def test_an_approval_of_the_text_read_before_anothers_edit_is_refused_then_made_on_reading_again(
    editor, editor_b
):
    task = drafted(topic="Rain barrels for allotments")
    editor_a = client_for(editor)
    url = f"/api/tasks/{task.pk}"
    read = editor_a.get(url).json()["result"]  # A reads text X
    task_draft_edit(task_id=task.pk, user=editor_b, title="Rain barrels, rewritten by B")
    history = task.history.count()

    approve = {"approved": True, "expected_content_hash": read["content_hash"]}
    answer = editor_a.post(f"{url}/approval", approve, format="json")
    assert answer.status_code == 409
    body = answer.json()
    assert "changed since you read it" in body["detail"] and "nothing was decided" in body["detail"]
    assert body["status"] == "awaiting_approval"
    now = editor_a.get(url).json()["result"]  # A reads text Y
    assert body["content_hash"] == now["content_hash"] != read["content_hash"]
    assert now["title"] == "Rain barrels, rewritten by B"
    assert undecided(task, history)

    approve = {"approved": True, "expected_content_hash": now["content_hash"]}
    answer = editor_a.post(f"{url}/approval", approve, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["approval_status"] == "approved"
    assert Post.objects.get(task=task).title == "Rain barrels, rewritten by B"
    assert ApprovalDecision.objects.get(task=task).content_hash == now["content_hash"]


def test_a_rejection_of_a_text_that_changed_is_refused_too(editor, editor_b):
    task = drafted(topic="Rain barrels for allotments")
    read = client_for(editor).get(f"/api/tasks/{task.pk}").json()["result"]
    task_draft_edit(task_id=task.pk, user=editor_b, body_markdown="B's body.\n\nAll new.")
    history = task.history.count()
    answer = client_for(editor).post(
        f"/api/tasks/{task.pk}/approval",
        {"approved": False, "feedback": "Too short", "regenerate": True,
         "expected_content_hash": read["content_hash"]},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 409
    assert undecided(task, history) and task.feedback == "" and task.generation == 1


@pytest.mark.parametrize("value", ["abc", "g" * 64, "a" * 65, ""])
def test_a_malformed_content_hash_answers_400_and_decides_nothing(editor_client, value):
    task = drafted(topic="Rain barrels for allotments")
    history = task.history.count()
    answer = editor_client.post(f"/api/tasks/{task.pk}/approval",
                                {"approved": True, "expected_content_hash": value},
                                format="json")  # fmt: skip
    assert answer.status_code == 400
    assert "expected_content_hash" in answer.json()
    assert undecided(task, history)


def test_the_hash_is_read_in_any_case(editor_client):
    task = drafted(topic="Rain barrels for allotments")
    content_hash = editor_client.get(f"/api/tasks/{task.pk}").json()["result"]["content_hash"]
    answer = editor_client.post(f"/api/tasks/{task.pk}/approval",
                                {"approved": True, "expected_content_hash": content_hash.upper()},
                                format="json")  # fmt: skip
    assert answer.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_edit_in_flight_when_the_approval_arrives_is_seen_by_it():
    """B's edit holds the task's row when A's approval comes: the approval waits for the
    edit to commit, and then compares the hash with the edited text, not the one before."""
    editor, editor_b = UserFactory(editor=True), UserFactory(editor=True)
    task = drafted(topic="Rain barrels for allotments")
    read = client_for(editor).get(f"/api/tasks/{task.pk}").json()["result"]["content_hash"]
    edited, commit_edit, outcome = threading.Event(), threading.Event(), []

    def edit():
        from django.db import transaction

        try:
            with transaction.atomic():
                task_draft_edit(task_id=task.pk, user=editor_b, title="B's title")
                edited.set()
                commit_edit.wait(10)
        finally:
            connection.close()

    def approve():
        try:
            approval_decide(task_id=task.pk, reviewer=editor, approved=True,
                            expected_content_hash=read)  # fmt: skip
            outcome.append("approved")
        except DraftChanged:
            outcome.append("refused")
        finally:
            connection.close()

    editing = threading.Thread(target=edit)
    editing.start()
    assert edited.wait(10)
    approving = threading.Thread(target=approve)
    approving.start()
    wait_for_a_lock_wait()
    commit_edit.set()
    editing.join(10)
    approving.join(10)
    assert outcome == ["refused"]
    assert not Post.objects.filter(task=task).exists()


def wait_for_a_lock_wait(timeout: float = 10) -> None:
    """Until a session of this database waits for a row lock (the approval, for the
    edit's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                           " current_database() AND wait_event_type = 'Lock'")  # fmt: skip
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("the approval never waited for the edit's lock")


# --- The review desk ---------------------------------------------------------------------------
def test_the_review_page_decides_the_text_it_showed_or_nothing(editor, editor_b):
    task = drafted(topic="Rain barrels for allotments")
    desk_a = client_for(editor)
    desk_a.force_login(editor)
    page = desk_a.get(review_url(task)).content.decode()  # A reads text X
    task_draft_edit(task_id=task.pk, user=editor_b, title="Rain barrels, rewritten by B")
    history = task.history.count()

    answer = decide_at_desk(desk_a, task, page, decision="approve", feedback="Good")
    assert answer.status_code == 200  # the page again, not a redirect
    again = answer.content.decode()
    assert "changed since you read it" in again
    assert undecided(task, history)
    # The page now shows B's text, and its form carries that text's hash.
    assert "Rain barrels, rewritten by B" in again
    assert hash_on_review_page(again) != hash_on_review_page(page)
    assert re.search(r'<textarea name="feedback"[^>]*>\s*Good</textarea>', again)  # A's note

    assert decide_at_desk(desk_a, task, again, decision="approve").status_code == 302
    assert Post.objects.get(task=task).title == "Rain barrels, rewritten by B"


def test_a_decision_form_without_the_pages_hash_decides_nothing(editor):
    task = drafted(topic="Rain barrels for allotments")
    desk = client_for(editor)
    desk.force_login(editor)
    history = task.history.count()
    answer = desk.post(review_url(task), {"step": "decide", "decision": "approve"})
    assert answer.status_code == 200
    assert undecided(task, history)


def test_bulk_approval_approves_each_draft_as_the_list_showed_it(editor, editor_b):
    kept, edited = drafted(topic="Bulk: rain barrels"), drafted(topic="Bulk: green roofs")
    desk = client_for(editor)
    desk.force_login(editor)
    page = desk.get("/admin/tasks/contenttask/").content.decode()
    assert len(shown_in_list(page)) == 2
    task_draft_edit(task_id=edited.pk, user=editor_b, title="Green roofs, rewritten by B")
    history = edited.history.count()
    unseen = drafted(topic="Bulk: a draft that came after the page")  # as "select all" would

    text = bulk_decide(desk, "approve_selected", [kept, edited, unseen], page).content.decode()
    assert Post.objects.filter(task=kept).exists()
    assert undecided(edited, history) and "changed since you read it" in text
    assert not Post.objects.filter(task=unseen).exists() and "not shown awaiting approval" in text


def test_bulk_rejection_carries_the_lists_hashes_through_its_feedback_page(editor, editor_b):
    first, edited = drafted(topic="Bulk: rain barrels"), drafted(topic="Bulk: green roofs")
    desk = client_for(editor)
    desk.force_login(editor)
    page = desk.get("/admin/tasks/contenttask/").content.decode()
    task_draft_edit(task_id=edited.pk, user=editor_b, title="Green roofs, rewritten by B")
    feedback_page = bulk_decide(desk, "reject_selected", [first, edited], page).content.decode()
    assert shown_in_list(feedback_page) == shown_in_list(page)
    bulk_decide(desk, "reject_selected", [first, edited], feedback_page,
                apply="1", feedback="Needs sources")  # fmt: skip
    first.refresh_from_db(), edited.refresh_from_db()
    assert (first.status, edited.status) == ("rejected", "awaiting_approval")


# --- The shell ---------------------------------------------------------------------------------
def decide(*args) -> str:
    out = io.StringIO()
    call_command("approval_decide", *args, stdout=out)
    return out.getvalue()


def test_the_command_decides_only_the_text_named_by_its_hash(editor, editor_b):
    task = drafted(topic="Rain barrels for allotments")
    read = client_for(editor).get(f"/api/tasks/{task.pk}").json()["result"]["content_hash"]
    task_draft_edit(task_id=task.pk, user=editor_b, title="Rain barrels, rewritten by B")
    now = client_for(editor).get(f"/api/tasks/{task.pk}").json()["result"]["content_hash"]
    history = task.history.count()
    with pytest.raises(CommandError, match=f"changed since you read it.*now {now}"):
        decide(str(task.pk), "--approve", "--expected-content-hash", read, "--as", editor.username)
    with pytest.raises(CommandError, match="64 hexadecimal characters"):
        decide(str(task.pk), "--approve", "--expected-content-hash", "x", "--as", editor.username)
    assert undecided(task, history)
    out = decide(str(task.pk), "--approve", "--expected-content-hash", now,
                 "--as", editor.username)  # fmt: skip
    assert f"approved: task {task.pk}" in out


# --- The schema --------------------------------------------------------------------------------
def test_the_schema_documents_the_hash_and_the_409(anon_client):
    schema = anon_client.get("/api/schema/?format=json").json()
    body = schema["components"]["schemas"]["ApprovalRequest"]["properties"]
    assert body["expected_content_hash"]["pattern"] == "^[0-9a-fA-F]{64}$"
    assert "expected_content_hash" not in schema["components"]["schemas"]["ApprovalRequest"].get(
        "required", [])  # fmt: skip
    (path,) = [path for path in schema["paths"] if path.rstrip("/").endswith("}/approval")]
    operation = schema["paths"][path]["post"]
    conflict = operation["responses"]["409"]
    assert "expected_content_hash" in conflict["description"]
    reference = conflict["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "content_hash" in schema["components"]["schemas"][reference]["properties"]
    assert "content_hash" in schema["components"]["schemas"]["TaskResult"]["properties"]
