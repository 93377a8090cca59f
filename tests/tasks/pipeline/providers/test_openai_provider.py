"""The OpenAI-compatible providers against a real HTTP server on 127.0.0.1."""

import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tasks.pipeline.providers import (
    VALID_PROVIDERS,
    Brief,
    ImageProvider,
    LLMProvider,
    MalformedAnswer,
    OfflineImageProvider,
    OfflineLLMProvider,
    OpenAIImageProvider,
    OpenAILLMProvider,
    ProviderError,
    get_provider,
    image_chain,
    llm_chain,
)
from tasks.pipeline.stages import parse_json_object

from ....fakes import (
    CHAT_PATH,
    IMAGES_PATH,
    FakeLLMServer,
    Reply,
    chat_completion,
    image_generation,
    png_bytes,
)
from ....tarpit import Tarpit
from ..test_outbound import MARGIN, finished_within

API_KEY = "sk-test-secret-123"
BRIEF = Brief(task_type="blog_post", topic="Remote team onboarding", keywords=("Slack",))


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_client_retries(settings: Any) -> None:
    # One request per call unless a test is about the client's retries.
    settings.LLM_MAX_RETRIES = 0


def llm(fake: FakeLLMServer) -> OpenAILLMProvider:
    return OpenAILLMProvider(base_url=fake.base_url, api_key=API_KEY)


def call(provider: OpenAILLMProvider, stage: str = "draft", **kwargs: Any):
    arguments = {"model": "gpt-4o-mini", "timeout": 5.0, "prompt": "Write it.", **kwargs}
    return provider.generate(stage=stage, brief=BRIEF, context={}, **arguments)


def test_chat_request_goes_to_chat_completions_with_bearer_key_model_and_messages(
    fake: FakeLLMServer,
) -> None:
    fake.reply(CHAT_PATH, chat_completion("# Title\n\nBody"))
    call(llm(fake), prompt="Write about onboarding.", model="gpt-4.1-mini")

    [request] = fake.requests
    assert request.path == CHAT_PATH
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = request.json
    assert body["model"] == "gpt-4.1-mini"
    assert body["temperature"] == 0.7
    system, user = body["messages"]
    assert system["role"] == "system" and "# " in system["content"]
    assert user == {"role": "user", "content": "Write about onboarding."}


def test_completion_text_tokens_and_cost_are_parsed_from_the_reply(fake: FakeLLMServer) -> None:
    fake.reply(CHAT_PATH, chat_completion("# Title\n\nBody text."))
    completion = call(llm(fake))
    assert completion.text == "# Title\n\nBody text."
    assert completion.model == "gpt-4o-mini"
    assert (completion.tokens_in, completion.tokens_out) == (1000, 2000)
    # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
    assert completion.cost == Decimal("0.00135")


def test_dated_model_snapshots_are_priced_like_their_family(fake: FakeLLMServer) -> None:
    fake.reply(CHAT_PATH, chat_completion("text", model="gpt-4o-2024-08-06"))
    assert call(llm(fake)).cost == Decimal("0.022500")


def test_unknown_models_and_missing_usage_cost_nothing(fake: FakeLLMServer) -> None:
    fake.reply(CHAT_PATH, chat_completion("text", model="local-llama", usage={}))
    completion = call(llm(fake), model="local-llama")
    assert (completion.tokens_in, completion.tokens_out, completion.cost) == (0, 0, Decimal("0"))


@pytest.mark.parametrize("stage", ["research", "review", "seo"])
def test_json_stages_ask_for_json_and_have_code_fences_stripped(
    fake: FakeLLMServer, stage: str
) -> None:
    fake.reply(CHAT_PATH, chat_completion('```json\n{"quality_score": 88}\n```'))
    completion = call(llm(fake), stage=stage)
    assert json.loads(completion.text) == {"quality_score": 88}
    assert "JSON" in fake.requests[0].json["messages"][0]["content"]


def test_json_is_extracted_from_a_reply_with_prose_around_it(fake: FakeLLMServer) -> None:
    fake.reply(CHAT_PATH, chat_completion('Sure! Here it is: {"angle": "x"} Enjoy.'))
    assert json.loads(call(llm(fake), stage="research").text) == {"angle": "x"}


def test_a_json_stage_reply_that_is_not_json_is_passed_on_for_the_stage_to_refuse(
    fake: FakeLLMServer,
) -> None:
    fake.reply(CHAT_PATH, chat_completion("I cannot help with that."))
    text = call(llm(fake), stage="seo").text
    assert text == "I cannot help with that."
    with pytest.raises(MalformedAnswer, match="not a JSON object"):
        parse_json_object(text, "seo")


def test_nul_characters_from_the_model_never_reach_the_database(fake: FakeLLMServer) -> None:
    fake.reply(CHAT_PATH, chat_completion("# Ti\x00tle\n\nBody\x00."))
    assert call(llm(fake)).text == "# Title\n\nBody."
    fake.reply(CHAT_PATH, chat_completion('{"angle": "a\\u0000b"}'))
    assert json.loads(call(llm(fake), stage="research").text) == {"angle": "ab"}


