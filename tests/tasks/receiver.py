"""An integrator's webhook receiver on loopback: it checks each request's signature with
the README's own `verify_webhook` snippet (run from the README's text, so the snippet
integrators copy is the one proven here), records what it got, and answers what the
test scripted (a status, a redirect, a delay, a long body), 200 otherwise. While
`hold` is set, every request waits to be answered until `release()`."""

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verifier():
    """`verify_webhook` as the README's Webhooks section writes it."""
    text = README.read_text()
    section = text[text.index("### Webhooks") :]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert snippet, "the README's Webhooks section has no Python snippet"
    namespace: dict[str, Any] = {}
    exec(snippet.group(1), namespace)  # noqa: S102 - our own README's code
    return namespace["verify_webhook"]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclass(frozen=True)
class Received:
    path: str
    headers: Message
    body: bytes
    verified: bool
    at: float  # time.monotonic() when it arrived

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, secret: str = "") -> None:
        self.secret = secret
        self.requests: list[Received] = []
        self.script: deque[Answer] = deque()
        self.verify = readme_verifier()
        self.hold = False
        self._released = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the name is fixed by BaseHTTPRequestHandler
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                verified = receiver.verify(receiver.secret, self.headers, body)
                with receiver._lock:
                    received = Received(self.path, self.headers, body, verified, time.monotonic())
                    receiver.requests.append(received)
                    answer = receiver.script.popleft() if receiver.script else Answer()
                if receiver.hold:
                    receiver._released.wait(120)
                time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (its timeout)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def answer(self, *answers: Answer) -> None:
        with self._lock:
            self.script.extend(answers)

    def wait_for(self, count: int, timeout: float = 60) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.requests)} of {count} requests arrived")
            time.sleep(0.05)
        return list(self.requests)

    def release(self) -> None:
        """Answer the requests held, and those to come at once."""
        self.hold = False
        self._released.set()

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
