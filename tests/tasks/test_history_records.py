"""A service's save of a task (tasks/services/_common.py): the row, and the history
record simple-history writes for it, with who and why; none for bookkeeping."""

import datetime
from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from tasks.models import ContentTask
from tasks.services import _common
from tasks.services.lifecycle import task_create

from ..factories import UserFactory
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db

# What differs between two records of the same change: their own key and time.
OWN = {"history_id", "history_date"}
CHANGED = ["status", "stage", "progress", "error", "started_at", "updated_at"]


def change(task: ContentTask) -> None:
    task.status = "in_progress"
    task.stage = "draft"
    task.progress = 50
    task.error = "naïve quote ' \" and \\ backslash, emoji 🚀, 你好"
    task.started_at = datetime.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=datetime.UTC)


def latest_record(task: ContentTask) -> dict:
    record = task.history.order_by("-history_id").values().first()
    return {name: value for name, value in record.items() if name not in OWN}


def row(task: ContentTask) -> dict:
    values = ContentTask.objects.filter(pk=task.pk).values().get()
    del values["updated_at"]
    return values


@pytest.fixture
def task():
    return ContentTaskFactory(
        keywords=["compost", "soil health", "ünïcödé", 'quote\'d "word"'],
        sources=["https://example.com/a?b=1&c=2"],
        max_cost=Decimal("1.2345"),
        target_audience="gardeners",
        category="How-to",
    )


def test_a_services_save_writes_the_change_and_a_record_of_who_and_why(task):
    editor = UserFactory()
    records = task.history.count()
    with transaction.atomic():
        locked = _common.lock(task.pk)
        change(locked)
        _common.save(
            locked, user=editor, reason="moved by hand", message="m", update_fields=CHANGED
        )

    stored = row(task)
    change(task)
    assert {name: stored[name] for name in CHANGED if name != "updated_at"} == {
        name: getattr(task, name) for name in CHANGED if name != "updated_at"
    }
    assert task.history.count() == records + 1
    record = latest_record(task)
    assert record["history_type"] == "~" and record["history_user_id"] == editor.pk
    assert record["history_change_reason"] == "moved by hand"
    assert record["error"] == task.error and record["status"] == "in_progress"
    assert record["keywords"] == task.keywords and record["max_cost"] == task.max_cost
    newest = task.history.order_by("-history_id").first()
    assert abs(newest.history_date - timezone.now()) < datetime.timedelta(seconds=5)


def test_a_save_that_changes_nothing_tracked_writes_no_record(task):
    records = task.history.count()
    with transaction.atomic():
        locked = _common.lock(task.pk)
        locked.heartbeat_at = timezone.now()  # bookkeeping, not a tracked field
        _common.save(locked, reason="lease", message="m", update_fields=["heartbeat_at"])
    task.refresh_from_db()
    assert task.heartbeat_at is not None and task.history.count() == records


def test_a_created_task_has_the_creation_record_simple_history_writes(task):
    owner = UserFactory()
    created = task_create(user=owner, topic="Composting in small city gardens")
    by_orm = ContentTaskFactory.build(created_by=owner, topic="Composting in small city gardens")
    by_orm._history_user, by_orm._change_reason = owner, "created"
    by_orm.save()
    ours, theirs = latest_record(created), latest_record(by_orm)
    assert ours["history_type"] == theirs["history_type"] == "+"
    assert ours["history_user_id"] == owner.pk and ours["history_change_reason"] == "created"
    assert ours["topic"] == theirs["topic"] and ours["id"] == created.pk


def test_updating_a_task_that_is_gone_fails_as_the_orm_does(task):
    with transaction.atomic():
        locked = _common.lock(task.pk)
        ContentTask.objects.filter(pk=task.pk).delete()
        locked.progress = 10
        with pytest.raises(DatabaseError, match="did not affect any rows"):
            _common.save(locked, reason="r", message="m", update_fields=["progress"])


def test_a_run_records_its_changes_as_the_system_user_made_again_if_it_went_missing(task):
    from django.contrib.auth import get_user_model

    from contentpipeline.roles import SYSTEM_USERNAME
    from tasks.runner import run_pipeline

    get_user_model().objects.filter(username=SYSTEM_USERNAME).delete()
    assert run_pipeline(task.pk) == "done"
    system = get_user_model().objects.get(username=SYSTEM_USERNAME)
    users = set(task.history.filter(history_type="~").values_list("history_user_id", flat=True))
    assert users == {system.pk}
