"""The outbound transport against peers on loopback that answer as slowly (tests/tarpit.py)
or as much as they can: the deadline covers the whole exchange, the socket is closed by
us when it passes, the response's head and body are capped, and the address guard
refuses without naming the address."""

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx2
import pytest

from tasks.pipeline.outbound import (
    MAX_HEAD_BYTES,
    AddressGuard,
    RefusedAddress,
    ResponseTooLarge,
    display_url,
    outbound_client,
)

from ...tarpit import Tarpit

DEADLINE = 0.5
# What "about a second" past a deadline allows on a busy machine.
MARGIN = 1.0
T = TypeVar("T")


def finished_within(seconds: float, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """What `function(*args, **kwargs)`, run in a thread of its own, returns (or raises);
    the test fails when it is still running after `seconds` (its thread is left behind,
    as a call without a deadline would leave it)."""
    outcome: Future = Future()

    def run() -> None:
        try:
            outcome.set_result(function(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the test as it is
            outcome.set_exception(exc)

    threading.Thread(target=run, name="call-under-test", daemon=True).start()
    try:
        return outcome.result(timeout=seconds)
    except FutureTimeout:
        pytest.fail(f"the call was still running {seconds:g} s after it started")


def threads_named(prefix: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(prefix)]


def no_thread_left(prefix: str, within: float) -> bool:
    """Whether every thread whose name starts with `prefix` ends within `within` s."""
    deadline = time.monotonic() + within
    while threads_named(prefix):
        if time.monotonic() > deadline:
            return False
        for thread in threads_named(prefix):
            thread.join(max(0.0, deadline - time.monotonic()))
    return True


def client(**kwargs: Any) -> httpx2.Client:
    return outbound_client(**{"deadline": DEADLINE, "max_response_bytes": 10**9, **kwargs})


@pytest.mark.parametrize(
    ("mode", "scheme", "error"),
    [
        ("headers", "http", httpx2.ReadTimeout),  # a head trickled a byte at a time
        ("body", "http", httpx2.ReadTimeout),  # a complete head, then a trickled body
        ("silent", "http", httpx2.ReadTimeout),  # a connection and nothing more
        ("silent", "https", httpx2.ConnectTimeout),  # a TLS handshake never answered
    ],
)
def test_a_slow_peer_is_cut_off_at_the_deadline_and_its_socket_closed_by_us(mode, scheme, error):
    with Tarpit(mode, interval=0.1) as tarpit, client() as outbound:
        url = tarpit.url.replace("http", scheme, 1)
        started = time.monotonic()
        # The request's own (per step) timeouts are far longer: the deadline ends it.
        with pytest.raises(error, match="deadline of 0.5 seconds passed"):
            finished_within(DEADLINE + MARGIN, outbound.get, url, timeout=30)

        assert time.monotonic() - started >= DEADLINE
        assert tarpit.accepted == 1
        assert tarpit.wait_closed(MARGIN)


def test_a_body_left_unread_is_closed_at_the_deadline_and_then_reads_as_a_timeout():
    with Tarpit("body", interval=0.1) as tarpit, client() as outbound:
        with outbound.stream("GET", tarpit.url) as response:
            assert response.status_code == 200  # the head came at once
            # Nobody reads: the transport itself closes the socket when the deadline passes.
            assert tarpit.wait_closed(DEADLINE + MARGIN)
            started = time.monotonic()
            with pytest.raises(httpx2.ReadTimeout):
                response.read()
            assert time.monotonic() - started < 0.1  # nothing left to wait for


class _KeepAliveServer:
    """An HTTP/1.1 server that keeps each connection open for the next request, and
    counts the connections its clients have closed."""

    def __init__(self) -> None:
        self.closed = threading.Semaphore(0)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the name is fixed by BaseHTTPRequestHandler
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def finish(self) -> None:  # the client closed the connection
                super().finish()
                server.closed.release()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_a_connection_does_not_outlive_its_response_even_when_the_peer_would_keep_it():
    server = _KeepAliveServer()
    try:
        with client(deadline=60) as outbound:
            assert outbound.get(server.url).content == b"ok"
            assert outbound.get(server.url).content == b"ok"
            # Long before the deadline, with the client still open: each response's
            # connection was closed with it, none kept for the next request.
            assert server.closed.acquire(timeout=MARGIN)
            assert server.closed.acquire(timeout=MARGIN)
    finally:
        server.close()


def test_an_endless_response_head_is_refused_at_the_head_cap():
    # As fast as the peer can send it: the cap, not the deadline, ends it.
    with Tarpit("headers", interval=0) as tarpit, client(deadline=30) as outbound:
        with pytest.raises(ResponseTooLarge, match=f"head is over {MAX_HEAD_BYTES} bytes"):
            finished_within(10, outbound.get, tarpit.url)
        assert tarpit.wait_closed(MARGIN)


class _BigHeadServer:
    """Answers every GET with a `head_bytes`-long header and a short body."""

    def __init__(self, head_bytes: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name is fixed by BaseHTTPRequestHandler
                self.send_response(200)
                self.send_header("X-Padding", "a" * head_bytes)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"body")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def big_head() -> Iterator[_BigHeadServer]:
    server = _BigHeadServer(MAX_HEAD_BYTES - 200)
    yield server
    server.close()


def test_a_head_just_under_the_cap_is_read_with_the_body_that_came_with_it(big_head):
    with client(deadline=5) as outbound:
        response = outbound.get(big_head.url)

    assert len(response.headers["X-Padding"]) == MAX_HEAD_BYTES - 200
    assert response.content == b"body"


def test_a_body_over_the_cap_closes_the_connection_with_a_clear_error():
    capped = client(deadline=30, max_response_bytes=100_000)
    with Tarpit("body", interval=0) as tarpit, capped as outbound:
        with pytest.raises(ResponseTooLarge, match="body is over 100000 bytes"):
            finished_within(10, outbound.get, tarpit.url)
        assert tarpit.wait_closed(MARGIN)


def test_the_guard_refuses_a_private_name_without_naming_its_address_or_connecting():
    with Tarpit("silent") as tarpit, client(guard=AddressGuard()) as outbound:
        for host in ("localhost", "127.0.0.1"):
            with pytest.raises(RefusedAddress) as refused:
                outbound.get(f"http://{host}:{tarpit.port}/")
            assert str(refused.value) == f"the host {host} is not a public address"
        assert tarpit.accepted == 0


def test_the_guard_lets_an_allowed_address_through():
    guard = AddressGuard.of(allow_private=False, allowed_addresses=["127.0.0.1"])
    with Tarpit("silent") as tarpit, client(guard=guard) as outbound:
        with pytest.raises(httpx2.ReadTimeout):
            outbound.get(tarpit.url)
        assert tarpit.accepted == 1


def test_a_name_lookup_that_hangs_is_not_waited_for_past_the_deadline(monkeypatch):
    # A resolver that never answers for this name (getaddrinfo cannot be interrupted):
    # the call ends at its deadline all the same.
    release = threading.Event()
    real = socket.getaddrinfo

    def hanging(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "hangs.example":
            release.wait(30)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        with client() as outbound, pytest.raises(httpx2.ConnectTimeout):
            finished_within(DEADLINE + MARGIN, outbound.get, "http://hangs.example/")
    finally:
        release.set()


def test_a_request_of_its_own_shorter_timeout_has_that_deadline():
    with Tarpit("headers", interval=0.1) as tarpit, client(deadline=30) as outbound:
        with pytest.raises(httpx2.ReadTimeout, match="deadline of 0.5 seconds"):
            finished_within(DEADLINE + MARGIN, outbound.get, tarpit.url, timeout=DEADLINE)


def test_display_url_drops_the_user_info_and_the_query():
    assert display_url("http://user:s3cret@llm.internal:8080/v1?key=k") == (
        "http://llm.internal:8080/v1"
    )
    assert display_url("https://api.openai.com/v1") == "https://api.openai.com/v1"
