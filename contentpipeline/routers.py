"""The API's router, for each app's viewsets (each app lists its own routes)."""

from rest_framework.routers import DefaultRouter


class OptionalSlashRouter(DefaultRouter):
    """`/api/tasks` and `/api/tasks/` both work, as integrators write either."""

    include_root_view = False

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
