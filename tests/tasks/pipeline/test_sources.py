"""Reading sources: real pages from a real HTTP server on loopback, never the internet.

The addresses refused here (10.0.0.1, 169.254.169.254) are never connected to: the
refusal comes before any connection, which is what these tests show."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest

from tasks.pipeline.outbound import address_refused
from tasks.pipeline.sources import MAX_TEXT_CHARS, fetch_sources

from ...tarpit import Tarpit
from .test_outbound import MARGIN, finished_within, no_thread_left

ARTICLE = """<!doctype html>
<html><head><title>Rain barrels for city gardens | Example Site</title>
<script>var tracking = "SCRIPT_IN_HEAD";</script>
<style>body { color: red }</style></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About the team</a></li>
<li><a href="/shop">Shop our barrels</a></li></ul></nav>
<header><p class="site">Example Site</p></header>
<main><article>
<h1>Rain barrels for city gardens</h1>
<p>A rain barrel collects the water that runs off a roof and keeps it for dry weeks. In a
city garden, one barrel under a downspout can hold enough water for a small vegetable bed
through most of the summer.</p>
<p>Fit a mesh screen over the inlet so mosquitoes cannot breed in the stored water, and
raise the barrel on blocks so a watering can fits under the tap. Empty it before the first
frost.</p>
<p>Gardeners who measured their use found that a 200 litre barrel refilled after every
heavy rain covered about two thirds of their watering.</p>
</article></main>
<footer><p>Copyright 2026 Example Site. All rights reserved. Cookie settings.</p></footer>
<script>document.write("SCRIPT_IN_BODY")</script>
</body></html>"""

PARAGRAPH = "<p>Mulch keeps the soil of a raised bed cool and damp through a dry week.</p>\n"


class SourceServer:
    """Pages on loopback, by path; it records every connection and request it gets.

    `/redirect/<n>` redirects n times before sending the client to `redirect_target`;
    `/slow` answers only when the test ends (or after 30 s)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[str] = []
        self.connections = 0
        self.redirect_target = "/article"
        self.huge_sent = 0
        self._release = threading.Event()
        self._lock = threading.Lock()
        source = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name is fixed by BaseHTTPRequestHandler
                with source._lock:
                    source.requests.append(self.path)
                try:
                    source._answer(self)
                except OSError:
                    pass  # the client stopped reading (max_bytes) or gave up (timeout)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def process_request(self, request, client_address) -> None:
                with source._lock:
                    source.connections += 1
                super().process_request(request, client_address)

        self._server = Server((host, 0), Handler)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        if path == "/article":
            self._send(handler, 200, "text/html; charset=utf-8", ARTICLE.encode())
        elif path == "/missing":
            self._send(handler, 404, "text/html", b"<h1>Not found</h1>")
        elif path == "/slow":
            self._release.wait(30)
            self._send(handler, 200, "text/html", ARTICLE.encode())
        elif path == "/trickle":
            handler.send_response(200)
            handler.send_header("Content-Type", "text/plain")
            handler.end_headers()
            handler.wfile.write(b"Slowly ")
            while not self._release.wait(0.05):
                handler.wfile.write(b"x")
                handler.wfile.flush()
        elif path.startswith("/delayed/"):
            time.sleep(1)
            self._send(handler, 200, "text/html; charset=utf-8", ARTICLE.encode())
        elif path == "/huge":
            self._send_huge(handler)
        elif path == "/binary":
            self._send(handler, 200, "image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
        elif path == "/nul":
            page = ARTICLE.replace("collects the water", "collects\x00 the water\x00")
            self._send(handler, 200, "text/html; charset=utf-8", page.encode())
        elif path == "/nul-plain":
            self._send(handler, 200, "text/plain", b"Plain\x00 notes on\x00 compost.")
        elif path == "/many-elements":
            page = "<html><head><title>Lists</title></head><body><article>"
            page += "".join(f"<p>Item {n} of the long list.</p>" for n in range(60_000))
            self._send(handler, 200, "text/html; charset=utf-8", page.encode())
        elif path == "/script-heavy":
            script = "<script>window.state = {" + '"k": 1, ' * 150_000 + "};</script>"
            page = ARTICLE.replace("</head>", script + "</head>")
            self._send(handler, 200, "text/html; charset=utf-8", page.encode())
        elif path == "/latin1":
            page = ARTICLE.replace("<head>", '<head><meta charset="windows-1252">')
            page = page.replace("dry weeks", "dry weeks at the café")
            self._send(handler, 200, "text/html", page.encode("windows-1252"))
        elif path.startswith("/redirect/"):
            hops = int(path.rsplit("/", 1)[1])
            target = f"/redirect/{hops - 1}" if hops else self.redirect_target
            handler.send_response(302)
            handler.send_header("Location", target)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        else:
            self._send(handler, 404, "text/plain", b"no such page")

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _send_huge(self, handler: BaseHTTPRequestHandler) -> None:
        """50 MB of paragraphs, written until the client stops reading."""
        chunk = (PARAGRAPH * 800).encode()
        total = 50_000_000
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(total))
        handler.end_headers()
        handler.wfile.write(b"<html><head><title>Mulch</title></head><body><article>")
        while self.huge_sent < total:
            handler.wfile.write(chunk)
            self.huge_sent += len(chunk)

    def settle(self) -> None:
        """Return once every connection made before this call has been accepted: the
        test's own request queues behind any earlier one and is answered after it."""
        before = len(self.requests)
        httpx2.get(self.url("/sentinel"), timeout=5, trust_env=False)
        assert len(self.requests) == before + 1

    def __enter__(self) -> "SourceServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server():
    with SourceServer() as running:
        yield running


