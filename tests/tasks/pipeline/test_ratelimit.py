"""The shared rate limit of model calls (tasks/pipeline/ratelimit.py), against fake
OpenAI-compatible servers on loopback that enforce a rate as OpenAI does (a token bucket,
429 with Retry-After past it, x-ratelimit-* headers on every answer)."""

import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tasks.pipeline import ratelimit
from tasks.pipeline.providers import Brief, OpenAILLMProvider, ProviderError
from tasks.pipeline.ratelimit import RateLimitWaitExceeded

from ...fakes import CHAT_PATH, FakeLLMServer, RateLimitedLLMServer, Reply
from .ratelimit_calls import calls

ROOT = Path(__file__).resolve().parents[3]
DEAD_REDIS = "redis://127.0.0.1:1"  # nothing listens there
BRIEF = Brief(task_type="blog_post", topic="Rain barrels")


@pytest.fixture(autouse=True)
def _fresh_limiter(settings: Any) -> None:
    # The shared state lives under the cache's prefix, which every test empties; this
    # process's own (the fallback) is emptied here.
    settings.LLM_MAX_RETRIES = 2
    ratelimit.limiter.forget()


def call(fake: FakeLLMServer, *, model: str = "gpt-4o-mini", prompt: str = "Write the piece."):
    provider = OpenAILLMProvider(base_url=fake.base_url, api_key="test-key")
    return provider.generate(
        stage="draft", brief=BRIEF, prompt=prompt, context={}, model=model, timeout=10.0
    )


def within_the_limits_time(elapsed: float, allowed: float) -> bool:
    """Whether calls that took `elapsed` seconds kept about to the `allowed` time: the
    ratio itself is measured by bench/rate_limit.py; a test on a busy machine only
    tells pacing (seconds) from waiting out a whole window or going one at a time."""
    return elapsed <= 2 * allowed + 1.5


def finished_after(fake: FakeLLMServer, start: float, **kwargs: Any) -> float:
    call(fake, **kwargs)
    return time.monotonic() - start


def test_many_threads_of_one_process_keep_to_the_servers_rate_with_almost_no_429s() -> None:
    with RateLimitedLLMServer(per_minute=600) as fake:  # 10 a second, 10 at once
        elapsed, failures = calls(fake.base_url, 40, threads=20)
    assert failures == []
    assert fake.limited <= 1
    # The time the limit allows (3 s), give or take the half burst the limiter keeps.
    assert within_the_limits_time(elapsed, fake.allowed_seconds(fake.accepted))


@pytest.mark.processes
def test_two_processes_share_one_limit_through_redis(settings: Any) -> None:
    cache = settings.CACHES["default"]
    environment = {
        **os.environ,
        "CACHE_URL": cache["LOCATION"],
        "CACHE_KEY_PREFIX": cache["KEY_PREFIX"],
        "LLM_MAX_RETRIES": str(settings.LLM_MAX_RETRIES),
    }
    with RateLimitedLLMServer(per_minute=600) as fake:
        command = [sys.executable, "-m", "tests.tasks.pipeline.ratelimit_calls"]
        other = subprocess.Popen(
            [*command, fake.base_url, "20", "10"], cwd=ROOT, env=environment,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert other.stdout.readline().strip() == "ready"
            other.stdin.write("go\n")
            other.stdin.flush()
            elapsed, failures = calls(fake.base_url, 20, threads=10)
            theirs = json.loads(other.stdout.readline())
        finally:
            other.kill()
            other.wait()
    assert failures == [] and theirs["failures"] == []
    # Each process alone would send at the whole rate: together, twice what is allowed.
    assert fake.limited <= 1
    assert within_the_limits_time(
        max(elapsed, theirs["elapsed"]), fake.allowed_seconds(fake.accepted)
    )


@pytest.mark.parametrize("header", [{"Retry-After": "1"}, {"retry-after-ms": "1000"}])
def test_a_429s_retry_after_holds_back_every_other_call_of_that_model(
    settings: Any, header: dict[str, str]
) -> None:
    settings.LLM_MAX_RETRIES = 0
    with FakeLLMServer() as fake:
        call(fake)
        fake.script(CHAT_PATH, Reply({"error": {"message": "slow down"}}, status=429,
                                     headers=header))  # fmt: skip
        with pytest.raises(ProviderError, match="429"):
            call(fake)
        refused = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            held = [pool.submit(finished_after, fake, refused) for _ in range(3)]
            other_model = pool.submit(finished_after, fake, refused, model="gpt-4.1")
    assert min(future.result() for future in held) >= 0.9
    assert other_model.result() < 0.9  # its own limit: not held


def test_a_server_without_rate_headers_gets_one_probe_then_every_call_at_once() -> None:
    with FakeLLMServer(delay=0.5) as fake:
        started = time.monotonic()
        with ThreadPoolExecutor(10) as pool:
            finished = sorted(pool.map(lambda _: finished_after(fake, started), range(10)))
    # The first call went alone; it taught that nothing limits the server, and the nine
    # others then went together (one after another, they would take 4.5 s more; the
    # bound leaves room for a busy machine).
    assert finished[0] < 0.9
    assert finished[1] >= 0.9
    assert finished[-1] < 3.0


def test_with_redis_unreachable_the_limit_is_kept_in_the_process_and_said_once(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"{DEAD_REDIS}/1"}}
    with RateLimitedLLMServer(per_minute=600) as fake, caplog.at_level(logging.WARNING):
        elapsed, failures = calls(fake.base_url, 30, threads=15)
    assert failures == []
    assert fake.limited <= 1
    assert within_the_limits_time(elapsed, fake.allowed_seconds(fake.accepted))
    warnings = [r for r in caplog.records if "kept in this process" in r.getMessage()]
    assert len(warnings) == 1


