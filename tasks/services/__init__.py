"""Every write on a ContentTask and its StageRuns happens in this package; the API,
admin, consumers, Celery tasks, the runner and the other apps call these services.

- `lifecycle`: what a user does to a task (create, pause, resume, cancel, retry,
  delete, bulk).
- `runs`: what the pipeline runner records (claim, heartbeat, stage begin/record/fail,
  complete, fail).
- `decisions`: the moves that follow an editor's decision (approve, reject,
  regenerate) and publication.
- `dispatch`: handing runs to the queue, and sending again what it lost.
- `plans`: the plan an editor approves before the draft (`review_plan`): proposed
  after research, approved (perhaps edited) or sent back to be researched again.
- `drafts`: editors' edits of a draft (each a version), and approval re-opened when a
  post's approved text changes before it goes live.

Each status change is a named move of the status machine (`ContentTask.move`), saved
with who and why, and broadcast to the progress streams after commit.
"""

from .decisions import (
    task_approve,
    task_approve_step,
    task_lock_for_decision,
    task_mark_published,
    task_mark_unpublished,
    task_regenerate,
    task_reject,
)
from .dispatch import task_dispatch, task_dispatch_waiting
from .drafts import task_draft_edit, task_draft_hold, task_reopen
from .lifecycle import (
    BULK_ACTIONS,
    MAX_KEYWORDS,
    Overlapping,
    Submitted,
    task_bulk,
    task_cancel,
    task_create,
    task_delete,
    task_pause,
    task_resume,
    task_retry,
    task_submit,
)
from .plans import task_plan_approve, task_plan_propose, task_plan_send_back
from .runs import (
    Claim,
    task_claim,
    task_complete,
    task_fail,
    task_heartbeat,
    task_release_lease,
    task_stage_begin,
    task_stage_fail,
    task_stage_record,
)

__all__ = [
    "BULK_ACTIONS",
    "MAX_KEYWORDS",
    "Claim",
    "Overlapping",
    "Submitted",
    "task_approve",
    "task_approve_step",
    "task_lock_for_decision",
    "task_bulk",
    "task_cancel",
    "task_claim",
    "task_complete",
    "task_create",
    "task_delete",
    "task_dispatch",
    "task_dispatch_waiting",
    "task_draft_edit",
    "task_draft_hold",
    "task_fail",
    "task_heartbeat",
    "task_mark_published",
    "task_mark_unpublished",
    "task_pause",
    "task_plan_approve",
    "task_plan_propose",
    "task_plan_send_back",
    "task_regenerate",
    "task_reject",
    "task_release_lease",
    "task_reopen",
    "task_resume",
    "task_retry",
    "task_stage_begin",
    "task_stage_fail",
    "task_stage_record",
    "task_submit",
]
