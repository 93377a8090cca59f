"""`manage.py approval_decide`: the third door to the same decision service."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from approvals.models import ApprovalDecision
from publishing.models import Post
from tasks.runner import run_pipeline

from ..factories import UserFactory
from ..tasks.factories import ContentTaskFactory

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]


@pytest.fixture
def drafted():
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    return task


def decide(*args) -> str:
    out = io.StringIO()
    call_command("approval_decide", *args, stdout=out)
    return out.getvalue()


def test_an_editor_approves_from_the_shell_and_the_post_is_published(drafted, editor):
    out = decide(str(drafted.pk), "--approve", "--as", editor.username)
    post = Post.objects.get(task=drafted)
    assert f"approved: task {drafted.pk}" in out and post.slug in out
    drafted.refresh_from_db()
    assert drafted.status == "published"
    assert ApprovalDecision.objects.get(task=drafted).reviewer == editor


def test_an_approval_can_be_scheduled(drafted, editor):
    when = (timezone.now() + timedelta(days=1)).isoformat()
    decide(str(drafted.pk), "--approve", "--publish-at", when, "--as", editor.username)
    drafted.refresh_from_db()
    assert drafted.status == "approved"
    assert Post.objects.get(task=drafted).published_at > timezone.now()


def test_a_rejection_records_its_feedback(drafted, editor):
    decide(str(drafted.pk), "--reject", "--feedback", "Off topic", "--as", editor.username)
    decision = ApprovalDecision.objects.get(task=drafted)
    assert (decision.decision, decision.feedback) == ("rejected", "Off topic")


def test_a_request_for_changes_regenerates_the_task(drafted, editor):
    decide(str(drafted.pk), "--request-changes", "--feedback", "More detail",
           "--as", editor.username)  # fmt: skip
    drafted.refresh_from_db()
    assert (drafted.status, drafted.generation) == ("pending", 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reject"], "Feedback is required"),
        (["--approve", "--publish-at", "tomorrow"], "ISO 8601"),
        (["--approve", "--publish-at", "2030-01-01T10:00"], "with a zone"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(drafted, editor, args, message):
    with pytest.raises(CommandError, match=message):
        decide(str(drafted.pk), *args, "--as", editor.username)
    drafted.refresh_from_db()
    assert drafted.status == "awaiting_approval" and not ApprovalDecision.objects.exists()


def test_only_an_editor_decides_and_only_a_draft_awaiting_approval(drafted, editor):
    with pytest.raises(CommandError, match="Only editors"):
        decide(str(drafted.pk), "--approve", "--as", UserFactory().username)
    with pytest.raises(CommandError, match="No user named"):
        decide(str(drafted.pk), "--approve", "--as", "nobody-at-all")
    decide(str(drafted.pk), "--approve", "--as", editor.username)
    with pytest.raises(CommandError, match="awaiting approval"):
        decide(str(drafted.pk), "--approve", "--as", editor.username)
    with pytest.raises(CommandError, match="not found"):
        decide("not-a-task-id", "--approve", "--as", editor.username)
    assert ApprovalDecision.objects.count() == 1