def test_a_draft_wrapped_in_a_markdown_fence_is_unwrapped(fake: FakeLLMServer) -> None:
    fake.reply(CHAT_PATH, chat_completion("```markdown\n# Title\n\nBody\n```"))
    assert call(llm(fake)).text == "# Title\n\nBody"


def test_http_500_is_a_provider_error_naming_the_status_but_not_the_key(
    fake: FakeLLMServer,
) -> None:
    fake.reply(CHAT_PATH, {"error": {"message": "The server had an error"}}, status=500)
    with pytest.raises(ProviderError) as caught:
        call(llm(fake))
    message = str(caught.value)
    assert "500" in message and "The server had an error" in message
    assert API_KEY not in message
    assert API_KEY not in repr(llm(fake))


def test_a_rate_limited_call_is_retried_by_the_client_after_its_retry_after(
    fake: FakeLLMServer, settings: Any
) -> None:
    settings.LLM_MAX_RETRIES = 2
    fake.script(
        CHAT_PATH,
        Reply(
            {"error": {"message": "Rate limit reached"}}, status=429, headers={"Retry-After": "1"}
        ),
        Reply(chat_completion("# Title\n\nBody")),
    )
    started = time.monotonic()
    assert call(llm(fake)).text == "# Title\n\nBody"
    assert len(fake.requests) == 2
    assert time.monotonic() - started >= 0.9  # it waited as the server asked


def test_a_server_failing_past_the_retries_is_one_provider_error_after_each_retry(
    fake: FakeLLMServer, settings: Any
) -> None:
    settings.LLM_MAX_RETRIES = 2
    fake.reply(
        CHAT_PATH, {"error": {"message": "overloaded"}}, status=503, headers={"Retry-After": "0"}
    )
    with pytest.raises(ProviderError, match="HTTP 503: overloaded"):
        call(llm(fake))
    assert len(fake.requests) == 3


def test_a_body_that_is_not_json_is_a_provider_error(fake: FakeLLMServer) -> None:
    fake.reply(CHAT_PATH, raw=b"<html>gateway hiccup</html>")
    with pytest.raises(ProviderError, match="not JSON"):
        call(llm(fake))


def test_a_reply_without_choices_is_a_provider_error(fake: FakeLLMServer) -> None:
    fake.reply(CHAT_PATH, {"choices": []})
    with pytest.raises(ProviderError, match="choices"):
        call(llm(fake))


def test_a_slow_server_times_out_as_a_provider_error(fake: FakeLLMServer) -> None:
    fake.reply(CHAT_PATH, chat_completion("late"), delay=1.5)
    started = time.monotonic()
    with pytest.raises(ProviderError, match="did not answer within 0.3s"):
        call(llm(fake), timeout=0.3)
    assert time.monotonic() - started < 1.4


def test_an_unreachable_server_is_a_provider_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = OpenAILLMProvider(base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY)
    with pytest.raises(ProviderError, match="Could not reach .*refused"):
        call(provider)


def test_a_missing_api_key_fails_before_any_request(fake: FakeLLMServer) -> None:
    with pytest.raises(ProviderError, match="LLM_API_KEY"):
        call(OpenAILLMProvider(base_url=fake.base_url, api_key=""))
    assert fake.requests == []


def test_image_generation_decodes_the_base64_png(fake: FakeLLMServer) -> None:
    image = png_bytes()
    fake.reply(IMAGES_PATH, image_generation(image))
    provider = OpenAIImageProvider(base_url=fake.base_url, api_key=API_KEY)
    result = provider.generate_image(brief=BRIEF, prompt="A cover", model="gpt-image-1", timeout=5)

    assert result.content == image
    assert result.content_type == "image/png"
    assert result.model == "gpt-image-1"
    assert result.cost == Decimal("0.063")
    [request] = fake.requests
    assert request.path == IMAGES_PATH
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.json["model"] == "gpt-image-1"
    assert request.json["prompt"] == "A cover"
    assert request.json["size"] == "1536x1024"


def test_dall_e_is_asked_for_base64_at_its_landscape_size(fake: FakeLLMServer) -> None:
    fake.reply(IMAGES_PATH, image_generation(png_bytes()))
    provider = OpenAIImageProvider(base_url=fake.base_url, api_key=API_KEY)
    provider.generate_image(brief=BRIEF, prompt="A cover", model="dall-e-3", timeout=5)
    body = fake.requests[0].json
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
    fake: FakeLLMServer, payload: dict[str, Any]
) -> None:
    fake.reply(IMAGES_PATH, payload)
    provider = OpenAIImageProvider(base_url=fake.base_url, api_key=API_KEY)
    with pytest.raises(ProviderError):
        provider.generate_image(brief=BRIEF, prompt="A cover", model="gpt-image-1", timeout=5)


