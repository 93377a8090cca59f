from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "publishing"
    verbose_name = "Publishing"

    def ready(self) -> None:
        # The research stage (in contentpipeline, below this app) may not import
        # publishing: it asks the finders registered here for posts to link to.
        from tasks.pipeline.stages.research import register_related_finder

        from .selectors import related_posts_for_brief

        register_related_finder(related_posts_for_brief)
