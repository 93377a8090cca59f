from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from contentpipeline.admin_site import provide_reviewer_check
        from publishing.api.posts import provide_post_viewset
        from tasks.interfaces import provide_decision_timings, provide_task_reviews

        from .api.posts import PostManageViewSet
        from .db_role import grant_after_migrate
        from .selectors import decision_wait_histogram
        from .workflows import TaskReviews, is_reviewer

        # The tasks app's metrics report how long drafts wait for decisions, which are
        # this app's rows (tasks.interfaces.DecisionTimings).
        provide_decision_timings(decision_wait_histogram)

        # The posts' routes are publishing's; changing a post is the workflow's (PATCH
        # through `post_change`): the viewset they are served by is this app's.
        provide_post_viewset(PostManageViewSet)

        # Who reviews a task's draft at which step is this app's (approvals.workflows).
        provide_task_reviews(TaskReviews())
        provide_reviewer_check(is_reviewer)

        # Sent once per app after every `migrate`; as this app's, once per migrate.
        post_migrate.connect(grant_after_migrate, sender=self, dispatch_uid="app_role_grant")
