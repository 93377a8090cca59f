"""Outbound HTTP: the one way the project calls other servers (webhook receivers, source
sites, model servers), so that no peer can hold a thread or a socket for long.

`outbound_client(...)` is an httpx2 client whose transport (`DeadlineTransport`, a public
`httpx2.BaseTransport` over an `httpcore2.ConnectionPool` with our own network backend)
guarantees, for every request it sends:

- A wall-clock deadline for the whole exchange: name lookup, connect, TLS, sending, the
  response head and the body, a body read long after the response came back included.
  Each socket operation waits at most min(its own timeout, the time left). When the
  deadline passes, a process-wide watchdog thread shuts the socket down and closes it
  (a thread blocked on it wakes at once, one that is not reading finds it closed), and
  the next operation raises httpx2's own timeout (`httpx2.ReadTimeout` and the like),
  so callers' `except httpx2.TimeoutException` and the openai client both see a
  timeout. The deadline is the client's `deadline`, or the request's own timeout
  when that is shorter (a fetch passes what is left of its budget to each redirect).
- Caps on bytes: a response head over MAX_HEAD_BYTES and a body over
  `max_response_bytes` (as sent, before any decoding) close the connection with
  ResponseTooLarge (an `httpx2.RemoteProtocolError`).
- With an AddressGuard, only public addresses (and those the guard names) are reached:
  the name is resolved here, every address it has is checked, and the socket connects
  to the very address checked, so a DNS answer that changes between check and connect
  (rebinding) gains nothing. Refusals say only that the host is not a public address:
  which private address a name resolves to would map the internal network.
- No socket outlives its response: each request has a connection pool of its own,
  closed with the response (no keep-alive between requests; a model call takes far
  longer than a connection's set-up).

Proxies named in the environment are not used: a proxy would make the connection for
us, outside the deadline and the guard.

Name lookup (getaddrinfo) cannot be interrupted: it runs in a short-lived daemon thread
of its own that the request waits for at most until its deadline. A resolver that
hangs keeps that one thread until the system resolver gives up (resolv.conf's
`timeout` and `attempts`, 5 s and 2 by default), never the caller. IP literals are
not looked up.
"""

import contextlib
import functools
import heapq
import ipaddress
import itertools
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore2
import httpx2

logger = logging.getLogger(__name__)

# httpcore2's h11 refuses a head over 100 KiB, and only once a read leaves it incomplete
# (python-hyper/h11#182): the transport counts the head's bytes itself and stops lower.
MAX_HEAD_BYTES = 64 * 1024
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (64:ff9b::/96)
# reaches that IPv4 address, so it is judged by it.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class HostError(Exception):
    """A URL's host cannot be used: it does not resolve, or the guard refuses it."""


class RefusedAddress(HostError):
    """The host resolves to an address the guard does not let us reach."""


class ResponseTooLarge(httpx2.RemoteProtocolError):
    """The peer sent more than the transport accepts (head or body); the connection is
    closed."""


class _HeadTooLarge(httpcore2.RemoteProtocolError):
    """Raised inside httpcore2 (which closes the connection), surfaced as ResponseTooLarge."""


# --- Addresses -------------------------------------------------------------------------


def address_refused(address: str) -> str | None:
    """What kind of non-public address the IP `address` is ("a loopback address"), or
    None when it is a global (public) one. For logs: messages never name it."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("%eth0") aside
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip.teredo is not None:
            ip = ip.teredo[1]
    # Most specific first: 127.0.0.1, 169.254.169.254 and 240.0.0.1 count as private too.
    for attribute, name in (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_reserved", "a reserved"),
        ("is_private", "a private"),
    ):
        if getattr(ip, attribute):
            return f"{name} address"
    if not ip.is_global:  # shared (carrier-grade NAT) space and the like
        return "a non-public address"
    return None


def normal_address(address: str) -> str:
    """The IP `address` written the one way Python writes it (zone aside)."""
    return str(ipaddress.ip_address(address.split("%", 1)[0]))


def resolve(host: str, port: int, *, timeout: float) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order, without repeats.
    HostError when it does not resolve, TimeoutError when the lookup takes longer than
    `timeout` seconds (the lookup's thread is left to end by itself)."""
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        found: Future[list] = Future()
        threading.Thread(
            target=_lookup, args=(found, host, port), name="outbound-lookup", daemon=True
        ).start()
        try:
            infos = found.result(timeout=max(timeout, 0))
        except FutureTimeout:
            raise TimeoutError(f"looking up {host!r} took over {timeout:g} seconds") from None
    else:  # an IP literal: nothing to look up, and nothing to wait for
        infos = _addresses(host, port)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _addresses(host: str, port: int) -> list:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise HostError(f"could not resolve the host {host!r}") from exc


