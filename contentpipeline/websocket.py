"""What every WebSocket passes before it reaches a consumer: the Host and Origin
checks, token auth, and an answer for paths nobody serves; and the credential an open
socket's rights are checked against again while it stays open."""

import io
import logging
import re
from dataclasses import dataclass
from importlib import import_module
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest
from django.utils.http import is_same_domain

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404

# DRF's keys are 40 hex characters; anything else cannot be a token and must not reach
# the database (a NUL byte there is an error, not a miss).
_TOKEN = re.compile(r"[0-9A-Za-z]{1,64}")

# Proxies that tell a WebSocket's scheme apart (Traefik) say ws or wss where Django's
# SECURE_PROXY_SSL_HEADER expects http or https.
_HTTP_SCHEME = {"ws": "http", "wss": "https"}


def handshake_request(scope) -> HttpRequest:
    """The handshake as Django reads an HTTP request: its headers (Host, Origin,
    X-Forwarded-*) in META, the server's address, and the scheme it came in on, ws as
    http and wss as https; `request.scheme` then applies SECURE_PROXY_SSL_HEADER and
    `request.get_host()` ALLOWED_HOSTS, as for any page."""
    request = ASGIRequest(
        {
            "type": "http",
            "method": "GET",
            "path": scope.get("path", "/"),
            "root_path": scope.get("root_path", ""),
            "query_string": b"",  # not needed here, and not always UTF-8
            "headers": scope.get("headers", []),
            "client": scope.get("client"),
            "server": scope.get("server"),
            "scheme": _HTTP_SCHEME.get(scope.get("scheme", "ws"), "http"),
        },
        io.BytesIO(),
    )
    if settings.SECURE_PROXY_SSL_HEADER:
        header = settings.SECURE_PROXY_SSL_HEADER[0]
        forwarded = request.META.get(header)
        if forwarded is not None:
            first, *rest = forwarded.split(",")
            first = _HTTP_SCHEME.get(first.strip(), first)
            request.META[header] = ",".join([first, *rest])
    return request


def origin_allowed(request: HttpRequest) -> bool:
    """Whether a browser at the request's `Origin` may open it, by Django's own rule
    for unsafe requests (CsrfViewMiddleware): the request's own origin (its scheme, and
    a Host that ALLOWED_HOSTS allows, port included), or one of CSRF_TRUSTED_ORIGINS,
    where `https://*.example.com` stands for the subdomains of example.com over https.
    Scheme, host and port all count: the same host at another port, or a sibling
    subdomain that an ALLOWED_HOSTS pattern also allows, is another site."""
    origin = request.META["HTTP_ORIGIN"]
    try:
        own = f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:
        own = None
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin == own or origin in {o for o in trusted if "*" not in o}:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    return any(
        is_same_domain(parsed.netloc, pattern.netloc.lstrip("*"))
        for pattern in (urlsplit(o) for o in trusted if "*" in o)
        if pattern.scheme == parsed.scheme
    )


def handshake_allowed(scope) -> bool:
    """A Host that ALLOWED_HOSTS refuses is refused, as Django refuses it on any page.
    A browser always sends `Origin`, and one that is not the site's is refused
    (cross-site WebSocket hijacking rides on the browser's cookies). A client without
    `Origin` is not a browser (websocat, Python, Node): nothing rides on it, so it passes
    here and must still authenticate, normally with `?token=`."""
    request = handshake_request(scope)
    if "HTTP_HOST" in request.META:
        try:
            request.get_host()
        except DisallowedHost:
            logger.warning("WebSocket refused: Host %r is not allowed", request.META["HTTP_HOST"])
            return False
    if "HTTP_ORIGIN" not in request.META:
        return True
    if origin_allowed(request):
        return True
    logger.warning("WebSocket refused: Origin %r is not this site's", request.META["HTTP_ORIGIN"])
    return False


class SiteOriginValidator:
    """In front of every WebSocket: a handshake `handshake_allowed` refuses is closed
    before it is accepted (the client sees HTTP 403), as Channels' origin validator does."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("SiteOriginValidator only serves WebSocket connections")
        if handshake_allowed(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


@dataclass(frozen=True)
class Credential:
    """What a socket authenticated with: a token's key or a session's key. An open
    socket's rights are checked against it again, so a deleted token, a session logged
    out (or expired) or a deactivated user ends them."""

    kind: str  # "token" or "session"
    key: str

    def current_user(self):
        """The active user the credential still authenticates, read afresh; None when it
        no longer does. Reads the database: call it from sync code."""
        if self.kind == "token":
            return _token_user(self.key)
        request = HttpRequest()
        request.session = import_module(settings.SESSION_ENGINE).SessionStore(self.key)
        user = get_user(request)  # Django's own checks: backend, session hash, active
        return user if user.is_authenticated else None


def credential_user_ids(credentials) -> dict:
    """The id of the active user each credential still authenticates, or None, read
    afresh for many sockets at once: every token in one query (a key that exists, of an
    active user, as DRF's TokenAuthentication judges it), sessions each through Django's
    own check. Reads the database: call it from sync code."""
    from rest_framework.authentication import TokenAuthentication

    keys = {c.key for c in credentials if c.kind == "token"}
    tokens = TokenAuthentication().get_model().objects.filter(key__in=keys, user__is_active=True)
    active = dict(tokens.values_list("key", "user_id"))
    ids = {}
    for credential in credentials:
        if credential.kind == "token":
            ids[credential] = active.get(credential.key)
        else:
            user = credential.current_user()
            ids[credential] = None if user is None else user.pk
    return ids


def _token_user(key: str):
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
    invalid one makes the connection anonymous rather than falling back silently.
    Whichever authenticated the user is kept as `scope["credential"]`."""

    async def __call__(self, scope, receive, send):
        raw = scope.get("query_string", b"").decode("utf-8", errors="replace")
        query = parse_qs(raw)
        credential = None
        if "token" in query:
            key = query["token"][0]
            user = await database_sync_to_async(_token_user)(key) if _TOKEN.fullmatch(key) else None
            scope = dict(scope, user=user or AnonymousUser())
            if user is not None:
                credential = Credential("token", key)
        else:
            user, session = scope.get("user"), scope.get("session")
            if user is not None and user.is_authenticated and session is not None:
                credential = Credential("session", session.session_key)
        scope = dict(scope, credential=credential)
        return await super().__call__(scope, receive, send)


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Any path no route matches: accepted, then closed with 4404, so the client gets a
    close code rather than a failed handshake (and the server logs no error)."""

    async def connect(self) -> None:
        await self.accept()
        await self.close(code=CLOSE_NOT_FOUND)
