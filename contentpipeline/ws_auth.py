"""WebSocket auth by `?token=<key>`, beside Channels' session auth."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from rest_framework.authtoken.models import Token


@database_sync_to_async
def _user_for_token(key: str):
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """Sits inside AuthMiddlewareStack: a valid token overrides the session user; an
    invalid one makes the connection anonymous rather than falling back silently."""

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode())
        if "token" in query:
            from django.contrib.auth.models import AnonymousUser

            user = await _user_for_token(query["token"][0])
            scope = dict(scope, user=user or AnonymousUser())
        return await super().__call__(scope, receive, send)
