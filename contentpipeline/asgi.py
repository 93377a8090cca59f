import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contentpipeline.settings")
# Django must be set up before consumers (and their models) are imported.
django_asgi_app = get_asgi_application()

from contentpipeline.daphne_requests import leave_request_bodies_to_django  # noqa: E402

leave_request_bodies_to_django()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from contentpipeline.edge_cache import EdgePageCache  # noqa: E402
from contentpipeline.websocket import (  # noqa: E402
    SiteOriginValidator,
    TokenAuthMiddleware,
    UnknownPathConsumer,
)
from tasks.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": EdgePageCache(django_asgi_app),
        "websocket": SiteOriginValidator(
            AuthMiddlewareStack(
                TokenAuthMiddleware(
                    URLRouter([*websocket_urlpatterns, re_path(r"", UnknownPathConsumer.as_asgi())])
                )
            )
        ),
    }
)