def _lookup(found: Future, host: str, port: int) -> None:
    try:
        found.set_result(_addresses(host, port))
    except Exception as exc:  # whatever it is, the caller raises it
        found.set_exception(exc)


@dataclass(frozen=True)
class AddressGuard:
    """Which addresses outbound connections may reach: global (public) ones, and the IP
    addresses in `allowed` (one trusted internal server; tests' servers on loopback).
    `allow_private` lets every address through (the name is still resolved here)."""

    allow_private: bool = False
    allowed: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, *, allow_private: bool, allowed_addresses: Collection[str] = ()) -> "AddressGuard":
        return cls(allow_private, frozenset(normal_address(a) for a in allowed_addresses))

    def refuse(self, host: str, addresses: Iterable[str]) -> None:
        """Raise RefusedAddress when one of `addresses` (what `host` resolves to) may
        not be reached."""
        if self.allow_private:
            return
        for address in addresses:
            if normal_address(address) in self.allowed:
                continue
            if kind := address_refused(address):
                logger.info("Refused %s: it resolves to %s (%s)", host, kind, address)
                raise RefusedAddress(f"the host {host.strip('[]')} is not a public address")

    def check(self, host: str, port: int, *, timeout: float = 5.0) -> list[str]:
        """The addresses `host` resolves to, once the guard lets them all through: the
        same judgement as a connection's, made ahead of one (to refuse a URL when it is
        given, not only when it is used). HostError when the name does not resolve
        within `timeout` seconds, RefusedAddress when the guard refuses it."""
        try:
            addresses = resolve(host, port, timeout=timeout)
        except TimeoutError as exc:
            raise HostError(f"could not resolve the host {host!r} in time") from exc
        self.refuse(host, addresses)
        return addresses


def display_url(url: str) -> str:
    """`url` as messages, logs and reprs may show it: without its user info (a password
    in `http://user:pass@host/`) and without its query (where some servers take keys)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparsable URL)"
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# --- The deadline of one exchange ------------------------------------------------------


class _Exchange:
    """One request's deadline and its connection's socket. A socket operation runs
    inside `operation`, which bounds its timeout by the time left and refuses to start
    after the deadline; `expire` (the watchdog, at the deadline) shuts the socket down
    and closes it, or leaves the close to the operation under way."""

    def __init__(self, seconds: float, *, head_limit: int) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds
        self.head_limit = head_limit
        self.head_bytes = 0
        self.head_done = False
        self._lock = threading.Lock()
        self._stream: httpcore2.NetworkStream | None = None
        self._busy = False
        self._expired = False
        self._finished = False

    def left(self) -> float:
        return self.expires_at - time.monotonic()

    def message(self) -> str:
        return f"the deadline of {self.seconds:g} seconds passed"

    def open(
        self, opener: Callable[[float], httpcore2.NetworkStream], timeout: float | None
    ) -> "_Stream":
        """The stream `opener(its timeout)` opens (a connection, or TLS over one), from
        now on the one the deadline watches; closed again if the deadline passed while
        it was being opened."""
        stream = None
        try:
            with self.operation(timeout, httpcore2.ConnectTimeout) as bounded:
                stream = opener(bounded)
            with self._lock:
                self._stream = stream
                if self._expired or self._finished:
                    self._close_locked()
                    raise httpcore2.ConnectTimeout(self.message())
        except BaseException:
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
            raise
        return _Stream(stream, self)

    @contextlib.contextmanager
    def operation(self, timeout: float | None, error: type[Exception]) -> Iterator[float]:
        """The timeout for one socket operation: min(`timeout`, the time left). Raises
        `error` (an httpcore2 timeout) when the deadline passes before or during it."""
        with self._lock:
            left = self.left()
            if self._expired or left <= 0:
                self._expired = True
                self._close_locked()
                raise error(self.message())
            self._busy = True
        try:
            yield left if timeout is None else min(timeout, left)
        except (httpcore2.TimeoutException, httpcore2.NetworkError) as exc:
            if self._expired or self.left() <= 0:
                raise error(self.message()) from exc
            raise
        else:
            # A read the watchdog woke returns b"" (the socket shut down): that is not
            # the end of the body.
            if self._expired:
                raise error(self.message())
        finally:
            with self._lock:
                self._busy = False
                if self._expired:
                    self._close_locked()

    def expire(self) -> None:
        """The deadline passed: shut the socket down (waking any read blocked on it) and
        close it, unless an operation is under way (it closes it on its way out)."""
        with self._lock:
            if self._finished:
                return
            self._expired = True
            if self._stream is None:
                return
            sock = self._stream.get_extra_info("socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    # The plain socket's shutdown: an SSLSocket's own would drop its SSL
                    # object from under a thread reading it.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
            if not self._busy:
                self._close_locked()

    def finish(self) -> None:
        """The response is closed: nothing left to watch."""
        with self._lock:
            self._finished = True
            self._close_locked()

    def _close_locked(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(OSError):
                self._stream.close()
            self._stream = None


class _Watchdog:
    """One daemon thread a process, started on first use, that expires each exchange at
    its deadline (a heap of deadlines; finished exchanges are skipped)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, _Exchange]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, exchange: _Exchange) -> None:
        with self._wake:
            heapq.heappush(self._heap, (exchange.expires_at, next(self._order), exchange))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="outbound-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is exchange:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while True:
                    if not self._heap:
                        self._wake.wait()
                        continue
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        exchange = heapq.heappop(self._heap)[2]
                        break
                    self._wake.wait(wait)
            try:
                exchange.expire()
            except Exception:  # one socket's trouble must not stop the watch over the rest
                logger.exception("Closing a connection at its deadline failed")


