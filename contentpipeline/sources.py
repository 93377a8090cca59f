"""Reading a task's source pages for the research stage: the readable text and title of
each URL, or why it could not be read.

- Fetch: httpx GET, one deadline of `timeout` seconds for the whole of a source (name
  lookup, connection, redirects and body), at most MAX_REDIRECTS redirects followed one
  by one (http and https only, each one checked like the first URL). Proxies named in
  the environment are ignored: a proxy would make the connection for us, unchecked.
- Addresses: unless `allow_private`, a host must resolve only to global addresses (or
  ones named in `allowed_addresses`); one loopback, private, link-local, multicast,
  reserved, unspecified or otherwise non-public address refuses the source (IPv6 too,
  and IPv4 inside IPv6: mapped, NAT64, 6to4, Teredo). The check is made where the
  connection is opened (the transport's network backend), and the socket connects to
  the very address that was checked: a name whose DNS answer changes between check
  and connect (rebinding) gains nothing, and each redirect's host goes through the
  same check.
- Size: the body is read in chunks and reading stops at `max_bytes`. What was read is
  kept and the source says `truncated`: the text kept is bounded to MAX_TEXT_CHARS
  anyway, and a long page (a long encyclopedia article) has its main text first.
  Bodies are asked for uncompressed; one sent compressed all the same is decoded a
  chunk at a time, and the limit counts the decoded bytes.
- Types: text/html and text/plain only, judged from the Content-Type header before the
  body is read.
- Extraction: trafilatura finds the main text and the title of a page (navigation,
  footers, scripts and styles left out); plain text is taken as it is. Scripts, styles
  and the like are removed first, and a page of more than MAX_PAGE_ELEMENTS elements
  is cut there (`truncated` again): extraction time grows faster than the page. NUL
  bytes are removed, the text is cut at MAX_TEXT_CHARS.
- Failures never raise: the source's `ok` is False and `error` says what went wrong.
- The sources are read at the same time, one thread each, so five slow sites take as
  long as the slowest one, not five times as long.
"""

import ipaddress
import itertools
import logging
import re
import socket
import time
from collections.abc import Collection, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import httpcore
import httpx
import trafilatura
from lxml import etree

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
MAX_TEXT_CHARS = 4_000
MAX_TITLE_CHARS = 300
# Threads at most, however many URLs (a task has at most 5).
MAX_WORKERS = 8
# Extracting the text of a large page takes a moment after its download: the wait for
# all sources allows this much on top of the fetch timeout.
EXTRACTION_GRACE = 5.0
ALLOWED_TYPES = ("text/html", "text/plain")
# Elements never part of the readable text, removed before extraction (cheaply: an
# inline script can be most of a page's bytes).
NOISE_TAGS = ("script", "style", "svg", "template", "iframe")
# Extraction time grows with the number of elements, and faster than linearly: a page
# is cut after this many (in document order), which keeps a source's extraction under
# about a second. The 4,000 characters kept come from the start of the main text, well
# within that.
MAX_PAGE_ELEMENTS = 5_000
HEADERS = {
    "User-Agent": "contentpipeline-research/1.0 (reads the sources named in a content task)",
    "Accept": "text/html, text/plain;q=0.9",
    "Accept-Encoding": "identity",
}
# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64 (64:ff9b::/96)
# reaches that IPv4 address, so it is judged by it.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_SPACES = re.compile(r"[ \t\r\f\v]+")


class SourceError(Exception):
    """Why one source could not be read: its message is the source's `error`."""


class RefusedAddress(SourceError):
    """The source's host resolves to an address the server may not be made to reach."""