def test_image_http_errors_are_provider_errors(fake: FakeLLMServer) -> None:
    fake.reply(IMAGES_PATH, {"error": {"message": "quota"}}, status=429)
    provider = OpenAIImageProvider(base_url=fake.base_url, api_key=API_KEY)
    with pytest.raises(ProviderError, match="429"):
        provider.generate_image(brief=BRIEF, prompt="A cover", model="gpt-image-1", timeout=5)


def test_base_url_and_key_default_to_django_settings(settings: Any) -> None:
    settings.LLM_BASE_URL, settings.LLM_API_KEY = "http://llm.internal/v1/", "k"
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


def test_the_chains_are_the_configured_providers_in_order(settings: Any) -> None:
    settings.LLM_CHAIN, settings.IMAGE_CHAIN = ("openai", "offline"), ("offline",)
    assert [type(provider) for provider in llm_chain()] == [OpenAILLMProvider, OfflineLLMProvider]
    assert [type(provider) for provider in image_chain()] == [OfflineImageProvider]


def test_a_streamed_answer_is_followed_chunk_by_chunk_and_its_usage_counted(
    fake: FakeLLMServer,
) -> None:
    fake.chunk_size = 5
    fake.reply(CHAT_PATH, chat_completion("# Title\n\nA body of text.", usage={
        "prompt_tokens": 7, "completion_tokens": 9}))  # fmt: skip
    seen: list[str] = []
    completion = call(llm(fake), on_text=seen.append)
    assert completion.text == "# Title\n\nA body of text."
    assert (completion.tokens_in, completion.tokens_out) == (7, 9)
    assert len(seen) == 5 and seen[-1] == completion.text
    assert fake.requests[0].json["stream"] is True


def test_a_server_refusing_to_stream_is_asked_again_plainly(fake: FakeLLMServer) -> None:
    fake.script(
        CHAT_PATH, Reply({"error": {"message": "stream_options: unknown field"}}, status=400)
    )
    fake.reply(CHAT_PATH, chat_completion("# Title\n\nBody"))
    seen: list[str] = []
    assert call(llm(fake), on_text=seen.append).text == "# Title\n\nBody"
    assert [request.json.get("stream") for request in fake.requests] == [True, None]
    assert seen == []  # nothing to follow as it comes (the stage sends the whole text)


# --- Slow model servers: LLM_TIMEOUT bounds each whole attempt -----------------------


def test_a_model_server_trickling_its_answers_head_is_cut_off_at_llm_timeout(settings: Any) -> None:
    settings.LLM_TIMEOUT = 0.5
    with Tarpit("headers", interval=0.1) as tarpit:
        provider = OpenAILLMProvider(base_url=f"{tarpit.url}/v1", api_key=API_KEY)
        with pytest.raises(ProviderError, match="did not answer within 0.5s"):
            finished_within(0.5 + MARGIN, call, provider, timeout=settings.LLM_TIMEOUT)
        assert tarpit.wait_closed(MARGIN)


def test_a_streamed_answer_trickled_out_is_cut_off_at_llm_timeout(settings: Any) -> None:
    settings.LLM_TIMEOUT = 0.5
    with Tarpit("body", interval=0.1, content_type="text/event-stream") as tarpit:
        provider = OpenAILLMProvider(base_url=f"{tarpit.url}/v1", api_key=API_KEY)
        seen: list[str] = []
        with pytest.raises(ProviderError, match="did not answer within 0.5s"):
            finished_within(
                0.5 + MARGIN, call, provider, timeout=settings.LLM_TIMEOUT, on_text=seen.append
            )
        assert seen == []
        assert tarpit.wait_closed(MARGIN)


def test_an_image_trickled_out_is_cut_off_at_llm_timeout(settings: Any) -> None:
    settings.LLM_TIMEOUT = 0.5
    with Tarpit("body", interval=0.1, content_type="application/json") as tarpit:
        provider = OpenAIImageProvider(base_url=f"{tarpit.url}/v1", api_key=API_KEY)
        with pytest.raises(ProviderError, match="did not answer within 0.5s"):
            finished_within(
                0.5 + MARGIN,
                provider.generate_image,
                brief=BRIEF,
                prompt="A cover",
                model="gpt-image-1",
                timeout=settings.LLM_TIMEOUT,
            )
        assert tarpit.wait_closed(MARGIN)


@pytest.mark.parametrize("kind", [OpenAILLMProvider, OpenAIImageProvider])
def test_a_password_in_the_base_url_is_in_no_error_or_repr(kind: type) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = kind(base_url=f"http://editor:s3cret-pw@127.0.0.1:{port}/v1", api_key=API_KEY)
    with pytest.raises(ProviderError) as caught:
        if kind is OpenAILLMProvider:
            call(provider)
        else:
            provider.generate_image(brief=BRIEF, prompt="A cover", model="gpt-image-1", timeout=5)

    message = str(caught.value)
    assert message.startswith(f"Could not reach http://127.0.0.1:{port}/v1")
    assert "s3cret-pw" not in message and "editor" not in message
    assert "s3cret-pw" not in repr(provider)