def fetch(urls, *, timeout=5.0, max_bytes=2_000_000, allowed=("127.0.0.1",)):
    """Fetches with private addresses refused, except the test server's own."""
    return fetch_sources(
        urls,
        timeout=timeout,
        max_bytes=max_bytes,
        allow_private=False,
        allowed_addresses=allowed,
    )


def test_article_main_text_and_title_are_extracted_without_boilerplate_or_scripts(server):
    [source] = fetch([server.url("/article")])

    assert source["ok"] is True, source["error"]
    assert source["error"] == ""
    assert source["url"] == server.url("/article")
    assert source["title"] == "Rain barrels for city gardens"
    assert "one barrel under a downspout can hold enough water" in source["text"]
    assert "covered about two thirds of their watering" in source["text"]
    for boilerplate in ("SCRIPT_IN_HEAD", "SCRIPT_IN_BODY", "color: red", "About the team",
                        "Shop our barrels", "All rights reserved"):  # fmt: skip
        assert boilerplate not in source["text"]


def test_allow_private_reads_a_loopback_page(server):
    [source] = fetch_sources(
        [server.url("/article")], timeout=5, max_bytes=2_000_000, allow_private=True
    )

    assert source["ok"] is True, source["error"]
    assert "rain barrel collects the water" in source["text"]


def test_http_error_is_recorded_with_its_status(server):
    [source] = fetch([server.url("/missing")])

    assert source["ok"] is False
    assert source["error"].startswith("HTTP 404")
    assert source["text"] == ""


def test_page_slower_than_the_timeout_fails_with_a_timeout_soon_after_it(server):
    started = time.monotonic()
    [source] = fetch([server.url("/slow")], timeout=0.5)
    elapsed = time.monotonic() - started

    assert source["ok"] is False
    assert "timed out after 0.5 seconds" in source["error"]
    assert elapsed < 3


def test_body_trickled_out_past_the_timeout_fails_soon_after_it(server):
    # Each byte comes well within the timeout: only a deadline for the whole source
    # stops this one.
    started = time.monotonic()
    [source] = fetch([server.url("/trickle")], timeout=0.5)
    elapsed = time.monotonic() - started

    assert source["error"] == "timed out after 0.5 seconds"
    assert elapsed < 2


def test_sources_trickling_their_heads_end_at_the_deadline_leaving_no_thread_or_socket():
    # A site that sends its response head a byte at a time: each byte comes well within
    # any read timeout; only the transport's deadline ends the fetch.
    with Tarpit("headers", interval=0.1) as tarpit:
        urls = [f"{tarpit.url}/page/{n}" for n in range(3)]
        results = finished_within(1 + MARGIN, fetch, urls, timeout=1)

        assert [source["error"] for source in results] == ["timed out after 1 seconds"] * 3
        assert tarpit.accepted == 3
        assert tarpit.wait_closed(MARGIN)
        assert no_thread_left("source-fetch", MARGIN)


def test_body_beyond_max_bytes_is_cut_there_and_says_so(server):
    [source] = fetch([server.url("/huge")], max_bytes=100_000)

    assert source["ok"] is True, source["error"]
    assert source["truncated"] is True
    assert source["title"] == "Mulch"
    assert source["text"].startswith("Mulch keeps the soil of a raised bed cool")
    assert len(source["text"]) <= MAX_TEXT_CHARS
    # The server wrote far less than its 50 MB: the client stopped reading.
    assert server.huge_sent < 10_000_000


def test_whole_small_page_is_not_marked_truncated(server):
    [source] = fetch([server.url("/article")], max_bytes=len(ARTICLE.encode()))

    assert source["truncated"] is False


def test_page_of_very_many_elements_is_cut_before_extraction_and_says_so(server):
    started = time.monotonic()
    [source] = fetch([server.url("/many-elements")])

    assert source["ok"] is True, source["error"]
    assert source["truncated"] is True
    assert source["text"].startswith("Item 0 of the long list.")
    assert "Item 59999" not in source["text"]
    # Extracting all 60,000 paragraphs takes this machine about ten seconds (0.6 s cut).
    assert time.monotonic() - started < 5


def test_megabytes_of_inline_script_do_not_hide_the_article(server):
    [source] = fetch([server.url("/script-heavy")])

    assert source["ok"] is True, source["error"]
    assert source["truncated"] is False
    assert "one barrel under a downspout" in source["text"]
    assert "window.state" not in source["text"]


