"""The notifications' routes, included under /api/ by the project's urls.py."""

from django.urls import re_path

from contentpipeline.routers import OptionalSlashRouter

from .api import NotificationSettingsView, NotificationViewSet

router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    re_path(
        r"^notifications/settings/?$",
        NotificationSettingsView.as_view(),
        name="notification-settings",
    ),  # fmt: skip
    *router.urls,
]
