"""The one fake OpenAI-compatible server for every test, on loopback (never the internet).

Left alone it answers like a well-behaved model: each pipeline stage's chat prompt gets a
fitting reply and an image request gets a small PNG. A test changes that per path:

- `reply(path, ...)` sets a standing answer for every call to that path;
- `script(path, Reply(...), ...)` queues answers for the next calls, one per call (status
  codes, headers such as Retry-After, bodies that are not JSON, a delay per call);
- `delay` slows every call (to catch a run in the middle of a stage) and `fail` makes
  every call an HTTP 500 until switched off.

A chat request with `"stream": true` that gets a chat completion is answered as the
OpenAI API streams: server-sent events of `chunk_size` characters, `chunk_delay`
seconds apart, then the usage (when `stream_options.include_usage` asks) and `[DONE]`.

A scripted answer wins over `fail`, which wins over a standing answer, which wins over the
stage-aware default. Every request received is recorded, in order, in `requests`;
`in_flight` counts the requests being answered now and `most_in_flight` the most there
have been at one moment.
"""

import base64
import contextlib
import io
import json
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from tasks.pipeline.providers import Brief, Completion, ImageResult, ProviderError

CHAT_PATH = "/v1/chat/completions"
IMAGES_PATH = "/v1/images/generations"

DRAFT = (
    "# Rain Barrels, Explained\n\nIntro about rain barrel use.\n\n"
    "## Why\n\n<script>x</script>Because."
)
REPLIES = {
    "Research the brief": json.dumps(
        {
            "angle": "Save water",
            "outline": ["Why", "How"],
            "key_points": ["a"],
            "audience_notes": "",
        }
    ),
    "Write the piece": DRAFT,
    "Revise this draft": DRAFT,
    "Review this draft": json.dumps({"quality_score": 140, "qa_feedback": "Fine", "issues": []}),
    # The review's judgement of the draft's cited claims: none flagged.
    "Check each claim": json.dumps({"unsupported": []}),
    "Write search metadata": json.dumps(
        {
            "seo_title": "T" * 90,
            "meta_description": "word " * 60,
            "tags": [f"Tag{i}" for i in range(14)],
            "excerpt": "About rain barrels.",
        }
    ),
}
PIPELINE_USAGE = {"prompt_tokens": 100, "completion_tokens": 50}


def png_bytes(
    size: tuple[int, int] = (8, 8), color: tuple[int, int, int] = (10, 120, 200)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def png_base64() -> str:
    return base64.b64encode(png_bytes()).decode()


def chat_completion(
    content: str, *, model: str = "gpt-4o-mini", usage: Any = None
) -> dict[str, Any]:
    """The body of a chat completion answering `content`."""
    return {
        "id": "chatcmpl-1",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 2000} if usage is None else usage,
    }


def image_generation(image: bytes) -> dict[str, Any]:
    """The body of an image generation answering with `image` in base64."""
    return {"data": [{"b64_json": base64.b64encode(image).decode()}]}


@dataclass(frozen=True)
class Reply:
    """One answer: `payload` is sent as JSON, unless `raw` gives the exact bytes to send
    (malformed JSON, HTML from a gateway). `headers` add to or replace the defaults."""

    payload: Any = None
    status: int = 200
    raw: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def body(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.payload).encode()


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as the server saw it; `json` is None when the body was not JSON."""

    path: str
    headers: Message  # looked up without regard to case, as HTTP headers are
    body: bytes
    json: Any


def _default_reply(path: str, body: Any) -> Reply:
    """What a well-behaved model answers to the pipeline's own requests."""
    if path == IMAGES_PATH:
        return Reply(image_generation(png_bytes()))
    if path != CHAT_PATH:
        return Reply({"error": {"message": f"no such path: {path}"}}, status=404)
    try:
        prompt = body["messages"][-1]["content"]
        model = body["model"]
    except (KeyError, IndexError, TypeError):
        return Reply({"error": {"message": "malformed chat request"}}, status=400)
    for start, content in REPLIES.items():
        if prompt.startswith(start):
            return Reply(chat_completion(content, model=model, usage=PIPELINE_USAGE))
    message = f"the fake has no answer for the prompt {prompt[:60]!r}; script one"
    return Reply({"error": {"message": message}}, status=400)


class _Server(ThreadingHTTPServer):
    # A worker opens many connections at once (each call a new one: HTTP/1.0); past
    # the default backlog of 5 the kernel drops the rest and clients wait a second to
    # retry, which a real API server does not make them do.
    request_queue_size = 256