def test_a_call_that_would_wait_past_the_cap_fails_at_once_without_being_sent(
    settings: Any,
) -> None:
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_RATE_WAIT_MAX = 1.0
    with FakeLLMServer() as fake:
        fake.script(CHAT_PATH, Reply({"error": {"message": "come back later"}}, status=429,
                                     headers={"Retry-After": "30"}))  # fmt: skip
        with pytest.raises(ProviderError, match="429"):
            call(fake)
        sent = len(fake.requests)
        started = time.monotonic()
        with pytest.raises(RateLimitWaitExceeded, match=r"30s more, past LLM_RATE_WAIT_MAX"):
            call(fake)
        assert time.monotonic() - started < 5  # not the 30 s
        assert len(fake.requests) == sent
    # A provider error: the stage's chain goes on to its next provider.
    assert issubclass(RateLimitWaitExceeded, ProviderError)


def test_a_rate_set_up_front_paces_a_server_that_sends_no_rate_headers(settings: Any) -> None:
    settings.LLM_RATE_LIMIT = 600
    with RateLimitedLLMServer(per_minute=600, headers=False) as fake:
        elapsed, failures = calls(fake.base_url, 30, threads=15)
    assert failures == []
    assert fake.limited <= 1
    assert within_the_limits_time(elapsed, fake.allowed_seconds(fake.accepted))


def test_calls_are_paced_by_the_token_limit_when_it_binds_first(settings: Any) -> None:
    prompt = "Write the piece. " + "Rain barrels hold water. " * 120  # ~900 tokens a call
    # 6,000 requests a minute never bind; 240,000 tokens a minute (4,000 a second) do.
    with RateLimitedLLMServer(per_minute=6000, tokens_per_minute=240_000) as fake:
        started = time.monotonic()
        with ThreadPoolExecutor(10) as pool:
            list(pool.map(lambda _: call(fake, prompt=prompt), range(20)))
        elapsed = time.monotonic() - started
        tokens = sum(len(request.body) // 4 for request in fake.requests)
    assert fake.limited <= 1
    allowed = (tokens - fake.tokens_bucket.capacity) / (240_000 / 60)
    assert within_the_limits_time(elapsed, allowed)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("6m0s", 360.0), ("1.5s", 1.5), ("120ms", 0.12), ("2m59.56s", 179.56), ("1h2m3s", 3723.0),
     ("30", 30.0), ("", None), ("soon", None), ("1s2", None)],
)  # fmt: skip
def test_reset_headers_are_read_as_openai_writes_them(value: str, seconds: float | None) -> None:
    assert ratelimit.parse_duration(value) == pytest.approx(seconds)


def test_retry_after_prefers_milliseconds_and_reads_an_http_date() -> None:
    assert ratelimit.parse_retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25
    assert ratelimit.parse_retry_after({"retry-after": "3"}) == 3.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 20))
    assert 18 <= ratelimit.parse_retry_after({"retry-after": date}) <= 20
    assert ratelimit.parse_retry_after({}) is None
