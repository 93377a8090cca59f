"""The notifications' routes, included under /api/ by the project's urls.py."""

from contentpipeline.routers import OptionalSlashRouter

from .api import NotificationViewSet

router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = router.urls
