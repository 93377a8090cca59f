"""Every write of the approvals app, and the approval workflow. The admin, the API and
`manage.py approval_decide` call these, and only these, for anything that moves a
draft or a post through review and publication.

- `actions`: the workflow, in one place: approve, reject and request changes of a
  draft (`approval_decide` takes the decision as the interfaces parse it); unpublish
  and publish again a post, and take it down at its expiry date; an edit or revert of
  a post (which re-opens approval when it changes the approved text of a post not live
  yet). Each orchestrates top down:
  the task's moves through the tasks app's services, the post through the publishing
  app's, and the decision recorded here. An approval goes ahead with unsupported
  claims only when acknowledged (`UnsupportedClaims` otherwise).
- `claims`: an editor's claim on a draft being reviewed.
- `comments`: editors' comments on passages of a draft, replies and resolving; the
  open ones go to the next generation with a request for changes.
- `plans`: an editor's decision on a task's plan before its draft (approve, perhaps
  edited, or send back to be researched again), recorded like an approval.
"""

from .actions import (
    Decided,
    DraftChanged,
    UnsupportedClaims,
    approval_decide,
    approval_decide_many,
    draft_approve,
    draft_reject,
    draft_request_changes,
    post_change,
    post_edit,
    post_expire,
    post_expire_due,
    post_republish,
    post_revert,
    post_unpublish,
)
from .claims import ClaimedByAnother, review_claim, review_release
from .comments import comment_add, comment_resolve
from .plans import PlanDecided, plan_decide

__all__ = [
    "ClaimedByAnother",
    "Decided",
    "DraftChanged",
    "PlanDecided",
    "UnsupportedClaims",
    "approval_decide",
    "comment_add",
    "comment_resolve",
    "approval_decide_many",
    "draft_approve",
    "draft_reject",
    "draft_request_changes",
    "plan_decide",
    "post_change",
    "post_edit",
    "post_expire",
    "post_expire_due",
    "post_republish",
    "post_revert",
    "post_unpublish",
    "review_claim",
    "review_release",
]
