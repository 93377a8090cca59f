"""Reading a task's source pages for the research stage: the readable text and title of
each URL, or why it could not be read.

- Fetch: a GET through tasks.pipeline.outbound, one deadline of `timeout` seconds for
  the whole of a source (name lookup, connection, redirects and body) enforced in the
  transport: when it passes, the socket is closed and the source has timed out, however
  slowly the site sends. At most MAX_REDIRECTS redirects are followed one by one (http
  and https only, each one checked like the first URL, each within what is left of
  the deadline). Proxies named in the environment are ignored: a proxy would make the
  connection for us, unchecked.
- Addresses: unless `allow_private`, a host must resolve only to global addresses (or
  ones named in `allowed_addresses`); one loopback, private, link-local, multicast,
  reserved, unspecified or otherwise non-public address refuses the source (IPv6 too,
  and IPv4 inside IPv6: mapped, NAT64, 6to4, Teredo), and the error says only that
  the host is not a public address. The check is made where the connection is opened
  (outbound's AddressGuard), and the socket connects to the very address that was
  checked: a name whose DNS answer changes between check and connect (rebinding) gains
  nothing, and each redirect's host goes through the same check.
- Size: the body is read in chunks and reading stops at `max_bytes`. What was read is
  kept and the source says `truncated`: the text kept is bounded to MAX_TEXT_CHARS
  anyway, and a long page (a long encyclopedia article) has its main text first.
  Bodies are asked for uncompressed; one sent compressed all the same is decoded a
  chunk at a time, and the limit counts the decoded bytes (the transport's own cap,
  on the bytes as sent, is a little above it). The response head is capped by the
  transport (outbound.MAX_HEAD_BYTES).
- Types: text/html and text/plain only, judged from the Content-Type header before the
  body is read.
- Extraction: trafilatura finds the main text and the title of a page (navigation,
  footers, scripts and styles left out); plain text is taken as it is. Scripts, styles
  and the like are removed first, and a page of more than MAX_PAGE_ELEMENTS elements
  is cut there (`truncated` again): extraction time grows faster than the page. NUL
  bytes are removed, the text is cut at MAX_TEXT_CHARS.
- Failures never raise: the source's `ok` is False and `error` says what went wrong.
- Numbers: the result is the task's numbered source list. Each source keeps `n`, its
  1-based position among the task's URLs (one that could not be read keeps its number,
  so "[2]" means the same page in every prompt, draft and claim), `fetched_at` (ISO
  8601, UTC) and `content_hash` (sha256 of the text kept; "" when there is none).
- The sources are read at the same time, one thread each, so five slow sites take as
  long as the slowest one, not five times as long; the threads end with their
  downloads, at the deadline at the latest (then at most an extraction's time).
"""

import hashlib
import itertools
import logging
import re
import time
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

import httpx2
import trafilatura
from lxml import etree

from .outbound import AddressGuard, HostError, RefusedAddress, outbound_client

__all__ = [
    "RefusedAddress", "SourceError", "check_host", "fetch_sources", "numbered_sources",
    "readable_sources", "source_number",
]  # fmt: skip

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
# The transport's cap on a body as sent: above `max_bytes` by more than one read's worth
# (a chunk of the body can come with the head), so a page is cut here, at `max_bytes`
# of text, rather than refused there.
BODY_SLACK = 256 * 1024
_BLANK_LINES = re.compile(r"\n\s*\n+")
_SPACES = re.compile(r"[ \t\r\f\v]+")


class SourceError(Exception):
    """Why one source could not be read: its message is the source's `error`."""


def check_host(
    host: str, port: int, *, allow_private: bool, allowed_addresses: Collection[str] = ()
) -> None:
    """Raise RefusedAddress when `host` is not a public address (the guard's judgement,
    made ahead of a connection: to refuse a URL when it is given, not only when it is
    used), or SourceError when it does not resolve."""
    guard = AddressGuard.of(allow_private=allow_private, allowed_addresses=allowed_addresses)
    try:
        guard.check(host, port)
    except RefusedAddress:
        raise
    except HostError as exc:
        raise SourceError(str(exc)) from exc


