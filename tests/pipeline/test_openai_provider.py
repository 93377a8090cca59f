"""The OpenAI-compatible providers against a real HTTP server on 127.0.0.1."""

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from contentpipeline.providers import (
    VALID_PROVIDERS,
    Brief,
    ImageProvider,
    LLMProvider,
    OfflineImageProvider,
    OpenAIImageProvider,
    OpenAILLMProvider,
    ProviderError,
    get_provider,
    image_provider,
    llm_provider,
)

API_KEY = "sk-test-secret-123"
BRIEF = Brief(task_type="blog_post", topic="Remote team onboarding", keywords=("Slack",))


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0


@dataclass
class FakeOpenAI:
    """Records requests and answers each path with a scripted reply."""

    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[str, Reply] = field(default_factory=dict)

    def reply(
        self,
        path: str,
        payload: Any = None,
        *,
        status: int = 200,
        raw: bytes = b"",
        delay: float = 0,
    ) -> None:
        body = raw or json.dumps(payload).encode()
        self.replies[path] = Reply(status=status, body=body, delay=delay)


def chat_reply(content: str, *, model: str = "gpt-4o-mini", usage: Any = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": usage if usage is not None else {"prompt_tokens": 1000, "completion_tokens": 2000},
    }


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    state = FakeOpenAI()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(raw)}
            )
            reply = state.replies.get(self.path, Reply(status=404, body=b'{"error": "nope"}'))
            time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass  # the client gave up (timeout test); nothing to answer

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval keeps shutdown() from adding half a second to every test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def llm(fake: FakeOpenAI) -> OpenAILLMProvider:
    return OpenAILLMProvider(base_url=fake.base_url, api_key=API_KEY)


def call(provider: OpenAILLMProvider, stage: str = "draft", **kwargs: Any):
    arguments = {"model": "gpt-4o-mini", "timeout": 5.0, "prompt": "Write it.", **kwargs}
    return provider.generate(stage=stage, brief=BRIEF, context={}, **arguments)


def test_chat_request_goes_to_chat_completions_with_bearer_key_model_and_messages(
    fake: FakeOpenAI,
) -> None:
    fake.reply("/v1/chat/completions", chat_reply("# Title\n\nBody"))
    call(llm(fake), prompt="Write about onboarding.", model="gpt-4.1-mini")

    [request] = fake.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    body = request["json"]
    assert body["model"] == "gpt-4.1-mini"
    assert body["temperature"] == 0.7
    system, user = body["messages"]
    assert system["role"] == "system" and "# " in system["content"]
    assert user == {"role": "user", "content": "Write about onboarding."}


