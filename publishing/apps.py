from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "publishing"
    verbose_name = "Publishing"

    def ready(self) -> None:
        # Publishing provides the generation pipeline's RelatedPosts (declared in
        # tasks.pipeline.interfaces): the research stage, below this app, may not import
        # it, and gets these posts to link to from the runner, in its job.
        from tasks.interfaces import provide_post_overlaps
        from tasks.pipeline.interfaces import provide_related_posts

        from .selectors import post_overlaps_for_subject, related_posts_for_brief

        provide_related_posts(related_posts_for_brief)
        # And the tasks app's PostOverlaps (declared in tasks.interfaces): the published
        # posts a new task would write about again, found by the search index.
        provide_post_overlaps(post_overlaps_for_subject)
