"""Public pages for readers without a session, answered in front of Django.

The page cache in the views (the `content` tier) still runs Django's middleware for
every request, which costs more on this server than rendering a cached page. Here
an ASGI layer answers a repeated anonymous GET of a page straight from Redis: one
round trip (the content version and the entry together), no thread, no middleware.

Only what the site marks as shareable is kept: a 200 without cookies whose view set
the `X-Page-Cache` header (the views' page cache does, for anonymous readers); the
header never leaves the server. Entries carry the content version they were made
under and count only while it is current, so a post change (which bumps it) makes
every stored page stale at once. A session cookie, any method but GET and HEAD, a
query other than a page number, or Redis unreachable: the request goes to Django.
A page answered here is logged and counted as Django's middleware does for the others,
with a request id of its own (the stored page's is left out).
"""

import asyncio
import hashlib
import json
import logging
import re
import time
from typing import Any

import redis.asyncio as aioredis
from django.conf import settings
from django.core.cache import cache

from . import cache as app_cache
from .observability import record_request, request_id_for

logger = logging.getLogger(__name__)

MARKER = b"x-page-cache"
REQUEST_ID = b"x-request-id"
# Headers of a page's first answer that are not the page's: never stored.
_NOT_KEPT = (MARKER, REQUEST_ID)
# The pages it may answer: a path, optionally with a page number.
_QUERY = re.compile(rb"((page|p)=\d{1,6})?")
_SKIP_PREFIXES = ("/api/", "/admin/", "/media/", "/static/", "/ws/")
_clients: dict[Any, aioredis.Redis] = {}


def _client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        location = settings.CACHES["default"]["LOCATION"]
        timeout = settings.CACHE_TIMEOUT
        client = aioredis.Redis.from_url(
            location, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        _clients[loop] = client
    return client


def _has_session(scope) -> bool:
    name = settings.SESSION_COOKIE_NAME.encode()
    for header, value in scope.get("headers", []):
        if header == b"cookie" and name + b"=" in value:
            return True
    return False


def _key(scope) -> str | None:
    """The entry's Redis key, or None when this request is not for the edge."""
    path = scope.get("path", "")
    if (
        scope.get("method") not in ("GET", "HEAD")
        or path.startswith(_SKIP_PREFIXES)
        or not _QUERY.fullmatch(scope.get("query_string", b""))
        or _has_session(scope)
    ):
        return None
    host = next((v for h, v in scope.get("headers", []) if h == b"host"), b"")
    address = b"%s|%s|%s|%s" % (
        scope.get("scheme", "http").encode(),
        host,
        path.encode("utf-8", "surrogateescape"),
        scope.get("query_string", b""),
    )
    return cache.make_key(f"edge:{hashlib.sha256(address).hexdigest()}")


class EdgePageCache:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        key = _key(scope) if scope["type"] == "http" and app_cache.cache_available() else None
        if key is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            version, entry = await _client().mget(cache.make_key(app_cache.VERSION_KEY), key)
        except app_cache.CACHE_ERRORS as exc:
            app_cache.mark_down(exc)
            await self.app(scope, receive, send)
            return
        version = int(version or 0)
        if entry:
            head, _, body = entry.partition(b"\n")
            stored = json.loads(head)
            if stored["version"] == version:
                app_cache.count("hits")
                request_id = request_id_for(_header(scope, REQUEST_ID))
                await _replay(send, scope, stored, body, request_id)
                record_request(method=scope["method"], path=scope["path"], status=200,
                               started=started, user_id=None, request_id=request_id)  # fmt: skip
                return
        await self._pass_and_keep(scope, receive, send, key, version)

    async def _pass_and_keep(self, scope, receive, send, key: str, version: int) -> None:
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                headers = [(h, v) for h, v in message.get("headers", []) if h.lower() != MARKER]
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if scope.get("method") != "GET":  # a HEAD answer has no body to keep
            return
        headers = start.get("headers", [])
        names = {h.lower() for h, _ in headers}
        if start.get("status") != 200 or MARKER not in names or b"set-cookie" in names:
            return
        app_cache.count("misses")  # a shareable page that was not kept (yet)
        kept = [[h.decode("latin-1"), v.decode("latin-1")] for h, v in headers
                if h.lower() not in _NOT_KEPT]  # fmt: skip
        head = json.dumps({"version": version, "headers": kept}).encode()
        try:
            await _client().set(key, head + b"\n" + b"".join(chunks),
                                ex=app_cache.TIERS["content"])  # fmt: skip
        except app_cache.CACHE_ERRORS as exc:
            app_cache.mark_down(exc)


def _header(scope, name: bytes) -> str | None:
    for header, value in scope.get("headers", []):
        if header.lower() == name:
            return value.decode("latin-1")
    return None


async def _replay(send, scope, stored: dict, body: bytes, request_id: str) -> None:
    headers = [(h.encode("latin-1"), v.encode("latin-1")) for h, v in stored["headers"]]
    headers.append((REQUEST_ID, request_id.encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body",
                "body": b"" if scope.get("method") == "HEAD" else body})  # fmt: skip