def fetch_sources(
    urls: Iterable[str],
    *,
    timeout: float,
    max_bytes: int,
    allow_private: bool,
    allowed_addresses: Collection[str] = (),
) -> list[dict[str, Any]]:
    """One result per URL, in order: {"n", "url", "title", "text", "ok", "error",
    "truncated", "fetched_at", "content_hash"}. `n` is its 1-based position, `text`
    the page's main text (at most MAX_TEXT_CHARS characters), `ok` says whether there
    is any, `error` why not ("" when ok), `truncated` that the page was cut before its
    text was taken (at `max_bytes`, or MAX_PAGE_ELEMENTS); `fetched_at` and
    `content_hash` as the module says.
    The URLs are read concurrently, each within `timeout` seconds; loopback, private
    and other non-public addresses are refused unless `allow_private`, except the IP
    addresses in `allowed_addresses` (one trusted internal server; the tests' pages on
    loopback). Never raises for a source that cannot be read."""
    urls = list(urls)
    if not urls:
        return []
    guard = AddressGuard.of(allow_private=allow_private, allowed_addresses=allowed_addresses)
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
                guard=guard,
            )
            for url in urls
        ]
        done, _ = wait(futures, timeout=timeout + EXTRACTION_GRACE)
    finally:
        # A source still busy past the wait is given up on, not waited for: its
        # download ended at the deadline (the transport closed its socket), so only
        # an extraction can keep its thread, and only for a moment.
        pool.shutdown(wait=False, cancel_futures=True)
    fetched_at = datetime.now(UTC).isoformat(timespec="seconds")
    results = [
        future.result()
        if future in done
        else _result(url, error=f"timed out after {timeout:g} seconds")
        for url, future in zip(urls, futures, strict=True)
    ]
    return [numbered(result, n, fetched_at=fetched_at) for n, result in enumerate(results, 1)]


def numbered(source: dict[str, Any], n: int, *, fetched_at: str) -> dict[str, Any]:
    """The source as the task's numbered list keeps it: its number, when it was read
    and a fingerprint of the text kept ("" when none was)."""
    text = str(source.get("text") or "")
    digest = hashlib.sha256(text.encode()).hexdigest() if text else ""
    return {"n": n, **source, "fetched_at": fetched_at, "content_hash": digest}


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
    url: str, *, deadline: float, timeout: float, max_bytes: int, guard: AddressGuard
) -> dict[str, Any]:
    try:
        body, media_type, charset, truncated = _download(
            url, deadline=deadline, timeout=timeout, max_bytes=max_bytes, guard=guard
        )
        title, text, cut = _extract(body, media_type, charset, max_bytes=max_bytes)
    except SourceError as exc:
        error = str(exc)
    except RefusedAddress as exc:
        error = f"refused: {exc}"
    except httpx2.TimeoutException:
        error = f"timed out after {timeout:g} seconds"
    except httpx2.TransportError as exc:
        error = f"could not be fetched: {exc or type(exc).__name__}"
    except httpx2.InvalidURL as exc:
        error = f"not a valid URL: {exc}"
    except Exception:  # an extractor's bug must not fail the stage
        logger.exception("Reading the source %s failed unexpectedly", url)
        error = "could not be read (an unexpected error, logged)"
    else:
        return _result(url, title=title, text=text, truncated=truncated or cut)
    logger.info("Source %s not read: %s", url, error)
    return _result(url, error=error)


def _download(
    url: str, *, deadline: float, timeout: float, max_bytes: int, guard: AddressGuard
) -> tuple[bytes, str, str | None, bool]:
    """(body, media type, charset or None, truncated) of the page at `url`, after
    its redirects, all before `deadline`. Raises SourceError, RefusedAddress or an
    httpx2 error."""
    with outbound_client(
        deadline=timeout, max_response_bytes=max_bytes + BODY_SLACK, guard=guard, headers=HEADERS
    ) as client:
        current = httpx2.URL(url)
        for _hop in range(MAX_REDIRECTS + 1):
            if current.scheme not in ("http", "https") or not current.host:
                raise SourceError(f"not an http(s) URL: {str(current)[:200]}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise httpx2.TimeoutException("deadline passed")
            # What is left of the source's deadline is this request's deadline.
            with client.stream("GET", current, timeout=remaining) as response:
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
                body, truncated = _read_bounded(response, max_bytes)
                return body, media_type, response.charset_encoding, truncated
        raise SourceError(f"more than {MAX_REDIRECTS} redirects")


def _read_bounded(response: httpx2.Response, max_bytes: int) -> tuple[bytes, bool]:
    """The decoded body up to `max_bytes`, and whether there was more."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
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


# --- The numbered source list, as research keeps it ---------------------------------------


def source_number(source: Mapping[str, Any], position: int) -> int:
    """A source's number in the task's list: its `n`, or its 1-based position for a
    list recorded before sources were numbered."""
    try:
        return int(source.get("n") or position)
    except (TypeError, ValueError):
        return position


def numbered_sources(research: Any) -> list[dict[str, Any]]:
    """Every source the research kept (read or not), in the task's order, each with its
    number `n`: the numbers the draft cites, the claims check and the plan use."""
    sources = research.get("sources") if isinstance(research, Mapping) else None
    if not isinstance(sources, list):
        return []
    return [
        {**source, "n": source_number(source, position)}
        for position, source in enumerate(sources, 1)
        if isinstance(source, Mapping)
    ]


def readable_sources(research: Any) -> list[dict[str, Any]]:
    """The numbered sources that could be read (there is text to draw from)."""
    return [
        source
        for source in numbered_sources(research)
        if source.get("ok") and str(source.get("text") or "").strip()
    ]
