"""The project's routes: each app lists its own (`<app>.urls`, publishing's API in
`publishing.api.routes`), and this module mounts them, with what is the project's own
(the token login, the schema and its docs, /metrics, the media mount, the admin). With
asgi.py and celery.py, the one place that wires every app together."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from contentpipeline.logins import TokenLoginView
from contentpipeline.metrics_view import MetricsView as PrometheusMetricsView
from contentpipeline.views import api_not_found
from publishing.views import media

api_patterns = [
    re_path(r"^auth/token/?$", TokenLoginView.as_view(), name="auth-token"),
    path("", include("approvals.urls")),
    path("", include("tasks.urls")),
    path("", include("notifications.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("", include("publishing.api.routes")),
    # Last: any other path under /api/ is a JSON 404, not an HTML page, whatever the
    # method (CSRF protects views that change something; this one changes nothing, and
    # Django's CSRF refusal would be an HTML 403).
    re_path(r"^(?P<path>.*)$", csrf_exempt(api_not_found)),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    re_path(r"^metrics/?$", PrometheusMetricsView.as_view(), name="prometheus-metrics"),
    # Where MEDIA_URL points (a project setting, as Django's static() helper mounts it);
    # publishing's view decides who may fetch each file.
    re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$", media, name="media"),
    path("", include("publishing.urls")),
]

handler400 = "contentpipeline.views.bad_request"
handler403 = "contentpipeline.views.permission_denied"
handler404 = "contentpipeline.views.page_not_found"
handler500 = "contentpipeline.views.server_error"