def test_completion_text_tokens_and_cost_are_parsed_from_the_reply(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", chat_reply("# Title\n\nBody text."))
    completion = call(llm(fake))
    assert completion.text == "# Title\n\nBody text."
    assert completion.model == "gpt-4o-mini"
    assert (completion.tokens_in, completion.tokens_out) == (1000, 2000)
    # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
    assert completion.cost == Decimal("0.00135")


def test_dated_model_snapshots_are_priced_like_their_family(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", chat_reply("text", model="gpt-4o-2024-08-06"))
    assert call(llm(fake)).cost == Decimal("0.022500")


def test_unknown_models_and_missing_usage_cost_nothing(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", chat_reply("text", model="local-llama", usage={}))
    completion = call(llm(fake), model="local-llama")
    assert (completion.tokens_in, completion.tokens_out, completion.cost) == (0, 0, Decimal("0"))


@pytest.mark.parametrize("stage", ["research", "review", "seo"])
def test_json_stages_ask_for_json_and_have_code_fences_stripped(
    fake: FakeOpenAI, stage: str
) -> None:
    fake.reply("/v1/chat/completions", chat_reply('```json\n{"quality_score": 88}\n```'))
    completion = call(llm(fake), stage=stage)
    assert json.loads(completion.text) == {"quality_score": 88}
    assert "JSON" in fake.requests[0]["json"]["messages"][0]["content"]


def test_json_is_extracted_from_a_reply_with_prose_around_it(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", chat_reply('Sure! Here it is: {"angle": "x"} Enjoy.'))
    assert json.loads(call(llm(fake), stage="research").text) == {"angle": "x"}


def test_a_json_stage_reply_that_is_not_json_is_a_provider_error(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", chat_reply("I cannot help with that."))
    with pytest.raises(ProviderError, match="not a JSON object"):
        call(llm(fake), stage="seo")


def test_nul_characters_from_the_model_never_reach_the_database(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", chat_reply("# Ti\x00tle\n\nBody\x00."))
    assert call(llm(fake)).text == "# Title\n\nBody."
    fake.reply("/v1/chat/completions", chat_reply('{"angle": "a\\u0000b"}'))
    assert json.loads(call(llm(fake), stage="research").text) == {"angle": "ab"}


def test_a_draft_wrapped_in_a_markdown_fence_is_unwrapped(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", chat_reply("```markdown\n# Title\n\nBody\n```"))
    assert call(llm(fake)).text == "# Title\n\nBody"


def test_http_500_is_a_provider_error_naming_the_status_but_not_the_key(
    fake: FakeOpenAI,
) -> None:
    fake.reply(
        "/v1/chat/completions", {"error": {"message": "The server had an error"}}, status=500
    )
    with pytest.raises(ProviderError) as caught:
        call(llm(fake))
    message = str(caught.value)
    assert "500" in message and "The server had an error" in message
    assert API_KEY not in message
    assert API_KEY not in repr(llm(fake))


def test_a_body_that_is_not_json_is_a_provider_error(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", raw=b"<html>gateway hiccup</html>")
    with pytest.raises(ProviderError, match="not JSON"):
        call(llm(fake))


def test_a_reply_without_choices_is_a_provider_error(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", {"choices": []})
    with pytest.raises(ProviderError, match="choices"):
        call(llm(fake))


def test_a_slow_server_times_out_as_a_provider_error(fake: FakeOpenAI) -> None:
    fake.reply("/v1/chat/completions", chat_reply("late"), delay=1.5)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="did not answer within 0.3s"):
        call(llm(fake), timeout=0.3)
    assert time.monotonic() - started < 1.4


def test_an_unreachable_server_is_a_provider_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenAILLMProvider(base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY)
    with pytest.raises(ProviderError, match="failed"):
        call(provider)


def test_a_missing_api_key_fails_before_any_request(fake: FakeOpenAI) -> None:
    with pytest.raises(ProviderError, match="LLM_API_KEY"):
        call(OpenAILLMProvider(base_url=fake.base_url, api_key=""))
    assert fake.requests == []


def test_image_generation_decodes_the_base64_png(fake: FakeOpenAI) -> None:
    image = png_bytes()
    payload = {"data": [{"b64_json": base64.b64encode(image).decode()}]}
    fake.reply("/v1/images/generations", payload)
    provider = OpenAIImageProvider(base_url=fake.base_url, api_key=API_KEY)
    result = provider.generate_image(brief=BRIEF, prompt="A cover", model="gpt-image-1", timeout=5)

    assert result.content == image
    assert result.content_type == "image/png"
    assert result.model == "gpt-image-1"
    assert result.cost == Decimal("0.063")
    [request] = fake.requests
    assert request["path"] == "/v1/images/generations"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert request["json"]["model"] == "gpt-image-1"
    assert request["json"]["prompt"] == "A cover"
    assert request["json"]["size"] == "1536x1024"


def test_dall_e_is_asked_for_base64_at_its_landscape_size(fake: FakeOpenAI) -> None:
    payload = {"data": [{"b64_json": base64.b64encode(png_bytes()).decode()}]}
    fake.reply("/v1/images/generations", payload)
    provider = OpenAIImageProvider(base_url=fake.base_url, api_key=API_KEY)
    provider.generate_image(brief=BRIEF, prompt="A cover", model="dall-e-3", timeout=5)
    body = fake.requests[0]["json"]
    assert body["response_format"] == "b64_json"
    assert body["size"] == "1792x1024"


@pytest.mark.parametrize(
    "payload",
    [
        {"data": []},
        {"data": [{"url": "https://example.com/a.png"}]},
        {"data": [{"b64_json": "@@"}]},
    ],
    ids=["no-data", "url-only", "bad-base64"],
)
def test_an_unusable_image_response_is_a_provider_error(
    fake: FakeOpenAI, payload: dict[str, Any]
) -> None:
    fake.reply("/v1/images/generations", payload)
    provider = OpenAIImageProvider(base_url=fake.base_url, api_key=API_KEY)
    with pytest.raises(ProviderError):
        provider.generate_image(brief=BRIEF, prompt="A cover", model="gpt-image-1", timeout=5)


def test_image_http_errors_are_provider_errors(fake: FakeOpenAI) -> None:
    fake.reply("/v1/images/generations", {"error": {"message": "quota"}}, status=429)
    provider = OpenAIImageProvider(base_url=fake.base_url, api_key=API_KEY)
    with pytest.raises(ProviderError, match="429"):
        provider.generate_image(brief=BRIEF, prompt="A cover", model="gpt-image-1", timeout=5)


def test_base_url_and_key_default_to_django_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_settings = SimpleNamespace(LLM_BASE_URL="http://llm.internal/v1/", LLM_API_KEY="k")
    monkeypatch.setattr("django.conf.settings", fake_settings)
    provider = OpenAILLMProvider()
    assert (provider.base_url, provider.api_key) == ("http://llm.internal/v1", "k")
    explicit = OpenAIImageProvider(base_url="http://other/v1", api_key="x")
    assert (explicit.base_url, explicit.api_key) == ("http://other/v1", "x")


REGISTERED = [(kind, name) for kind, names in VALID_PROVIDERS.items() for name in names]
PROTOCOLS = {"llm": LLMProvider, "image": ImageProvider}


@pytest.mark.parametrize(("kind", "name"), REGISTERED)
def test_every_valid_name_builds_a_fresh_provider_of_that_name_and_kind(
    kind: str, name: str
) -> None:
    provider = get_provider(name, kind)
    assert provider.name == name
    assert isinstance(provider, PROTOCOLS[kind])
    assert get_provider(name, kind) is not provider


def test_settings_accept_exactly_the_names_the_registry_can_build(settings: Any) -> None:
    # Settings validate LLM_PROVIDER/IMAGE_PROVIDER against their own lists; a name accepted there
    # but missing from the registry would only fail when the first stage runs.
    assert set(settings.LLM_PROVIDERS) == set(VALID_PROVIDERS["llm"])
    assert set(settings.IMAGE_PROVIDERS) == set(VALID_PROVIDERS["image"])


@pytest.mark.parametrize("kind", list(VALID_PROVIDERS))
def test_an_unknown_name_of_each_kind_is_rejected_listing_that_kinds_names(kind: str) -> None:
    with pytest.raises(ValueError, match="'no-such-provider'") as raised:
        get_provider("no-such-provider", kind)
    assert all(name in str(raised.value) for name in VALID_PROVIDERS[kind])


def test_registry_rejects_unknown_names_and_kinds_listing_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="offline, openai"):
        get_provider("anthropic")
    with pytest.raises(ValueError, match="llm, image"):
        get_provider("offline", "audio")


def test_settings_choose_the_configured_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_settings = SimpleNamespace(
        LLM_PROVIDER="openai", IMAGE_PROVIDER="offline", LLM_BASE_URL=None, LLM_API_KEY="k"
    )
    monkeypatch.setattr("django.conf.settings", fake_settings)
    assert isinstance(llm_provider(), OpenAILLMProvider)
    assert isinstance(image_provider(), OfflineImageProvider)