def test_page_without_a_charset_header_is_decoded_by_its_meta_charset(server):
    [source] = fetch([server.url("/latin1")])

    assert source["ok"] is True, source["error"]
    assert "keeps it for dry weeks at the café." in source["text"]


def test_binary_content_type_is_refused_without_extraction(server):
    [source] = fetch([server.url("/binary")])

    assert source["ok"] is False
    assert source["error"] == "not a web page or plain text (image/png)"


def test_nul_bytes_are_stripped_from_html_and_plain_text(server):
    html, plain = fetch([server.url("/nul"), server.url("/nul-plain")])

    assert html["ok"] is True, html["error"]
    assert "\x00" not in html["text"] + html["title"]
    assert "A rain barrel collects the water" in html["text"]
    assert plain["ok"] is True, plain["error"]
    assert plain["text"] == "Plain notes on compost."


def test_redirects_are_followed_to_the_page(server):
    [source] = fetch([server.url("/redirect/3")])

    assert source["ok"] is True, source["error"]
    assert source["title"] == "Rain barrels for city gardens"
    assert server.requests == [f"/redirect/{n}" for n in (3, 2, 1, 0)] + ["/article"]


def test_too_many_redirects_fail(server):
    [source] = fetch([server.url("/redirect/9")])

    assert source["ok"] is False
    assert source["error"] == "more than 5 redirects"
    assert len(server.requests) == 6


def test_redirect_to_a_refused_address_is_checked_before_connecting(server):
    # A second loopback server on another address: the redirect's target, not allowed.
    with SourceServer(host="127.0.0.2") as other:
        server.redirect_target = other.url("/article")
        [source] = fetch([server.url("/redirect/2")])
        other.settle()

    assert source["ok"] is False
    assert source["error"] == "refused: the host 127.0.0.2 is not a public address"
    assert server.requests == ["/redirect/2", "/redirect/1", "/redirect/0"]
    assert other.requests == ["/sentinel"]
    assert other.connections == 1  # the sentinel's own


def test_redirect_to_another_scheme_is_refused(server):
    server.redirect_target = "file:///etc/passwd"
    [source] = fetch([server.url("/redirect/0")])

    assert source["ok"] is False
    assert source["error"].startswith("not an http(s) URL: file:")


def test_loopback_addresses_are_refused_without_a_connection(server):
    urls = [
        server.url("/article"),
        server.url("/article", host="localhost"),
        server.url("/article", host="[::ffff:127.0.0.1]"),
        f"http://2130706433:{server.port}/article",  # 127.0.0.1 written as one number
        "http://localhost/",
        "http://[::1]/",
    ]
    results = fetch(urls, allowed=())
    server.settle()

    # The refusal names the host as written, never the address it resolves to.
    assert [source["error"] for source in results] == [
        "refused: the host 127.0.0.1 is not a public address",
        "refused: the host localhost is not a public address",
        "refused: the host ::ffff:127.0.0.1 is not a public address",
        "refused: the host 2130706433 is not a public address",
        "refused: the host localhost is not a public address",
        "refused: the host ::1 is not a public address",
    ]
    assert not any(source["ok"] for source in results)
    assert server.requests == ["/sentinel"]
    assert server.connections == 1  # the sentinel's own


def test_metadata_and_private_network_addresses_are_refused_without_a_connection(server):
    # First the refusal this machine can observe: were the check broken, the test stops
    # here instead of sending anything towards the addresses below.
    [loopback] = fetch([server.url("/article")], allowed=())
    server.settle()
    assert loopback["error"].startswith("refused:")
    assert server.connections == 1

    results = fetch(["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/"], allowed=())

    assert [source["error"] for source in results] == [
        "refused: the host 169.254.169.254 is not a public address",
        "refused: the host 10.0.0.1 is not a public address",
    ]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 - an address to judge, not bind
        ("::", "an unspecified address"),
        ("127.0.0.5", "a loopback address"),
        ("fe80::1%eth0", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("192.168.1.1", "a private address"),
        ("172.16.0.1", "a private address"),
        ("fd00::1", "a private address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),
        ("64:ff9b::a00:1", "a private address"),  # NAT64 to 10.0.0.1
        ("2002:7f00:1::", "a loopback address"),  # 6to4 of 127.0.0.1
    ],
)
def test_address_refused_names_the_kind_of_address(address, reason):
    assert address_refused(address) == reason


def test_five_slow_sources_are_read_at_the_same_time(server):
    urls = [server.url(f"/delayed/{n}") for n in range(5)]

    started = time.monotonic()
    results = fetch(urls)
    elapsed = time.monotonic() - started

    assert [source["ok"] for source in results] == [True] * 5
    assert [source["url"] for source in results] == urls
    assert elapsed < 3  # one at a time would take 5 s


def test_no_urls_fetch_nothing():
    assert fetch([]) == []
