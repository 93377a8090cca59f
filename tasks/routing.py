from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/tasks/", consumers.TaskListConsumer.as_asgi()),
    path("ws/tasks/<uuid:task_id>/", consumers.TaskProgressConsumer.as_asgi()),
    path("ws/image-generation/<uuid:task_id>/", consumers.ImageProgressConsumer.as_asgi()),
]
