"""Providers for any OpenAI-compatible server (OpenAI itself, Ollama, vLLM, the llama.cpp
server, LM Studio) through the official `openai` client, which retries 429s, 5xx and
timeouts with backoff (honouring Retry-After) `LLM_MAX_RETRIES` times; what fails after
that is a ProviderError, and the stage tries the next provider of its chain.

The client's HTTP goes through tasks.pipeline.outbound: each attempt, streamed or not,
has LLM_TIMEOUT (or the call's own, shorter, timeout) for the whole exchange, the answer
included, and its connection is closed when that passes. No address guard: operators
run their model server on loopback or their own network (Ollama on localhost).

Messages and reprs name the server by `display_url`: a base URL's user info (a password
in `http://user:pass@host/v1`) never reaches an error, a log or a task."""

import base64
import binascii
import hashlib
import json
import re
import threading
from collections.abc import Callable
from typing import Any

import httpx2
import openai
from django.conf import settings

from tasks.pipeline import ratelimit
from tasks.pipeline.outbound import ResponseTooLarge, display_url, outbound_client

from .base import Brief, Completion, ImageResult, ProviderError
from .prices import _prefix_match, image_cost, llm_cost

IMAGE_SIZES = {"dall-e-3": "1792x1024", "dall-e-2": "1024x1024"}
DEFAULT_IMAGE_SIZE = "1536x1024"
TEMPERATURE = 0.7
# A model's answer is untrusted: longer than this it is cut (a few times the longest piece).
MAX_ANSWER_CHARS = 100_000
# The transport's cap on one answer's bytes as sent: a base64 image of the largest size
# is a few megabytes, a streamed answer of MAX_ANSWER_CHARS some more in event framing.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024

JSON_STAGES = ("research", "review", "check", "seo")
SYSTEM_PROMPTS = {
    "research": (
        "You are a content strategist preparing research for a writer. Reply with only a JSON "
        'object, no prose and no code fences, with exactly these keys: "angle" (string: the '
        'angle the piece should take), "outline" (array of 3 to 8 section headings, in '
        'order, excluding the introduction and conclusion), "key_points" (array of strings) '
        'and "audience_notes" (string).'
    ),
    "draft": (
        "You are an expert writer. Reply with only the finished piece in Markdown, without code "
        "fences or commentary. The first line is '# ' followed by the title. Then write an "
        "introduction paragraph, then '## ' sections following the outline you are given, then "
        "a conclusion under its own '## ' heading. Use every keyword at least once and keep "
        "close to the requested word count."
    ),
    "review": (
        "You are a meticulous editor. Judge the draft against its brief: length versus the "
        "target, keyword coverage, structure and headings, paragraph length and readability. "
        "Reply with only a JSON object, no prose and no code fences, with these keys: "
        '"scores" (an object with integer scores from 0 to 100 for each of "clarity", '
        '"accuracy", "completeness", "relevance", "seo", "readability" and "engagement"), '
        '"quality_score" (integer from 0 to 100, overall), "qa_feedback" (string) and '
        '"issues" (array of strings, empty when there are none), and each further key the '
        "request asks for."
    ),
    "refine": (
        "You are an expert writer revising your draft with an editor's critique. Reply with "
        "only the revised piece in Markdown, without code fences or commentary. The first "
        "line is '# ' followed by the title. Fix every issue the critique names; keep what "
        "works, the structure of introduction, '## ' sections and conclusion, and every "
        "keyword. Keep each citation mark such as [1] with the statement it supports."
    ),
    "check": (
        "You are a fact checker. For each numbered claim you are given the excerpt of the "
        "source it cites. Decide whether the excerpt supports the claim: a claim is "
        "unsupported when the excerpt does not say it, says something else, or says less. "
        'Reply with only a JSON object, no prose and no code fences: {"unsupported": '
        '[{"index": <the claim\'s number>, "reason": "<what the excerpt does not say>"}]}, '
        "with an empty array when every claim is supported."
    ),
    "seo": (
        "You are an SEO specialist. Reply with only a JSON object, no prose and no code fences, "
        'with exactly these keys: "seo_title" (string, at most 60 characters), '
        '"meta_description" (string, at most 160 characters), "tags" (array of at most 10 '
        'lowercase strings), "excerpt" (string, at most 300 characters) and "slug" (string: '
        "the post's URL path, a few lowercase ASCII words joined by hyphens, at most 60 "
        "characters)."
    ),
}

