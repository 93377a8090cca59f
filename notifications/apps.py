from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # The tasks app, below this one, tells its StatusListeners (tasks.interfaces) of
        # each committed status change: a draft waiting for review, a decision.
        from tasks.interfaces import provide_status_listener

        from .listeners import on_status_change

        provide_status_listener(on_status_change)
