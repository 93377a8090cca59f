"""Providers for any OpenAI-compatible HTTP API (OpenAI itself, or a local server speaking it)."""

import base64
import binascii
import json
import re
from decimal import Decimal
from typing import Any

import httpx

from .base import Brief, Completion, ImageResult, ProviderError

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# USD per million (input, output) tokens. Longest matching prefix wins so dated snapshots such
# as "gpt-4o-mini-2024-07-18" are priced like their family; unknown models cost 0.
LLM_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.40")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-5-nano": (Decimal("0.05"), Decimal("0.40")),
    "gpt-5-mini": (Decimal("0.25"), Decimal("2.00")),
    "gpt-5": (Decimal("1.25"), Decimal("10.00")),
    "o4-mini": (Decimal("1.10"), Decimal("4.40")),
}
# USD per generated landscape image at the size requested below.
IMAGE_PRICES: dict[str, Decimal] = {
    "gpt-image-1-mini": Decimal("0.015"),
    "gpt-image-1": Decimal("0.063"),
    "dall-e-3": Decimal("0.080"),
    "dall-e-2": Decimal("0.020"),
}
IMAGE_SIZES = {"dall-e-3": "1792x1024", "dall-e-2": "1024x1024"}
DEFAULT_IMAGE_SIZE = "1536x1024"

JSON_STAGES = ("research", "review", "seo")
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
        "Reply with only a JSON object, no prose and no code fences, with exactly these keys: "
        '"quality_score" (integer from 0 to 100), "qa_feedback" (string) and "issues" (array '
        "of strings, empty when there are none)."
    ),
    "seo": (
        "You are an SEO specialist. Reply with only a JSON object, no prose and no code fences, "
        'with exactly these keys: "seo_title" (string, at most 60 characters), '
        '"meta_description" (string, at most 160 characters), "tags" (array of at most 10 '
        'lowercase strings) and "excerpt" (string, at most 300 characters).'
    ),
}

_FENCED = re.compile(r"^\s*```[\w-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_MILLION = Decimal(1_000_000)


def _setting(name: str, default: Any) -> Any:
    # Imported lazily so the providers stay usable (and testable) without configured Django.
    try:
        from django.conf import settings

        return getattr(settings, name, default)
    except Exception:  # noqa: BLE001 - ImproperlyConfigured or Django missing: use the default
        return default


def _prefix_match(model: str, table: dict[str, Any]) -> Any:
    matches = [key for key in table if model == key or model.startswith(f"{key}-")]
    return table[max(matches, key=len)] if matches else None


def llm_cost(model: str, tokens_in: int, tokens_out: int) -> Decimal:
    prices = _prefix_match(model, LLM_PRICES)
    if prices is None:
        return Decimal("0")
    cost = (prices[0] * tokens_in + prices[1] * tokens_out) / _MILLION
    return cost.quantize(Decimal("0.000001"))


def image_cost(model: str) -> Decimal:
    return _prefix_match(model, IMAGE_PRICES) or Decimal("0")


def strip_fences(text: str) -> str:
    match = _FENCED.match(text)
    return match.group(1).strip() if match else text.strip()


def _json_text(text: str, stage: str) -> str:
    """The JSON object in a model reply, tolerating fences or a sentence around it."""
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
    raise ProviderError(f"The model's {stage} reply was not a JSON object: {cleaned[:200]!r}")


class _OpenAIClient:
    def __init__(self, base_url: str | None = None, api_key: str | None = None) -> None:
        if base_url is None:
            base_url = _setting("LLM_BASE_URL", None)
        if api_key is None:
            api_key = _setting("LLM_API_KEY", "")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key or ""

    def __repr__(self) -> str:
        # Never show the key, not even in tracebacks or debug logs.
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _post(self, path: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        if not self.api_key:
            raise ProviderError("No API key is configured for the openai provider (LLM_API_KEY)")
        url = f"{self.base_url}{path}"
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            response = httpx.post(url, json=payload, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise ProviderError(f"{url} did not answer within {timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(f"Request to {url} failed: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise ProviderError(
                f"{url} answered HTTP {response.status_code}: {self._error_detail(response)}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderError(f"{url} answered with a body that is not JSON") from exc
        if not isinstance(body, dict):
            raise ProviderError(f"{url} answered with JSON that is not an object")
        return body

    @staticmethod
    def _error_detail(response: httpx.Response) -> str:
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
        return response.text[:300] or response.reason_phrase


class OpenAILLMProvider(_OpenAIClient):
    """Chat completions against an OpenAI-compatible endpoint."""

    name = "openai"

    def generate(
        self,
        *,
        stage: str,
        brief: Brief,
        prompt: str,
        context: dict[str, Any],
        model: str,
        timeout: float,
    ) -> Completion:
        if stage not in SYSTEM_PROMPTS:
            raise ProviderError(f"The openai provider has no stage named {stage!r}")
        payload = {
            "model": model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPTS[stage]},
                {"role": "user", "content": prompt},
            ],
            "temperature": 0.7,
        }
        body = self._post("/chat/completions", payload, timeout)
        try:
            content = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderError("The chat completion has no choices[0].message.content") from exc
        if not isinstance(content, str) or not content.strip():
            raise ProviderError("The chat completion came back empty")
        # Model output is untrusted: PostgreSQL stores no NUL, in text or in JSON.
        content = content.replace("\x00", "").replace("\\u0000", "")
        text = _json_text(content, stage) if stage in JSON_STAGES else strip_fences(content)
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        tokens_in = _int(usage.get("prompt_tokens"))
        tokens_out = _int(usage.get("completion_tokens"))
        used_model = str(body.get("model") or model)
        return Completion(
            text=text,
            model=used_model,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            cost=llm_cost(used_model, tokens_in, tokens_out),
        )


class OpenAIImageProvider(_OpenAIClient):
    """Image generation against an OpenAI-compatible endpoint."""

    name = "openai"

    def generate_image(
        self, *, brief: Brief, prompt: str, model: str, timeout: float
    ) -> ImageResult:
        payload: dict[str, Any] = {
            "model": model,
            "prompt": prompt,
            "size": _prefix_match(model, IMAGE_SIZES) or DEFAULT_IMAGE_SIZE,
            "n": 1,
        }
        # gpt-image models always answer in base64 and reject the parameter; DALL-E needs it.
        if not model.startswith("gpt-image"):
            payload["response_format"] = "b64_json"
        body = self._post("/images/generations", payload, timeout)
        try:
            encoded = body["data"][0]["b64_json"]
            content = base64.b64decode(encoded, validate=True)
        except (KeyError, IndexError, TypeError) as exc:
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
