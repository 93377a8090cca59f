"""The tasks app's routes, included under /api/ by the project's urls.py: tasks and
their controls, webhooks, the metrics and the health check."""

from django.urls import re_path

from contentpipeline.routers import OptionalSlashRouter

from .api import HealthView, MetricsView, TaskViewSet, WebhookViewSet

router = OptionalSlashRouter()
router.register("tasks", TaskViewSet, basename="task")
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = [
    re_path(r"^metrics/?$", MetricsView.as_view(), name="metrics"),
    re_path(r"^health/?$", HealthView.as_view(), name="health"),
    *router.urls,
]
