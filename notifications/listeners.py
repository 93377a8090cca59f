"""The tasks app's StatusListener (tasks.interfaces), provided in apps.py: told of each
committed status change, it queues the notifications of those someone is told of, and
does nothing else (it runs in the request or the run that made the change)."""

from tasks.interfaces import StatusChange
from tasks.models import Status

from .queue import send_status_change

# A draft (or plan) waiting for its reviewers; a decision on a draft for its requester.
WAITING = {Status.AWAITING_APPROVAL, Status.AWAITING_PLAN}
DECIDED = {Status.APPROVED, Status.PUBLISHED, Status.REJECTED}


def is_notified(change: StatusChange) -> bool:
    if change.new_status in WAITING:
        # A new wait, or a later step of the approval workflow reached.
        return change.old_status != change.new_status or change.step is not None
    return change.old_status == Status.AWAITING_APPROVAL and change.new_status in DECIDED


def on_status_change(change: StatusChange) -> None:
    if is_notified(change):
        send_status_change(
            task_id=change.task_id, old_status=change.old_status,
            new_status=change.new_status, at=change.at, user_id=change.user_id,
        )  # fmt: skip