def address_refused(address: str) -> str | None:
    """Why the IP `address` may not be fetched from ("a loopback address"), or None
    when it is a global (public) address."""
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


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order, without repeats."""
    try:
        found = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceError(f"could not resolve the host {host!r}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in found))


class _CheckedBackend(httpcore.SyncBackend):
    """Opens connections only to checked addresses: the name is resolved here, every
    address it has is checked, and the socket connects to one of those addresses."""

    def __init__(self, *, allow_private: bool, allowed: frozenset[str]) -> None:
        self.allow_private, self.allowed = allow_private, allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        if not self.allow_private and (refusal := _refusal(host, addresses, self.allowed)):
            raise RefusedAddress(f"refused: {refusal}")
        failure: Exception = SourceError(f"could not resolve the host {host!r}")
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure


def _normal(address: str) -> str:
    return str(ipaddress.ip_address(address.split("%", 1)[0]))


def _refusal(host: str, addresses: Iterable[str], allowed: frozenset[str]) -> str | None:
    """Why `host` may not be reached at one of its `addresses` (none of `allowed`)."""
    for address in addresses:
        reason = None if _normal(address) in allowed else address_refused(address)
        if reason:
            return f"the host {host} resolves to {reason} ({address})"
    return None


def guarded_client(
    *,
    allow_private: bool,
    allowed_addresses: Collection[str] = (),
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """An httpx client that connects only to addresses the guard allows (see the
    module's docstring: checked where the connection is opened, so DNS rebinding gains
    nothing), follows no redirect and ignores proxies named in the environment. What
    else reaches URLs that users give (webhooks) uses it too."""
    allowed = frozenset(_normal(address) for address in allowed_addresses)
    return _client(allow_private=allow_private, allowed=allowed, headers=headers)


def check_host(
    host: str, port: int, *, allow_private: bool, allowed_addresses: Collection[str] = ()
) -> None:
    """Raise RefusedAddress when `host` resolves to an address the guard refuses, or
    SourceError when it does not resolve: the same judgement as a connection's, made
    ahead of one (to refuse a URL when it is given, not only when it is used)."""
    addresses = resolve(host, port)
    if allow_private:
        return
    allowed = frozenset(_normal(address) for address in allowed_addresses)
    if refusal := _refusal(host, addresses, allowed):
        raise RefusedAddress(refusal)


def _client(
    *, allow_private: bool, allowed: frozenset[str], headers: dict[str, str] | None = None
) -> httpx.Client:
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no argument for the network backend: its pool is replaced by one that
    # connects through the checked backend (tests/contentpipeline/test_sources.py
    # shows that no refused address is ever connected to).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=_CheckedBackend(allow_private=allow_private, allowed=allowed),
    )
    return httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        headers=HEADERS if headers is None else headers,
    )


def fetch_sources(
    urls: Iterable[str],
    *,
    timeout: float,
    max_bytes: int,
    allow_private: bool,
    allowed_addresses: Collection[str] = (),
) -> list[dict[str, Any]]:
    """One result per URL, in order: {"url", "title", "text", "ok", "error",
    "truncated"}. `text` is the page's main text (at most MAX_TEXT_CHARS characters),
    `ok` says whether there is any, `error` why not ("" when ok), `truncated` that the
    page was cut before its text was taken (at `max_bytes`, or MAX_PAGE_ELEMENTS).
    The URLs are read concurrently, each within `timeout` seconds; loopback, private
    and other non-public addresses are refused unless `allow_private`, except the IP
    addresses in `allowed_addresses` (one trusted internal server; the tests' pages on
    loopback). Never raises for a source that cannot be read."""
    urls = list(urls)
    if not urls:
        return []
    allowed = frozenset(_normal(address) for address in allowed_addresses)
    deadline = time.monotonic() + timeout
    pool = ThreadPoolExecutor(
        max_workers=min(len(urls), MAX_WORKERS), thread_name_prefix="source-fetch"
    )
    try:
        futures = [
            pool.submit(
                _fetch_one,
                url,
                deadline=deadline,
                timeout=timeout,
                max_bytes=max_bytes,
                allow_private=allow_private,
                allowed=allowed,
            )
            for url in urls
        ]
        done, _ = wait(futures, timeout=timeout + EXTRACTION_GRACE)
    finally:
        # A source still busy past the deadline is given up on, not waited for: its
        # thread ends at its own socket timeout.
        pool.shutdown(wait=False, cancel_futures=True)
    return [
        future.result()
        if future in done
        else _result(url, error=f"timed out after {timeout:g} seconds")
        for url, future in zip(urls, futures, strict=True)
    ]


def _result(
    url: str, *, error: str = "", title: str = "", text: str = "", truncated: bool = False
) -> dict[str, Any]:
    return {
        "url": url,
        "title": title,
        "text": text,
        "ok": not error,
        "error": error,
        "truncated": truncated,
    }


def _fetch_one(
    url: str,
    *,
    deadline: float,
    timeout: float,
    max_bytes: int,
    allow_private: bool,
    allowed: frozenset[str],
) -> dict[str, Any]:
    try:
        body, media_type, charset, truncated = _download(
            url,
            deadline=deadline,
            max_bytes=max_bytes,
            allow_private=allow_private,
            allowed=allowed,
        )
        title, text, cut = _extract(body, media_type, charset, max_bytes=max_bytes)
    except SourceError as exc:
        error = str(exc)
    except httpx.TimeoutException:
        error = f"timed out after {timeout:g} seconds"
    except httpx.TransportError as exc:
        error = f"could not be fetched: {exc or type(exc).__name__}"
    except httpx.InvalidURL as exc:
        error = f"not a valid URL: {exc}"
    except Exception:  # an extractor's bug must not fail the stage
        logger.exception("Reading the source %s failed unexpectedly", url)
        error = "could not be read (an unexpected error, logged)"
    else:
        return _result(url, title=title, text=text, truncated=truncated or cut)
    logger.info("Source %s not read: %s", url, error)
    return _result(url, error=error)


def _download(
    url: str, *, deadline: float, max_bytes: int, allow_private: bool, allowed: frozenset[str]
) -> tuple[bytes, str, str | None, bool]:
    """(body, media type, charset or None, truncated) of the page at `url`, after
    its redirects. Raises SourceError or an httpx error."""
    with _client(allow_private=allow_private, allowed=allowed) as client:
        current = httpx.URL(url)
        for _hop in range(MAX_REDIRECTS + 1):
            if current.scheme not in ("http", "https") or not current.host:
                raise SourceError(f"not an http(s) URL: {str(current)[:200]}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpx.TimeoutException("deadline passed")
            with client.stream("GET", current, timeout=httpx.Timeout(remaining)) as response:
                if response.is_redirect:
                    current = response.url.join(response.headers["location"])
                    continue
                if response.status_code >= 400:
                    raise SourceError(f"HTTP {response.status_code} {response.reason_phrase}")
                if not response.is_success:
                    raise SourceError(f"HTTP {response.status_code} is not a page")
                media_type = response.headers.get("content-type", "").split(";")[0]
                media_type = media_type.strip().lower()
                if media_type not in ALLOWED_TYPES:
                    raise SourceError(
                        f"not a web page or plain text ({media_type or 'no content type'})"
                    )
                body, truncated = _read_bounded(response, max_bytes, deadline)
                return body, media_type, response.charset_encoding, truncated
        raise SourceError(f"more than {MAX_REDIRECTS} redirects")


def _read_bounded(response: httpx.Response, max_bytes: int, deadline: float):
    chunks: list[bytes] = []
    size = 0
    # Chunks as they arrive (no re-chunking), so a body trickled out a byte at a time
    # meets the deadline after it passes, not 64 KB later.
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise httpx.TimeoutException("deadline passed")
        room = max_bytes - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _extract(
    body: bytes, media_type: str, charset: str | None, *, max_bytes: int
) -> tuple[str, str, bool]:
    """(title, main text, whether the page was cut to MAX_PAGE_ELEMENTS) of a body,
    NUL bytes removed, bounded."""
    page: str | bytes = body.replace(b"\x00", b"")
    if charset:
        try:
            page = body.decode(charset, errors="replace").replace("\x00", "")
        except LookupError:  # a charset Python does not know: guessed below instead
            pass
    if media_type == "text/plain":
        title, cut = "", False
        text = page if isinstance(page, str) else page.decode("utf-8", errors="replace")
    else:
        # Bytes without a charset in the header: the page's own <meta charset>, else a
        # guess. A compressed body is inflated at most to max_bytes.
        tree = trafilatura.load_html(page, max_size=max_bytes)
        if tree is None:
            raise SourceError("not a readable HTML page")
        etree.strip_elements(tree, *NOISE_TAGS, etree.Comment, with_tail=False)
        cut = _pruned(tree, MAX_PAGE_ELEMENTS)
        document = trafilatura.bare_extraction(
            tree, with_metadata=True, include_comments=False, include_images=False
        )
        title = getattr(document, "title", None) or ""
        text = getattr(document, "text", None) or ""
    text = _tidy(text)
    if not text:
        raise SourceError("no readable text found on the page")
    return _bounded(_tidy(title), MAX_TITLE_CHARS), _bounded(text, MAX_TEXT_CHARS), cut


def _pruned(tree: Any, limit: int) -> bool:
    """Keep the first `limit` elements of `tree` in document order, dropping the rest;
    whether any were dropped."""
    element = next(itertools.islice(tree.iter(), limit, None), None)
    if element is None:
        return False
    for child in list(element):
        element.remove(child)
    node = element
    while node is not None:
        for sibling in list(node.itersiblings()):
            node.getparent().remove(sibling)
        node = node.getparent()
    return True


def _tidy(text: str) -> str:
    text = text.replace("\x00", "")
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _bounded(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a word boundary when one is near,
    an ellipsis marking the cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"
