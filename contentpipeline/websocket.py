"""What every WebSocket passes before it reaches a consumer: the origin check, token
auth, and an answer for paths nobody serves."""

import logging
import re
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404

# DRF's keys are 40 hex characters; anything else cannot be a token and must not reach
# the database (a NUL byte there is an error, not a miss).
_TOKEN = re.compile(r"[0-9A-Za-z]{1,64}")


class BrowserOriginValidator(OriginValidator):
    """Browsers always send `Origin` on a WebSocket handshake, and a foreign one is
    refused (cross-site WebSocket hijacking rides on the browser's cookies). A client
    without `Origin` is not a browser (websocat, Python, Node): nothing rides on it, so
    it passes here and must still authenticate, normally with `?token=`."""

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def AllowedHostsBrowserOriginValidator(application):  # noqa: N802 - named like Channels' own
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed)


@database_sync_to_async
def _user_for_token(key: str):
    """The user DRF's TokenAuthentication accepts for `key` (unknown keys and inactive
    users are refused there), or None."""
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.exceptions import AuthenticationFailed

    try:
        return TokenAuthentication().authenticate_credentials(key)[0]
    except AuthenticationFailed:
        return None


class TokenAuthMiddleware(BaseMiddleware):
    """Sits inside AuthMiddlewareStack: a valid `?token=` overrides the session user; an
    invalid one makes the connection anonymous rather than falling back silently."""

    async def __call__(self, scope, receive, send):
        raw = scope.get("query_string", b"").decode("utf-8", errors="replace")
        query = parse_qs(raw)
        if "token" in query:
            key = query["token"][0]
            user = await _user_for_token(key) if _TOKEN.fullmatch(key) else None
            scope = dict(scope, user=user or AnonymousUser())
        return await super().__call__(scope, receive, send)


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any path no route matches: accepted, then closed with 4404, so the client gets a
    close code rather than a failed handshake (and the server logs no error)."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)