_FENCED = re.compile(r"^\s*```[\w-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def strip_fences(text: str) -> str:
    match = _FENCED.match(text)
    return match.group(1).strip() if match else text.strip()


def _json_text(text: str) -> str:
    """The JSON object in a model reply, tolerating fences or a sentence around it; the
    reply as it is when it holds none (the stage finds it malformed and asks again)."""
    cleaned = strip_fences(text)
    candidates = [cleaned]
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if 0 <= start < end:
        candidates.append(cleaned[start : end + 1])
    for candidate in candidates:
        try:
            parsed = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            return candidate
    return cleaned


_clients: dict[tuple[str, str, int, float], openai.OpenAI] = {}
_clients_lock = threading.Lock()


def _client(base_url: str, api_key: str) -> openai.OpenAI:
    """One client per server, key and settings in a process: the client is thread safe,
    and many stages call at once. Its HTTP client gives each attempt LLM_TIMEOUT for
    the whole exchange (a connection each, closed with its response)."""
    key = (base_url, api_key, settings.LLM_MAX_RETRIES, settings.LLM_TIMEOUT)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = openai.OpenAI(
                base_url=base_url,
                api_key=api_key,
                max_retries=settings.LLM_MAX_RETRIES,
                timeout=settings.LLM_TIMEOUT,
                # Redirects followed, as the client's own HTTP client does: the server
                # is the operator's choice. Every attempt (the client's own retries too)
                # first waits for the server's rate limit, shared by all processes
                # (tasks/pipeline/ratelimit.py); that wait is not part of the deadline.
                http_client=outbound_client(
                    deadline=settings.LLM_TIMEOUT,
                    max_response_bytes=MAX_RESPONSE_BYTES,
                    follow_redirects=True,
                    event_hooks=ratelimit.event_hooks(base_url),
                ),
            )
        return _clients[key]


def _failure(exc: Exception, base_url: str, timeout: float) -> ProviderError:
    """The client's error, after its retries, as one readable line naming the server
    without its credentials."""
    where = display_url(base_url)
    cause = exc.__cause__
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        message = f"{where} did not answer within {timeout:g}s"
    elif isinstance(exc, ResponseTooLarge) or isinstance(cause, ResponseTooLarge):
        message = f"{where} answered too much: {exc if cause is None else cause}"
    elif isinstance(exc, openai.APIStatusError):
        message = f"{where} answered HTTP {exc.status_code}: {_detail(exc)}"
    elif isinstance(exc, openai.APIConnectionError):
        message = f"Could not reach {where}: {cause or exc}"
    elif isinstance(exc, ValueError | AttributeError | openai.APIResponseValidationError):
        message = f"{where} answered with a body that is not JSON (or not a chat completion): {exc}"
    else:
        message = f"The call to {where} failed: {type(exc).__name__}: {exc}"
    return ProviderError(_without_credentials(message, base_url))


def _without_credentials(message: str, base_url: str) -> str:
    """`message` with the base URL's user info removed wherever an error quoted it."""
    userinfo = base_url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    if not userinfo:
        return message
    return message.replace(base_url, display_url(base_url)).replace(userinfo + "@", "")


def _detail(exc: "openai.APIStatusError") -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    return str(exc.message)[:300]


class _OpenAICompatible:
    def __init__(self, base_url: str | None = None, api_key: str | None = None) -> None:
        self.base_url = (base_url or settings.LLM_BASE_URL).rstrip("/")
        self.api_key = settings.LLM_API_KEY if api_key is None else api_key

    def __repr__(self) -> str:
        # Never show the key or the URL's password, not even in tracebacks or debug logs.
        return f"{type(self).__name__}(base_url={display_url(self.base_url)!r})"

    def client(self) -> openai.OpenAI:
        if not self.api_key:
            raise ProviderError("No API key is configured for the openai provider (LLM_API_KEY)")
        return _client(self.base_url, self.api_key)


class OpenAILLMProvider(_OpenAICompatible):
    """Chat completions, streamed when the caller follows the text as it comes."""

    name = "openai"
    streams = True
    priced = True  # calls cost money: checked against the task's ceiling, cached

    def messages(self, stage: str, prompt: str) -> list[dict[str, str]]:
        if stage not in SYSTEM_PROMPTS:
            raise ProviderError(f"The openai provider has no stage named {stage!r}")
        return [
            {"role": "system", "content": SYSTEM_PROMPTS[stage]},
            {"role": "user", "content": prompt},
        ]

    def cache_key(self, *, stage: str, prompt: str, model: str) -> str:
        """Everything the answer depends on: server, model, messages, parameters."""
        request = [self.base_url, model, self.messages(stage, prompt), TEMPERATURE]
        return hashlib.sha256(json.dumps(request).encode()).hexdigest()

    def generate(
        self,
        *,
        stage: str,
        brief: Brief,
        prompt: str,
        context: dict[str, Any],
        model: str,
        timeout: float,
        on_text: Callable[[str], None] | None = None,
    ) -> Completion:
        request = {
            "model": model,
            "messages": self.messages(stage, prompt),
            "temperature": TEMPERATURE,
        }
        client = self.client()
        try:
            if on_text is None:
                content, used_model, usage = self._complete(client, request, timeout)
            else:
                try:
                    content, used_model, usage = self._stream(client, request, timeout, on_text)
                except openai.BadRequestError:
                    # A server that does not stream (or takes no stream_options) says
                    # so with a 400: ask it plainly; the draft then comes whole.
                    content, used_model, usage = self._complete(client, request, timeout)
        except ProviderError:
            raise
        except openai.OpenAIError as exc:
            raise _failure(exc, self.base_url, timeout) from exc
        except Exception as exc:  # a stream cut off mid-body surfaces as the transport's error
            raise _failure(exc, self.base_url, timeout) from exc
        if not isinstance(content, str) or not content.strip():
            raise ProviderError("The chat completion came back empty")
        # Model output is untrusted: bounded, and PostgreSQL stores no NUL, in text or JSON.
        content = content[:MAX_ANSWER_CHARS].replace("\x00", "").replace("\\u0000", "")
        text = _json_text(content) if stage in JSON_STAGES else strip_fences(content)
        tokens_in = _int(getattr(usage, "prompt_tokens", 0))
        tokens_out = _int(getattr(usage, "completion_tokens", 0))
        used_model = str(used_model or model)
        return Completion(
            text=text,
            model=used_model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=llm_cost(used_model, tokens_in, tokens_out),
            provider=self.name,
        )

    @staticmethod
    def _complete(client, request: dict, timeout: float) -> tuple[str | None, str, Any]:
        response = client.chat.completions.create(**request, timeout=timeout)
        if not response.choices:
            raise ProviderError("The chat completion has no choices")
        return response.choices[0].message.content, response.model, response.usage

    @staticmethod
    def _stream(client, request: dict, timeout: float, on_text) -> tuple[str, str, Any]:
        parts: list[str] = []
        length, model, usage = 0, "", None
        stream = client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}, timeout=timeout
        )
        with stream:
            for chunk in stream:
                model = chunk.model or model
                usage = chunk.usage or usage
                delta = chunk.choices[0].delta.content if chunk.choices else None
                if delta:
                    parts.append(delta)
                    length += len(delta)
                    if length > MAX_ANSWER_CHARS:
                        break
                    on_text(strip_fences("".join(parts)))
        return "".join(parts), model, usage


