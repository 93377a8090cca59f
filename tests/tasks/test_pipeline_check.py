"""`manage.py pipeline_check` against the fake OpenAI-compatible server on loopback and
the offline providers."""

import io

import pytest
from django.core.management import CommandError, call_command

from ..fakes import CHAT_PATH, IMAGES_PATH, FakeLLMServer, chat_completion


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("pipeline_check", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_each_provider_of_both_chains_is_called_once_and_reported(settings):
    settings.LLM_MAX_RETRIES = 0
    with FakeLLMServer() as server:
        server.configure(settings, fallbacks=("offline",))
        server.reply(CHAT_PATH, chat_completion("# Rain\n\nBarrels save water.", model="gpt-x-1"))
        out, err = run()
        calls = [request.path for request in server.requests]
    assert calls == [CHAT_PATH, IMAGES_PATH]  # once each, the cache never asked
    lines = out.splitlines()
    assert lines[0].startswith(f"llm openai at {server.base_url}: ok in ")
    assert "model gpt-x-1" in lines[0] and "Barrels save water." in lines[0]
    assert lines[1].startswith("llm offline: ok in ")
    assert lines[2].startswith("image openai") and "image/png" in lines[2]
    assert lines[3].startswith("image offline: ok")
    assert err == ""


def test_a_failing_provider_is_reported_and_the_command_fails(settings):
    settings.LLM_MAX_RETRIES = 0
    with FakeLLMServer() as server:
        server.configure(settings)
        server.reply(CHAT_PATH, {"error": {"message": "model not found"}}, status=404)
        err = io.StringIO()
        with pytest.raises(CommandError, match="1 provider call"):
            call_command("pipeline_check", "--no-images", stdout=io.StringIO(), stderr=err)
        requests = list(server.requests)
    assert [request.path for request in requests] == [CHAT_PATH]
    assert "llm openai" in err.getvalue() and "HTTP 404: model not found" in err.getvalue()


def test_the_offline_providers_answer_without_a_network(settings):
    settings.LLM_CHAIN = settings.IMAGE_CHAIN = ("offline",)
    out, _ = run()
    assert out.count(": ok in ") == 2


def test_a_base_url_with_a_password_is_reported_without_it(settings):
    settings.LLM_MAX_RETRIES = 0
    with FakeLLMServer() as server:
        server.configure(settings)
        settings.LLM_BASE_URL = server.base_url.replace("://", "://admin:hunter2-secret@")
        out, err = run("--no-images")
    assert out.startswith(f"llm openai at {server.base_url}: ok in ")
    assert "hunter2-secret" not in out + err
