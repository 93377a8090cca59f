import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from approvals.api.audit import ApprovalListView, TaskHistoryView
from approvals.api.decisions import TaskApprovalView
from approvals.api.posts import PostVersionRevertView
from contentpipeline.logins import TokenLoginView
from contentpipeline.metrics_view import MetricsView as PrometheusMetricsView
from contentpipeline.views import api_not_found
from publishing.api import PostViewSet
from publishing.views import media
from tasks.api import HealthView, MetricsView, TaskViewSet, WebhookViewSet


class OptionalSlashRouter(DefaultRouter):
    """`/api/tasks` and `/api/tasks/` both work, as integrators write either."""

    include_root_view = False

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"


router = OptionalSlashRouter()
router.register("tasks", TaskViewSet, basename="task")
router.register("posts", PostViewSet, basename="post")
router.register("webhooks", WebhookViewSet, basename="webhook")

api_patterns = [
    re_path(r"^auth/token/?$", TokenLoginView.as_view(), name="auth-token"),
    re_path(
        r"^tasks/(?P<pk>[0-9a-fA-F-]{36})/approval/?$",
        TaskApprovalView.as_view(),
        name="task-approval",
    ),
    re_path(
        r"^tasks/(?P<pk>[0-9a-fA-F-]{36})/history/?$",
        TaskHistoryView.as_view(),
        name="task-history",
    ),
    re_path(r"^approvals/?$", ApprovalListView.as_view(), name="approval-list"),
    re_path(
        r"^posts/(?P<slug>[-a-zA-Z0-9_]+)/versions/(?P<version_id>\d{1,18})/revert/?$",
        PostVersionRevertView.as_view(),
        name="post-version-revert",
    ),
    re_path(r"^metrics/?$", MetricsView.as_view(), name="metrics"),
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("publishing.api.routes")),
    *router.urls,
    # Last: any other path under /api/ is a JSON 404, not an HTML page, whatever the
    # method (CSRF protects views that change something; this one changes nothing, and
    # Django's CSRF refusal would be an HTML 403).
    re_path(r"^(?P<path>.*)$", csrf_exempt(api_not_found)),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    re_path(r"^metrics/?$", PrometheusMetricsView.as_view(), name="prometheus-metrics"),
    re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$", media, name="media"),
    path("", include("publishing.urls")),
]

handler400 = "contentpipeline.views.bad_request"
handler403 = "contentpipeline.views.permission_denied"
handler404 = "contentpipeline.views.page_not_found"
handler500 = "contentpipeline.views.server_error"
