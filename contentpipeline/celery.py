import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from contentpipeline import observability

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contentpipeline.settings")

app = Celery("contentpipeline")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# A request's id goes with the messages it publishes, and is the task's in the worker.
before_task_publish.connect(observability.publish_request_id, dispatch_uid="request-id-publish")
task_prerun.connect(observability.adopt_request_id, dispatch_uid="request-id-prerun")
task_postrun.connect(observability.drop_request_id, dispatch_uid="request-id-postrun")