_WATCHDOG = _Watchdog()
# A child process (a prefork worker) has no watchdog thread and perhaps a lock held by
# the parent's: it starts afresh.
os.register_at_fork(after_in_child=_WATCHDOG._reset)


# --- Network backend and stream ---------------------------------------------------------


class _Stream(httpcore2.NetworkStream):
    """A connection's stream whose every operation meets the exchange's deadline, and
    whose reads before the response head is complete count towards the head's cap."""

    def __init__(self, inner: httpcore2.NetworkStream, exchange: _Exchange) -> None:
        self._inner, self._exchange = inner, exchange

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        exchange = self._exchange
        head = not exchange.head_done
        if head:
            room = exchange.head_limit - exchange.head_bytes
            if room <= 0:
                raise _HeadTooLarge(f"the response head is over {exchange.head_limit} bytes")
            # No read runs past the cap: a head that fits is never refused for the body
            # bytes that came with it.
            max_bytes = min(max_bytes, room)
        with exchange.operation(timeout, httpcore2.ReadTimeout) as bounded:
            data = self._inner.read(max_bytes, bounded)
        if head:
            exchange.head_bytes += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with self._exchange.operation(timeout, httpcore2.WriteTimeout) as bounded:
            self._inner.write(buffer, bounded)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.NetworkStream:
        return self._exchange.open(
            lambda bounded: self._inner.start_tls(ssl_context, server_hostname, bounded),
            timeout,
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore2.NetworkBackend):
    """Opens one exchange's connection: the name looked up within the deadline, its
    addresses judged by the guard (if any), then a socket to one of those addresses."""

    def __init__(self, exchange: _Exchange, guard: AddressGuard | None) -> None:
        self._exchange, self._guard = exchange, guard
        self._plain = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        exchange = self._exchange
        with exchange.operation(timeout, httpcore2.ConnectTimeout) as bounded:
            try:
                addresses = resolve(host, port, timeout=bounded)
            except TimeoutError as exc:
                raise httpcore2.ConnectTimeout(str(exc)) from exc
            except HostError as exc:
                raise httpcore2.ConnectError(str(exc)) from exc
        if self._guard is not None:
            self._guard.refuse(host, addresses)
        failure: Exception = httpcore2.ConnectError(f"could not resolve the host {host!r}")
        for address in addresses:
            try:
                return exchange.open(
                    functools.partial(
                        self._plain.connect_tcp,
                        address,
                        port,
                        local_address=local_address,
                        socket_options=socket_options,
                    ),
                    timeout,
                )
            except httpcore2.ConnectError as exc:  # the next address, if any
                failure = exc
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        raise httpcore2.UnsupportedProtocol("outbound calls use TCP only")

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self._exchange.left())))


# --- Transport and client ---------------------------------------------------------------