class OpenAIImageProvider(_OpenAICompatible):
    """Image generation against an OpenAI-compatible server."""

    name = "openai"
    priced = True

    def generate_image(
        self, *, brief: Brief, prompt: str, model: str, timeout: float
    ) -> ImageResult:
        request: dict[str, Any] = {
            "model": model,
            "prompt": prompt,
            "size": _prefix_match(model, IMAGE_SIZES) or DEFAULT_IMAGE_SIZE,
            "n": 1,
        }
        # gpt-image models always answer in base64 and reject the parameter; DALL-E needs it.
        if not model.startswith("gpt-image"):
            request["response_format"] = "b64_json"
        try:
            response = self.client().images.generate(**request, timeout=timeout)
        except openai.OpenAIError as exc:
            raise _failure(exc, self.base_url, timeout) from exc
        try:
            encoded = response.data[0].b64_json
            content = base64.b64decode(encoded, validate=True)
        except (IndexError, TypeError, AttributeError) as exc:
            raise ProviderError("The image response has no data[0].b64_json") from exc
        except (binascii.Error, ValueError) as exc:
            raise ProviderError("The image response's b64_json is not valid base64") from exc
        if not content:
            raise ProviderError("The image response is empty")
        return ImageResult(
            content=content,
            content_type=_image_type(content),
            model=model,
            cost=image_cost(model),
        )


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _image_type(content: bytes) -> str:
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"
