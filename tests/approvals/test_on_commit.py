"""Decisions broadcast (and a regenerated task is queued) only once they commit."""

import pytest

from approvals.services import approval_decide
from tasks.runner import run_pipeline

from ..tasks.factories import ContentTaskFactory
from ..tasks.test_on_commit import after_commit

pytestmark = pytest.mark.django_db


@pytest.fixture
def drafted(integrator):
    task = ContentTaskFactory(created_by=integrator)
    assert run_pipeline(task.pk) == "done"
    return task


def test_an_approval_is_announced_after_commit_and_queues_nothing(
    outbox, django_capture_on_commit_callbacks, editor, drafted
):
    outbox.events()  # the pipeline's own events
    _, before, after = after_commit(
        outbox, django_capture_on_commit_callbacks,
        lambda: approval_decide(task_id=drafted.pk, reviewer=editor, approved=True),
    )  # fmt: skip
    assert before == (0, [])
    assert after[0] == 0
    assert [(e["status"], e["message"]) for e in after[1]] == [
        ("published", "Approved and published")
    ]


def test_a_request_for_changes_queues_the_next_generation_after_commit(
    outbox, django_capture_on_commit_callbacks, editor, drafted
):
    outbox.events()
    _, before, after = after_commit(
        outbox, django_capture_on_commit_callbacks,
        lambda: approval_decide(task_id=drafted.pk, reviewer=editor, approved=False,
                                feedback="More on soil", regenerate=True),
    )  # fmt: skip
    assert before == (0, [])
    assert after[0] == 1
    assert [(e["status"], e["message"]) for e in after[1]] == [
        ("rejected", "Rejected"),
        ("pending", "Regenerating with editor feedback"),
    ]
