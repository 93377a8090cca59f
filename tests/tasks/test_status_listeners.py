"""The tasks app tells the StatusListeners provided (tasks.interfaces) of each status
change once it is committed, and never of an uncommitted one; a listener that fails
is logged and fails nothing."""

import pytest

from tasks import interfaces
from tasks.interfaces import provide_status_listener
from tasks.services import task_cancel, task_pause

from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard(monkeypatch):
    changes = []
    # The listeners as the apps provided them, with this one beside them for the test.
    monkeypatch.setattr(interfaces, "_status_listeners", list(interfaces._status_listeners))
    provide_status_listener(changes.append)
    provide_status_listener(changes.append)  # provided twice, told once
    return changes


def test_a_status_change_is_told_after_commit_with_who_and_why(
    heard, integrator, django_capture_on_commit_callbacks
):
    task = ContentTaskFactory(created_by=integrator)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        task_pause(task_id=task.pk, user=integrator)
        assert heard == []  # not before the commit
    assert callbacks
    (change,) = heard
    assert (change.task_id, change.old_status, change.new_status, change.user_id) == (
        str(task.pk), "pending", "paused", integrator.pk,
    )  # fmt: skip
    assert change.reason


def test_a_rolled_back_change_is_told_to_nobody(
    heard, integrator, django_capture_on_commit_callbacks
):
    task = ContentTaskFactory(created_by=integrator)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        task_pause(task_id=task.pk, user=integrator)
    assert heard == [] and callbacks  # the callback waits for a commit that never comes


def test_a_failing_listener_fails_nothing_and_the_others_are_told(
    heard, integrator, caplog, django_capture_on_commit_callbacks
):
    def broken(change):
        raise RuntimeError("listener down")

    interfaces._status_listeners.insert(0, broken)  # told first
    task = ContentTaskFactory(created_by=integrator)
    with django_capture_on_commit_callbacks(execute=True):
        task_cancel(task_id=task.pk, user=integrator)
    assert [c.new_status for c in heard] == ["cancelled"]
    assert "A status listener failed" in caplog.text