class FakeLLMServer:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.fail = False
        self.chunk_size = 20
        self.chunk_delay = 0.0
        self.requests: list[ReceivedRequest] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._standing: dict[str, Reply] = {}
        self._scripted: defaultdict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name is fixed by BaseHTTPRequestHandler
                with fake._answering():
                    self._answer()

            def _answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = fake._record(self.path, self.headers, raw)
                time.sleep(fake.delay)
                reply = fake._next_reply(request)
                time.sleep(reply.delay)
                if fake._streamed(request, reply):
                    fake._send_stream(self, request, reply)
                    return
                body = reply.body()
                headers = {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    **reply.headers,
                }
                try:
                    self.send_response(reply.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client went away (it timed out, or a worker was killed)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        # A short poll interval keeps shutdown() from adding a pause to every test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def env(self) -> dict[str, str]:
        """Environment that makes a worker process use this server."""
        return {
            "LLM_PROVIDER": "openai",
            "IMAGE_PROVIDER": "openai",
            "LLM_BASE_URL": self.base_url,
            "LLM_API_KEY": "test-key",
        }

    def configure(self, settings: Any, *, fallbacks: tuple[str, ...] = ()) -> None:
        """Point this process's settings (pytest-django's fixture) at this server: the
        openai providers first, then `fallbacks`."""
        settings.LLM_PROVIDER = settings.IMAGE_PROVIDER = "openai"
        settings.LLM_BASE_URL, settings.LLM_API_KEY = self.base_url, "test-key"
        settings.LLM_CHAIN = settings.IMAGE_CHAIN = ("openai", *fallbacks)

    def reply(
        self,
        path: str,
        payload: Any = None,
        *,
        status: int = 200,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer every later call to `path` this way (replacing any earlier standing one)."""
        reply = Reply(payload, status=status, raw=raw, headers=dict(headers or {}), delay=delay)
        with self._lock:
            self._standing[path] = reply

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next calls to `path` with `replies`, one each, in order; after them
        the standing answer (or the default) applies again."""
        with self._lock:
            self._scripted[path].extend(replies)

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def _record(self, path: str, headers: Message, raw: bytes) -> ReceivedRequest:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        request = ReceivedRequest(path, headers, raw, parsed)
        with self._lock:
            self.requests.append(request)
        return request

    def _next_reply(self, request: ReceivedRequest) -> Reply:
        path = request.path
        with self._lock:
            if self._scripted[path]:
                return self._scripted[path].popleft()
            if self.fail:
                return Reply({"error": {"message": "overloaded"}}, status=500)
            if path in self._standing:
                return self._standing[path]
        return _default_reply(path, request.json)

    @staticmethod
    def _streamed(request: ReceivedRequest, reply: Reply) -> bool:
        return (
            isinstance(request.json, dict)
            and request.json.get("stream") is True
            and reply.status == 200
            and reply.raw is None
            and isinstance(reply.payload, dict)
            and "choices" in reply.payload
        )

    def _send_stream(
        self, handler: BaseHTTPRequestHandler, request: ReceivedRequest, reply: Reply
    ) -> None:
        payload = reply.payload
        content = payload["choices"][0]["message"]["content"]
        base = {"id": payload.get("id", "chatcmpl-1"), "object": "chat.completion.chunk",
                "created": 0, "model": payload.get("model", "")}  # fmt: skip
        size = self.chunk_size
        chunks = [
            {**base, "choices": [{"index": 0, "delta": {"content": content[i : i + size]},
                                  "finish_reason": None}]}
            for i in range(0, len(content), size)
        ]  # fmt: skip
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (request.json.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": payload.get("usage")})
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream")
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            for chunk in chunks:
                handler.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                handler.wfile.flush()
                time.sleep(self.chunk_delay)
            handler.wfile.write(b"data: [DONE]\n\n")
        except OSError:
            pass

    def __enter__(self) -> "FakeLLMServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class QuickWriter:
    """A text provider for the tests whose subject is not the writing (the queue, the
    API, the review desk, publishing): every stage's answer at once, the fake model
    server's (REPLIES), with a draft titled by the brief's topic and naming its
    keywords. The offline writer composes a whole article per stage; its own tests
    (tests/tasks/pipeline/providers/) and the end-to-end ones keep it. The
    `quick_writer` fixture (tests/conftest.py) puts this provider and QuickCover first."""

    name = "quick"

    def generate(
        self, *, stage: str, brief: Brief, prompt: str, context: dict[str, Any], model: str,
        timeout: float,
    ) -> Completion:  # fmt: skip
        if stage in ("draft", "refine"):
            keywords = ", ".join(brief.keywords)
            text = (f"# {brief.topic}\n\nAbout {brief.topic}{f': {keywords}' if keywords else ''}."
                    "\n\n## Why\n\nBecause it helps.\n\n## How\n\nStep by step.")  # fmt: skip
        elif stage in QUICK_REPLIES:
            text = QUICK_REPLIES[stage]
        else:
            raise ProviderError(f"The quick writer has no stage named {stage!r}")
        return Completion(text=text, model=model, tokens_in=len(prompt) // 4,
                          tokens_out=len(text) // 4, cost=Decimal("0"))  # fmt: skip


QUICK_REPLIES = {
    "research": REPLIES["Research the brief"],
    "review": REPLIES["Review this draft"],
    "check": REPLIES["Check each claim"],
    "seo": REPLIES["Write search metadata"],
}


class QuickCover:
    """The image provider beside QuickWriter: a small PNG at once, no drawing."""

    name = "quick"

    def generate_image(
        self, *, brief: Brief, prompt: str, model: str, timeout: float
    ) -> ImageResult:
        return ImageResult(content=png_bytes(), content_type="image/png", model=model,
                           cost=Decimal("0"))  # fmt: skip


def openai_duration(seconds: float) -> str:
    """A duration as OpenAI writes its x-ratelimit-reset-* headers: 6m0s, 1.5s, 120ms."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


class _Bucket:
    """A token bucket: `capacity` units, refilled at `per_minute` a minute."""

    def __init__(self, per_minute: float, capacity: float) -> None:
        self.rate, self.capacity = per_minute / 60, capacity
        self.level, self.at = capacity, time.monotonic()

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now

    def wait_for(self, units: float) -> float:
        """Seconds until `units` are in the bucket (after a refill)."""
        return max(0.0, (units - self.level) / self.rate)

    def until_full(self) -> float:
        return (self.capacity - self.level) / self.rate


class RateLimitedLLMServer(FakeLLMServer):
    """The fake model server behind a rate limit as OpenAI enforces one: `per_minute`
    requests a minute in a token bucket refilled continuously and holding `burst`
    (default one second's worth: OpenAI enforces a per-minute limit over shorter
    periods), and likewise `tokens_per_minute` tokens, a request counting its body's
    bytes / 4. A request beyond either is answered 429 with Retry-After (whole seconds)
    and retry-after-ms; every answer carries OpenAI's x-ratelimit-limit-, -remaining-
    and -reset- headers for requests and tokens, unless `headers` is false.

    `limited` counts the 429s, `accepted` the others; `arrivals` holds (monotonic time,
    model, status) of each request as it was admitted or refused. `latency` delays each
    accepted answer (after admission, so it does not move the request's arrival)."""

    def __init__(
        self,
        *,
        per_minute: float,
        burst: float | None = None,
        tokens_per_minute: float = 10_000_000,
        headers: bool = True,
        latency: float = 0.0,
    ) -> None:
        super().__init__()
        self.per_minute, self.tokens_per_minute = per_minute, tokens_per_minute
        self.burst = burst if burst is not None else max(1.0, per_minute // 60)
        self.headers, self.latency = headers, latency
        self.requests_bucket = _Bucket(per_minute, self.burst)
        self.tokens_bucket = _Bucket(tokens_per_minute, max(1.0, tokens_per_minute // 60))
        self.accepted = 0
        self.limited = 0
        self.arrivals: list[tuple[float, str, int]] = []

    def allowed_seconds(self, calls: int) -> float:
        """The least time `calls` requests take under the limit: the burst at once,
        then one per refill."""
        return max(0.0, calls - self.burst) * 60 / self.per_minute

    def _next_reply(self, request: ReceivedRequest) -> Reply:
        model = request.json.get("model", "") if isinstance(request.json, dict) else ""
        cost = len(request.body) // 4
        with self._lock:
            now = time.monotonic()
            self.requests_bucket.refill(now)
            self.tokens_bucket.refill(now)
            wait = max(self.requests_bucket.wait_for(1), self.tokens_bucket.wait_for(cost))
            if wait > 0:
                self.limited += 1
            else:
                self.accepted += 1
                self.requests_bucket.level -= 1
                self.tokens_bucket.level -= cost
            self.arrivals.append((now, model, 429 if wait > 0 else 200))
            rate_headers = self._rate_headers() if self.headers else {}
        if wait > 0:
            message = {"error": {"message": "Rate limit reached", "type": "requests"}}
            retry = {
                "Retry-After": str(math.ceil(wait)),
                "retry-after-ms": str(math.ceil(wait * 1000)),
            }
            return Reply(message, status=429, headers={**rate_headers, **retry})
        reply = super()._next_reply(request)
        return replace(
            reply, headers={**rate_headers, **reply.headers}, delay=reply.delay + self.latency
        )

    def _rate_headers(self) -> dict[str, str]:
        requests, tokens = self.requests_bucket, self.tokens_bucket
        return {
            "x-ratelimit-limit-requests": str(int(self.per_minute)),
            "x-ratelimit-remaining-requests": str(max(0, math.floor(requests.level))),
            "x-ratelimit-reset-requests": openai_duration(requests.until_full()),
            "x-ratelimit-limit-tokens": str(int(self.tokens_per_minute)),
            "x-ratelimit-remaining-tokens": str(max(0, math.floor(tokens.level))),
            "x-ratelimit-reset-tokens": openai_duration(tokens.until_full()),
        }