# Most specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx2.HTTPError]], ...] = (
    (httpcore2.ConnectTimeout, httpx2.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx2.ReadTimeout),
    (httpcore2.WriteTimeout, httpx2.WriteTimeout),
    (httpcore2.PoolTimeout, httpx2.PoolTimeout),
    (httpcore2.TimeoutException, httpx2.TimeoutException),
    (httpcore2.ConnectError, httpx2.ConnectError),
    (httpcore2.ReadError, httpx2.ReadError),
    (httpcore2.WriteError, httpx2.WriteError),
    (httpcore2.NetworkError, httpx2.NetworkError),
    (httpcore2.ProxyError, httpx2.ProxyError),
    (httpcore2.UnsupportedProtocol, httpx2.UnsupportedProtocol),
    (httpcore2.LocalProtocolError, httpx2.LocalProtocolError),
    (httpcore2.RemoteProtocolError, httpx2.RemoteProtocolError),
    (httpcore2.ProtocolError, httpx2.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors(request: httpx2.Request) -> Iterator[None]:
    """httpcore2's exceptions as httpx2's, which is what httpx2's callers catch."""
    try:
        yield
    except _HeadTooLarge as exc:
        raise ResponseTooLarge(str(exc), request=request) from exc
    except tuple(core for core, _ in _ERRORS) as exc:
        ours = next(ours for core, ours in _ERRORS if isinstance(exc, core))
        raise ours(str(exc) or type(exc).__name__, request=request) from exc


class _Body(httpx2.SyncByteStream):
    """A response's body as it arrives, counted: past `limit` bytes the connection is
    closed and ResponseTooLarge raised. Closing it closes the request's pool."""

    def __init__(
        self,
        response: httpcore2.Response,
        pool: httpcore2.ConnectionPool,
        exchange: _Exchange,
        *,
        limit: int,
        request: httpx2.Request,
    ) -> None:
        self._response, self._pool, self._exchange = response, pool, exchange
        self._limit, self._request = limit, request

    def __iter__(self) -> Iterator[bytes]:
        received = 0
        with _httpx_errors(self._request):
            for chunk in self._response.iter_stream():
                received += len(chunk)
                if received > self._limit:
                    self.close()
                    raise ResponseTooLarge(
                        f"the response body is over {self._limit} bytes", request=self._request
                    )
                yield chunk

    def close(self) -> None:
        try:
            with contextlib.suppress(httpcore2.NetworkError, httpcore2.ProtocolError):
                self._response.close()
        finally:
            self._pool.close()
            self._exchange.finish()


_ssl_lock = threading.Lock()


def _ssl_context() -> ssl.SSLContext:
    # One context for every connection, made once even when many calls start together
    # (loading the trust store takes a while on a busy machine).
    with _ssl_lock:
        return _trust_store()


@functools.cache
def _trust_store() -> ssl.SSLContext:
    return httpx2.create_ssl_context()  # SSL_CERT_FILE / SSL_CERT_DIR honoured, as by httpx2


class DeadlineTransport(httpx2.BaseTransport):
    """Sends each request on a connection pool of its own, within a wall-clock
    deadline, with caps on the response's bytes and, given a guard, only to the
    addresses it allows (see the module's docstring)."""

    def __init__(
        self,
        *,
        deadline: float,
        max_response_bytes: int,
        guard: AddressGuard | None = None,
        max_head_bytes: int = MAX_HEAD_BYTES,
    ) -> None:
        if deadline <= 0 or max_response_bytes <= 0 or max_head_bytes <= 0:
            raise ValueError("a deadline and byte caps are positive")
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self.max_head_bytes = max_head_bytes
        self.guard = guard

    def deadline_of(self, request: httpx2.Request) -> float:
        """Seconds the whole exchange may take: the transport's deadline, or the
        request's own timeout (its longest phase) when that is shorter."""
        timeouts = request.extensions.get("timeout") or {}
        own = [value for value in timeouts.values() if value is not None]
        return min(self.deadline, max(own)) if own else self.deadline

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if not isinstance(request.stream, httpx2.SyncByteStream):  # pragma: no cover
            raise TypeError("DeadlineTransport is a sync transport")
        # Loaded once, when first needed, before the clock starts.
        ssl_context = _ssl_context() if request.url.scheme == "https" else None
        exchange = _Exchange(self.deadline_of(request), head_limit=self.max_head_bytes)
        pool = httpcore2.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=1,
            network_backend=_Backend(exchange, self.guard),
        )
        _WATCHDOG.watch(exchange)
        core_request = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            with _httpx_errors(request):
                response = pool.handle_request(core_request)
        except BaseException:
            pool.close()
            exchange.finish()
            raise
        exchange.head_done = True
        return httpx2.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response, pool, exchange, limit=self.max_response_bytes, request=request),
            extensions=response.extensions,
        )


def outbound_client(
    *,
    deadline: float,
    max_response_bytes: int,
    guard: AddressGuard | None = None,
    headers: Mapping[str, str] | None = None,
    event_hooks: Mapping[str, list[Callable[..., Any]]] | None = None,
    follow_redirects: bool = False,
    base_url: str = "",
) -> httpx2.Client:
    """An httpx2 client for calls to other servers: each request within `deadline`
    seconds for the whole exchange (or its own timeout, when shorter), its response
    head and body capped (MAX_HEAD_BYTES, `max_response_bytes`), connections only to
    addresses `guard` allows (when given); no proxy from the environment. Redirects are
    not followed unless `follow_redirects` (each hop is then a request of its own, with
    its own deadline). `event_hooks` are httpx2's ("request", "response")."""
    return httpx2.Client(
        transport=DeadlineTransport(
            deadline=deadline, max_response_bytes=max_response_bytes, guard=guard
        ),
        timeout=httpx2.Timeout(deadline),
        trust_env=False,
        follow_redirects=follow_redirects,
        headers=headers,
        event_hooks=event_hooks,
        base_url=base_url,
    )
