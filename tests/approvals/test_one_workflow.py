"""The approval workflow is one set of actions whichever door an editor uses: the review
desk in admin, the API and `manage.py approval_decide` make the same decision, with the
same audit record, the same task history, the same post and the same webhook events;
a revert in the posts admin and over the API re-opens approval alike."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from approvals.models import ApprovalDecision
from approvals.services import approval_decide, review_claim
from publishing.models import Post
from tasks.models import ContentTask, WebhookDelivery
from tasks.runner import run_pipeline
from tasks.selectors import task_content_hash, task_result
from tasks.services.webhooks import webhook_create

from ..conftest import client_for
from ..tasks.factories import ContentTaskFactory
from .desk import decide_at_desk

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]

FEEDBACK = "Clear, but name the varieties."
DOORS = ("admin", "api", "command")
# How each door says the decision: the review form's choice, the API's body, the flag.
SAID = {
    "approve": ("approve", {"approved": True}, "--approve"),
    "reject": ("reject", {"approved": False}, "--reject"),
    "request_changes": ("request_changes", {"approved": False, "regenerate": True},
                        "--request-changes"),
}  # fmt: skip


@pytest.fixture
def webhooks(settings, integrator):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    return webhook_create(user=integrator, url="http://127.0.0.1:9/content")


def drafted(owner) -> ContentTask:
    task = ContentTaskFactory(created_by=owner, topic="Growing garlic in containers")
    assert run_pipeline(task.pk) == "done"
    return ContentTask.objects.get(pk=task.pk)


def decide_through(door: str, decision: str, task: ContentTask, editor) -> None:
    """The decision as that door takes it, naming the text the editor read."""
    form_choice, body, flag = SAID[decision]
    if door == "admin":
        desk = Client()
        desk.force_login(editor)
        response = decide_at_desk(desk, task, decision=form_choice, feedback=FEEDBACK)
        assert response.status_code == 302
    elif door == "api":
        response = client_for(editor).post(
            f"/api/tasks/{task.pk}/approval",
            {**body, "feedback": FEEDBACK, "expected_content_hash": task_content_hash(task)},
            format="json",
        )
        assert response.status_code == 200, response.content
    else:
        call_command(
            "approval_decide", str(task.pk), flag, "--feedback", FEEDBACK,
            "--expected-content-hash", task_content_hash(task), "--as", editor.username,
            stdout=io.StringIO(),
        )  # fmt: skip


def footprint(task: ContentTask, *, read: str, before: dict, after_commit: int) -> dict:
    """What a decision left (the task's history records and webhook deliveries past
    those counted `before` it), in terms that do not depend on which task it was."""
    task = ContentTask.objects.get(pk=task.pk)
    record = ApprovalDecision.objects.get(task=task)
    post = Post.objects.filter(task=task).first()
    history = task.history.order_by("history_date", "history_id")
    return {
        "record": {
            "decision": record.decision,
            "reviewer": record.reviewer.username,
            "claimed_by": record.claimed_by.username if record.claimed_by else None,
            "feedback": record.feedback,
            "generation": record.generation,
            "round": record.round,
            "publish_at": record.publish_at,
            "of_the_text_read": record.content_hash == read,
        },
        "claim_left": hasattr(task, "review_claim"),
        "task": (task.status, task.generation, task.feedback),
        "task_history": [
            (h.status, h.history_change_reason, h.history_user.username)
            for h in list(history)[before["history"] :]
        ],
        "post": post
        and {
            "live": post.is_live,
            "the_draft_as_read": post.title == task_result(task, record.generation)["title"],
            "versions": [
                (v.history_type, v.history_change_reason, v.history_user.username)
                for v in post.history.all()
            ],
        },  # fmt: skip
        "webhook_events": [
            (d.event, d.previous_status, d.status)
            for d in list(WebhookDelivery.objects.filter(task=task).order_by("id"))[
                before["deliveries"] :
            ]
        ],
        "after_commit": after_commit,
    }


@pytest.mark.parametrize("decision", list(SAID))
def test_admin_api_and_command_make_the_same_decision_with_the_same_effects(
    decision, editor, integrator, webhooks, django_capture_on_commit_callbacks
):
    found, addresses = {}, {}
    for door in DOORS:
        task = drafted(integrator)
        review_claim(task_id=task.pk, editor=editor)
        read = task_content_hash(task)
        before = {"history": task.history.count(),
                  "deliveries": WebhookDelivery.objects.filter(task=task).count()}  # fmt: skip
        with django_capture_on_commit_callbacks() as callbacks:
            decide_through(door, decision, task, editor)
        found[door] = footprint(task, read=read, before=before, after_commit=len(callbacks))
        addresses[door] = ApprovalDecision.objects.get(task=task).request_ip

    assert found["admin"] == found["api"] == found["command"]
    # Only where it came from differs: a request's address, and none from a shell.
    assert addresses == {"admin": "127.0.0.1", "api": "127.0.0.1", "command": None}
    # And what they agree on is the decision asked for, not three alike mistakes.
    made = found["api"]
    assert (
        made["record"]["decision"]
        == {"approve": "approved", "reject": "rejected", "request_changes": "changes_requested"}[
            decision
        ]
    )
    assert made["record"]["of_the_text_read"] and made["record"]["claimed_by"] == editor.username
    assert not made["claim_left"] and made["task_history"]
    expected_status = {"approve": "published", "reject": "rejected", "request_changes": "pending"}
    assert made["task"][0] == expected_status[decision]
    assert (made["post"] is not None) == (decision == "approve")
    assert made["webhook_events"]


def scheduled_post(integrator, editor) -> Post:
    """Approved for tomorrow, then its title changed around the services, so that
    reverting to its first version changes its approved text."""
    task = drafted(integrator)
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True,
                              publish_at=timezone.now() + timedelta(days=1))  # fmt: skip
    post.title = "A title nobody approved"
    post.save()
    return post


def test_a_revert_in_admin_and_over_the_api_reopens_approval_alike(editor, integrator):
    found = {}
    for door in ("admin", "api"):
        post = scheduled_post(integrator, editor)
        approved_title = task_result(post.task)["title"]
        first = post.history.order_by("history_id").first().history_id
        if door == "admin":
            desk = Client()
            desk.force_login(editor)
            url = f"/admin/publishing/post/{post.pk}/history/{first}/"
            assert desk.post(url, {"_revert": "1"}).status_code == 302
        else:
            url = f"/api/posts/{post.slug}/versions/{first}/revert"
            assert client_for(editor).post(url).status_code == 202
        task = ContentTask.objects.get(pk=post.task_id)
        last = task.history.order_by("history_date", "history_id").last()
        found[door] = {
            "task": task.status,
            "why": (last.history_change_reason, last.history_user.username),
            "draft_is_the_restored_text": task_result(task)["title"] == approved_title,
            "post_left": Post.objects.filter(pk=post.pk).exists(),
            "post_last_version": [
                (v.history_type, v.history_change_reason, v.history_user.username)
                for v in Post.history.filter(id=post.pk).order_by("-history_id")[:1]
            ],
        }

    assert found["admin"] == found["api"]
    assert found["api"]["task"] == "awaiting_approval"
    assert found["api"]["draft_is_the_restored_text"] and not found["api"]["post_left"]
    assert found["api"]["post_last_version"] == [
        ("-", "withdrawn: text changed after approval, awaiting approval again", editor.username)
    ]
