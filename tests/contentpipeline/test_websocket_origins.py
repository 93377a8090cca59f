"""Which browsers may open a WebSocket: the handshake's Origin must be the site's own
(scheme, host and port, the scheme being the one the connection came in on) or one of
CSRF_TRUSTED_ORIGINS, as Django judges the Origin of a form's POST; the Host must be
one ALLOWED_HOSTS allows; a client that sends no Origin is not a browser and goes on to
authenticate."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.test import RequestFactory
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidStatus

from contentpipeline.asgi import application
from contentpipeline.websocket import handshake_allowed

from ..factories import UserFactory, token_for
from ..tasks.factories import ContentTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def socket_path(transactional_db):
    """A task socket its owner may open, with their token."""
    task = ContentTaskFactory()
    return f"/ws/tasks/{task.pk}/?token={token_for(task.created_by)}"


async def opens(path: str, *, host: str, origin: str | None = None, scheme: str = "ws",
                headers=()) -> bool:  # fmt: skip
    """Whether the handshake is accepted (and the task's state then arrives)."""
    sent = [(b"host", host.encode()), *headers]
    if origin is not None:
        sent.append((b"origin", origin.encode()))
    communicator = WebsocketCommunicator(application, path, headers=sent)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    if connected:
        assert (await communicator.receive_json_from(timeout=5))["type"] == "task.progress"
        await communicator.disconnect()
    return connected


async def test_a_page_on_the_same_host_at_another_port_is_refused(socket_path):
    assert await opens(socket_path, host="localhost:8000", origin="http://localhost:8000")
    assert not await opens(socket_path, host="localhost:8000", origin="http://localhost:8001")
    assert not await opens(socket_path, host="localhost", origin="http://localhost:8080")
    assert not await opens(socket_path, host="localhost:8000", origin="http://localhost")


async def test_a_sibling_subdomain_that_allowed_hosts_also_allows_is_refused(socket_path, settings):
    settings.ALLOWED_HOSTS = [".example.com"]
    assert await opens(socket_path, host="app.example.com", origin="http://app.example.com")
    assert not await opens(socket_path, host="app.example.com", origin="http://evil.example.com")
    assert not await opens(socket_path, host="app.example.com", origin="http://example.com")


async def test_an_http_page_may_not_open_a_socket_that_came_in_over_wss(socket_path, settings):
    settings.ALLOWED_HOSTS = ["app.example.com"]
    host = "app.example.com"
    assert await opens(socket_path, host=host, origin="https://app.example.com", scheme="wss")
    assert not await opens(socket_path, host=host, origin="http://app.example.com", scheme="wss")
    assert not await opens(socket_path, host=host, origin="https://app.example.com", scheme="ws")


@pytest.mark.parametrize("forwarded", [b"https", b"wss"])
async def test_behind_a_proxy_the_scheme_is_the_one_secure_proxy_ssl_header_names(
    socket_path, settings, forwarded
):
    settings.ALLOWED_HOSTS = ["app.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    proxied = [(b"x-forwarded-proto", forwarded)]
    host = "app.example.com"
    assert await opens(socket_path, host=host, origin="https://app.example.com", headers=proxied)
    assert not await opens(socket_path, host=host, origin="http://app.example.com", headers=proxied)


async def test_an_origin_in_csrf_trusted_origins_is_accepted(socket_path, settings):
    settings.ALLOWED_HOSTS = ["app.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://admin.example.org", "https://*.example.net"]
    host = "app.example.com"
    assert await opens(socket_path, host=host, origin="https://admin.example.org")
    assert await opens(socket_path, host=host, origin="https://cms.example.net")
    assert not await opens(socket_path, host=host, origin="http://admin.example.org")
    assert not await opens(socket_path, host=host, origin="https://admin.example.org:8443")
    assert not await opens(socket_path, host=host, origin="http://cms.example.net")
    assert not await opens(socket_path, host=host, origin="https://example.net.evil.test")


async def test_a_host_that_allowed_hosts_refuses_is_refused_with_or_without_origin(socket_path):
    # A page on a name that resolves to this server (DNS rebinding) is its own origin.
    assert not await opens(socket_path, host="rebound.example", origin="http://rebound.example")
    assert not await opens(socket_path, host="rebound.example")
    assert await opens(socket_path, host="localhost")


async def test_a_client_without_origin_goes_on_to_authenticate(socket_path):
    assert await opens(socket_path, host="localhost:8000")
    anonymous = WebsocketCommunicator(
        application, socket_path.split("?")[0], headers=[(b"host", b"localhost:8000")]
    )
    assert (await anonymous.connect())[0]
    closed = await anonymous.receive_output(timeout=5)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4401)


# (scheme of the connection, Host, Origin, X-Forwarded-Proto, CSRF_TRUSTED_ORIGINS, accepted)
CASES = [
    ("ws", "localhost:8000", "http://localhost:8000", None, [], True),
    ("ws", "localhost:8000", "http://localhost:8001", None, [], False),
    ("ws", "localhost:8000", "https://localhost:8000", None, [], False),
    ("wss", "app.example.com", "https://app.example.com", None, [], True),
    ("wss", "app.example.com", "http://app.example.com", None, [], False),
    ("ws", "app.example.com", "https://app.example.com", "https", [], True),
    ("ws", "app.example.com", "https://app.example.com", "http", [], False),
    ("ws", "app.example.com", "http://evil.example.com", None, [], False),
    ("ws", "app.example.com", "https://a.example.org", None, ["https://*.example.org"], True),
    ("ws", "app.example.com", "https://example.org", None, ["https://*.example.org"], True),
    ("ws", "app.example.com", "https://a.example.org:444", None, ["https://*.example.org"], False),
    ("ws", "app.example.com", "http://a.example.org", None, ["https://*.example.org"], False),
    ("ws", "app.example.com", "https://b.example.org", None, ["https://b.example.org"], True),
    ("ws", "app.example.com", "https://c.example.org", None, ["https://b.example.org"], False),
    ("ws", "app.example.com", "null", None, [], False),
    ("ws", "app.example.com", "http://[::1", None, ["https://*.example.org"], False),
    ("ws", "nowhere.test", "http://nowhere.test", None, [], False),
]


@pytest.mark.parametrize(("scheme", "host", "origin", "proto", "trusted", "accepted"), CASES)
def test_a_browser_may_open_a_socket_where_django_would_accept_its_post(
    settings, scheme, host, origin, proto, trusted, accepted
):
    """The same judgment as CsrfViewMiddleware's on a POST with the same Origin (and a
    valid CSRF token): a change to Django's rule shows here."""
    settings.ALLOWED_HOSTS = ["localhost", ".example.com"]
    settings.CSRF_TRUSTED_ORIGINS = trusted
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    headers = [(b"host", host.encode()), (b"origin", origin.encode())]
    meta = {"HTTP_HOST": host, "HTTP_ORIGIN": origin}
    if proto:
        headers.append((b"x-forwarded-proto", proto.encode()))
        meta["HTTP_X_FORWARDED_PROTO"] = proto
    scope = {"type": "websocket", "path": "/ws/tasks/", "headers": headers, "scheme": scheme}

    post = RequestFactory().post("/", secure=scheme == "wss", **meta)
    post.COOKIES[settings.CSRF_COOKIE_NAME] = token = get_token(RequestFactory().get("/"))
    post.META["HTTP_X_CSRFTOKEN"] = token
    middleware = CsrfViewMiddleware(lambda request: HttpResponse())
    post_accepted = middleware.process_view(post, lambda request: None, (), {}) is None

    assert handshake_allowed(scope) is accepted
    assert post_accepted is accepted


async def test_a_live_server_accepts_its_own_origin_and_refuses_its_neighbours(asgi_server):
    user = await database_sync_to_async(UserFactory)()
    task = await database_sync_to_async(ContentTaskFactory)(created_by=user)
    token = await database_sync_to_async(token_for)(user)
    url = f"{asgi_server.ws_url}/ws/tasks/{task.pk}/?token={token}"
    own = f"http://127.0.0.1:{asgi_server.port}"

    async def status(origin=None, headers=None) -> int:
        try:
            async with ws_connect(url, origin=origin, additional_headers=headers,
                                  open_timeout=10) as socket:  # fmt: skip
                await asyncio.wait_for(socket.recv(), 10)  # the task's state
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    assert await status(own) == 101
    assert await status() == 101  # no Origin: not a browser, and it has a token
    assert await status(f"http://127.0.0.1:{asgi_server.port + 1}") == 403
    assert await status(f"http://localhost:{asgi_server.port}") == 403
    assert await status(f"https://127.0.0.1:{asgi_server.port}") == 403
    behind_tls = {"X-Forwarded-Proto": "https"}
    assert await status(f"https://127.0.0.1:{asgi_server.port}", behind_tls) == 101
    assert await status(own, behind_tls) == 403
