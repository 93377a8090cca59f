"""The approvals app's routes, included under /api/ by the project's urls.py. PATCH of a
post's own path (`posts/<slug>`) is publishing's route, served by the viewset this app
provides at start-up (apps.py)."""

from django.urls import re_path

from publishing.api.versions import SLUG, VERSION

from .api.audit import ApprovalListView, TaskHistoryView
from .api.comments import TaskCommentResolveView, TaskCommentsView
from .api.decisions import TaskApprovalView
from .api.plans import TaskPlanView
from .api.posts import PostRepublishView, PostUnpublishView, PostVersionRevertView

TASK = r"(?P<pk>[0-9a-fA-F-]{36})"

urlpatterns = [
    re_path(rf"^tasks/{TASK}/approval/?$", TaskApprovalView.as_view(), name="task-approval"),
    re_path(rf"^tasks/{TASK}/plan/?$", TaskPlanView.as_view(), name="task-plan"),
    re_path(rf"^tasks/{TASK}/history/?$", TaskHistoryView.as_view(), name="task-history"),
    re_path(rf"^tasks/{TASK}/comments/?$", TaskCommentsView.as_view(), name="task-comments"),
    re_path(
        rf"^tasks/{TASK}/comments/(?P<cid>[0-9]{{1,18}})/resolve/?$",
        TaskCommentResolveView.as_view(),
        name="task-comment-resolve",
    ),
    re_path(r"^approvals/?$", ApprovalListView.as_view(), name="approval-list"),
    re_path(
        rf"^posts/{SLUG}/versions/{VERSION}/revert/?$",
        PostVersionRevertView.as_view(),
        name="post-version-revert",
    ),
    re_path(rf"^posts/{SLUG}/unpublish/?$", PostUnpublishView.as_view(), name="post-unpublish"),
    re_path(rf"^posts/{SLUG}/publish/?$", PostRepublishView.as_view(), name="post-publish"),
]
