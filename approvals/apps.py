from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from contentpipeline.admin_site import provide_reviewer_check
        from tasks.interfaces import provide_task_reviews

        from .db_role import grant_after_migrate
        from .workflows import TaskReviews, is_reviewer

        provide_task_reviews(TaskReviews())
        provide_reviewer_check(is_reviewer)

        # Sent once per app after every `migrate`; as this app's, once per migrate.
        post_migrate.connect(grant_after_migrate, sender=self, dispatch_uid="app_role_grant")
