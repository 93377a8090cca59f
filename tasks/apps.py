from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Content tasks"

    def ready(self) -> None:
        from contentpipeline.prometheus import register_collector

        from .prometheus import PipelineCollector

        # Read at each scrape of /metrics, not now.
        register_collector(PipelineCollector())
