"""The review's numbers in GET /metrics and GET /api/metrics: how many tasks are past
their deadline now, and how long each decision came after its draft awaited approval
(read from the task's history and the audit trail)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from approvals.selectors import decision_wait_histogram
from approvals.services import approval_decide, post_edit
from tasks.models import ContentTask, Status

from ..conftest import client_for
from ..factories import UserFactory
from ..tasks.factories import (
    ACME_SOURCE,
    RIGHT_YEAR,
    ContentTaskFactory,
    drafted_with_sources,
)

pytestmark = pytest.mark.django_db


def awaiting_since(minutes: float) -> ContentTask:
    """A draft awaiting approval whose history says it got there `minutes` ago (after
    running for an hour), and was saved again since (which is no new wait)."""
    task = drafted_with_sources(markdown=RIGHT_YEAR, sources=[ACME_SOURCE])
    entered = timezone.now() - timedelta(minutes=minutes)
    for status, at in [(Status.IN_PROGRESS, entered - timedelta(hours=1)),
                       (Status.AWAITING_APPROVAL, entered)]:  # fmt: skip
        task.status = status
        ContentTask.history.bulk_history_create([task], default_date=at, update=True)
    task.refresh_from_db()
    return task


@pytest.fixture
def decided(editor):
    approved = awaiting_since(150)  # 9,000 s
    approval_decide(task_id=approved.pk, reviewer=editor, approved=True)
    changes = awaiting_since(20)  # 1,200 s
    approval_decide(task_id=changes.pk, reviewer=editor, approved=False, regenerate=True,
                    feedback="Say where the figures come from.")  # fmt: skip
    rejected = awaiting_since(20)
    approval_decide(task_id=rejected.pk, reviewer=editor, approved=False, feedback="No.")


@pytest.fixture
def deadlines():
    past = timezone.now() - timedelta(hours=1)
    ContentTaskFactory(status=Status.AWAITING_APPROVAL, due_at=past)
    ContentTaskFactory(status=Status.AWAITING_PLAN, due_at=past)
    ContentTaskFactory(status=Status.AWAITING_APPROVAL, due_at=timezone.now() + timedelta(hours=1))
    ContentTaskFactory(status=Status.PUBLISHED, due_at=past)  # decided: not overdue
    ContentTaskFactory(status=Status.AWAITING_APPROVAL, due_at=past, deleted_at=timezone.now())


def scrape() -> dict:
    response = client_for(UserFactory(is_staff=True)).get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_count_the_reviews_overdue_now(deadlines):
    samples = scrape()
    assert samples[("contentpipeline_reviews_overdue", frozenset())] == 2


def test_metrics_count_each_decision_into_its_wait_since_the_draft_awaited_approval(decided):
    samples = scrape()

    def sample(name: str, **labels) -> float:
        return samples[(f"contentpipeline_review_decision_wait_seconds{name}",
                        frozenset(labels.items()))]  # fmt: skip

    assert sample("_count", decision="approved") == 1
    assert sample("_sum", decision="approved") == pytest.approx(9000, abs=30)
    assert sample("_bucket", decision="approved", le="7200.0") == 0
    assert sample("_bucket", decision="approved", le="14400.0") == 1
    assert sample("_bucket", decision="approved", le="+Inf") == 1
    assert sample("_count", decision="changes_requested") == 1
    assert sample("_bucket", decision="changes_requested", le="900.0") == 0
    assert sample("_bucket", decision="changes_requested", le="1800.0") == 1
    assert sample("_count", decision="rejected") == 1
    assert sample("_sum", decision="rejected") == pytest.approx(1200, abs=30)


def test_the_api_metrics_show_the_overdue_reviews_and_the_waits_for_decisions(decided, deadlines):
    body = client_for(UserFactory(is_staff=True)).get("/api/metrics").json()
    assert body["reviews_overdue"] == 2
    waits = body["review_decision_wait"]
    assert set(waits) == {"approved", "changes_requested", "rejected"}
    assert waits["approved"]["decisions"] == 1
    assert waits["approved"]["avg_s"] == pytest.approx(9000, abs=30)
    assert waits["approved"]["within_s"]["7200"] == 0
    assert waits["approved"]["within_s"]["14400"] == 1
    assert waits["rejected"]["within_s"]["1800"] == 1


def test_a_draft_approved_again_after_it_was_reopened_waits_from_its_reopening(editor):
    """A re-opened approval (its text edited before it went live) is a new wait: the
    second decision is timed from the move back to awaiting approval, not the first."""
    task = awaiting_since(300)  # 18,000 s
    _, post = approval_decide(task_id=task.pk, reviewer=editor, approved=True,
                              publish_at=timezone.now() + timedelta(days=1))  # fmt: skip
    post.title = "A title changed after approval"
    assert post_edit(post=post, user=editor) is None  # awaiting approval again
    approval_decide(task_id=task.pk, reviewer=editor, approved=True)

    (approved,) = decision_wait_histogram([60]).values()
    assert approved.count == 2
    assert approved.cumulative == [1]  # the second came within a minute of the re-opening
    assert approved.total_seconds == pytest.approx(18000, abs=30)
