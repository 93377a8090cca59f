"""One rate limiter per model server and model, shared by every thread of every process
through Redis, so model calls wait for the server's rate limit before they are sent
instead of being answered 429 and retried by each caller on its own (a retry storm when
a hundred tasks are in flight).

It learns from what OpenAI-compatible servers send with every answer:
`x-ratelimit-limit-requests` / `-tokens` (per minute), `x-ratelimit-remaining-*`,
`x-ratelimit-reset-*`, and `Retry-After` / `retry-after-ms` on a 429.

- Pacing: GCRA (a token bucket kept as one timestamp, the theoretical arrival time)
  at the learned rate. Each attempt reserves its send time and its thread sleeps until
  then, so waiters go in the order they came, without polling. The burst is half a
  second's worth of the limit (at least one call): OpenAI enforces a per-minute limit
  over shorter periods ("60,000 requests/minute may be enforced as 1,000 requests/
  second"), and half leaves room for the jitter between our clock and the server's.
  Tokens are paced the same way by an estimate of each request's tokens (its body's
  bytes / 4, plus `max_tokens`).
- Blocking: a 429 blocks the key until its Retry-After (1 s when it gives none);
  `remaining` 0 (requests, or tokens short of the request's estimate) blocks it until
  the server has room again: the next unit's refill, or the reset when the limit is
  not known.
- Until anything is learned, one call per key is in flight (the probe), so a server
  with a small burst does not get a first wave of 429s; a probe not answered within
  PROBE_LEASE seconds (it failed or the model is slow) stops the gating. A server whose
  answers carry no rate headers is not limited at all (Retry-After still blocks).
- `LLM_RATE_LIMIT` (requests per minute) gives a rate up front: no probe, and it caps
  what the headers say. A call whose wait would pass `LLM_RATE_WAIT_MAX` fails at once
  with RateLimitWaitExceeded (a ProviderError: the stage's provider chain goes on).

The state of a key is a Redis hash on the cache's server under the cache's key prefix,
read and written in a WATCH/MULTI transaction with Redis' clock; a process's threads
take their turns on a lock first, so optimistic retries happen only between processes.
With Redis unreachable the same algorithm runs on this process's own state, one
warning logged, and Redis is tried again every few seconds.

Wired in through httpx's public event hooks (`event_hooks(base_url)`): every attempt,
the openai client's own retries included, passes through them, and the wait happens
before the transport, so it does not count against the call's timeout.
"""

import email.utils
import json
import logging
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, WatchError
from redis.retry import Retry

from tasks.pipeline.outbound import display_url
from tasks.pipeline.providers.base import ProviderError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A probe not answered within this many seconds no longer holds the others back.
PROBE_LEASE = 5.0
# How often a call waiting for another process's probe looks again.
POLL_SECONDS = 0.1
# The pause after a 429 that says nothing of when to come back.
DEFAULT_PAUSE = 1.0
# Redis keeps a key's state this long after its last use.
STATE_TTL = 24 * 60 * 60
# After Redis failed, how long this process keeps its own state before trying it again.
RETRY_REDIS_AFTER = 5.0
# The headers' limits are per minute (OpenAI's RPM and TPM).
WINDOW = 60.0
# Burst: this share of one second's worth of the limit (see the module's docstring).
BURST_SECONDS = 0.5
EXTENSION = "tasks.pipeline.ratelimit"

GO, POLL, OVER = "go", "poll", "over"


class RateLimitWaitExceeded(ProviderError):
    """The server's rate limit would hold the call longer than LLM_RATE_WAIT_MAX."""


@dataclass
class State:
    """What is known of one key. Times are seconds since the epoch on the clock of the
    store (Redis' own, so processes on hosts whose clocks differ agree)."""

    interval: float | None = None  # seconds a request; 0: no limit; None: not known yet
    burst: float = 1.0  # requests that may go at once
    tat: float = 0.0  # theoretical arrival time of the requests' bucket (GCRA)
    token_interval: float = 0.0  # seconds a token; 0: no token limit known
    token_burst: float = 0.0
    token_tat: float = 0.0
    blocked_until: float = 0.0  # a 429, or nothing remaining: nothing is sent before
    probe_until: float = 0.0  # the lease of the probe in flight
    probe_owner: str = ""

    @classmethod
    def from_redis(cls, raw: dict[str, str]) -> "State":
        state = cls()
        for field in fields(cls):
            value = raw.get(field.name)
            if value is None or value == "":
                continue
            setattr(state, field.name, value if field.name == "probe_owner" else float(value))
        return state

    def to_redis(self) -> dict[str, str]:
        return {
            field.name: "" if (value := getattr(self, field.name)) is None else str(value)
            for field in fields(self)
        }


@dataclass(frozen=True)
class Seen:
    """The rate headers of one answer (None: not sent)."""

    limit: float | None = None
    remaining: float | None = None
    reset: float | None = None
    token_limit: float | None = None
    token_remaining: float | None = None
    token_reset: float | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Grant:
    """A reservation kept on the request, for its answer to teach the key."""

    key: str
    sent_at: float
    cost: int


# --- The algorithm: pure steps on a key's state --------------------------------------


def reserve(
    state: State,
    now: float,
    *,
    cost: int,
    budget: float,
    owner: str,
    preset_interval: float = 0.0,
    preset_burst: float = 1.0,
) -> tuple[str, float]:
    """Reserve the earliest send time for one request costing `cost` tokens: (GO, wait)
    with the state updated; (POLL, wait) while another caller's probe is out; (OVER,
    wait) when the wait would pass `budget` (nothing reserved)."""
    if state.interval is None and not preset_interval:
        if not state.probe_until or state.probe_owner == owner:
            wait = max(0.0, state.blocked_until - now)
            if wait > budget:
                return OVER, wait
            state.probe_until, state.probe_owner = now + wait + PROBE_LEASE, owner
            return GO, wait
        if state.probe_until > now:
            return POLL, min(state.probe_until - now, POLL_SECONDS)
        # The probe's lease ran out unanswered: nothing to pace by until an answer comes.
    learned = state.interval or 0.0
    interval = max(learned, preset_interval)
    burst = state.burst if learned > 0 else math.inf
    if preset_interval:
        burst = min(burst, preset_burst)
    send_at = max(now, state.blocked_until)
    if interval > 0:
        send_at = max(send_at, state.tat - (burst - 1) * interval)
    tokens = state.token_interval > 0 and cost > 0
    if tokens:
        spare = max(0.0, state.token_burst - cost)
        send_at = max(send_at, state.token_tat - spare * state.token_interval)
    wait = send_at - now
    if wait > budget:
        return OVER, wait
    if interval > 0:
        state.tat = max(state.tat, send_at) + interval
    if tokens:
        state.token_tat = max(state.token_tat, send_at) + cost * state.token_interval
    return GO, wait


def blocked_for(state: State, now: float) -> float:
    """Seconds the key is still blocked (by a 429, or nothing remaining)."""
    return max(0.0, state.blocked_until - now)


def learn(state: State, now: float, *, sent_at: float, cost: int, status: int, seen: Seen) -> None:
    """Take in what one answer (to a request sent at `sent_at`) says of the limit."""
    if seen.limit:
        state.interval = WINDOW / seen.limit
        state.burst = _burst(seen.limit)
    elif state.interval is None:
        state.interval = 0.0  # no limit said: nothing to pace by (429s still block)
    if seen.token_limit:
        state.token_interval = WINDOW / seen.token_limit
        state.token_burst = _burst(seen.token_limit)
    state.probe_until, state.probe_owner = 0.0, ""
    if seen.remaining is not None and seen.remaining < 1:
        # A bucket refills one request each interval; `reset` is when it is full again
        # (OpenAI), or when a fixed window ends.
        wait = seen.reset if seen.reset is not None else DEFAULT_PAUSE
        if state.interval:
            wait = min(wait, state.interval)
        state.blocked_until = max(state.blocked_until, sent_at + wait)
    if seen.token_remaining is not None and cost > 0 and seen.token_remaining < cost:
        if state.token_interval:
            wait = (cost - seen.token_remaining) * state.token_interval
            if seen.token_reset is not None:
                wait = min(wait, seen.token_reset)
        else:
            wait = seen.token_reset if seen.token_reset is not None else DEFAULT_PAUSE
        state.blocked_until = max(state.blocked_until, sent_at + wait)
    if status == 429:
        pause = seen.retry_after if seen.retry_after is not None else DEFAULT_PAUSE
        state.blocked_until = max(state.blocked_until, now + pause)
        if state.interval:
            # After the pause the bucket is taken to be empty: one call, then the pace.
            start = state.blocked_until + (state.burst - 1) * state.interval
            state.tat = max(state.tat, start)


def _burst(limit: float) -> float:
    return max(1.0, math.floor(limit / WINDOW * BURST_SECONDS))


# --- Headers ---------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(value: str | None) -> float | None:
    """Seconds from a reset header: OpenAI's Go-style durations (`6m0s`, `1.5s`,
    `120ms`) or a plain number of seconds; None when it is neither."""
    if value is None:
        return None
    text = value.strip().lower()
    number = _number(text)
    if number is not None:
        return max(0.0, number)
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return total if position and position == len(text) else None


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms`, else `Retry-After` (seconds or an
    HTTP date); None when neither says."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None and millis >= 0:
        return millis / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def parse_headers(headers: Any) -> Seen:
    def count(name: str) -> float | None:
        number = _number(headers.get(name))
        return number if number is not None and number >= 0 else None

    limit, token_limit = count("x-ratelimit-limit-requests"), count("x-ratelimit-limit-tokens")
    return Seen(
        limit=limit or None,
        remaining=count("x-ratelimit-remaining-requests"),
        reset=parse_duration(headers.get("x-ratelimit-reset-requests")),
        token_limit=token_limit or None,
        token_remaining=count("x-ratelimit-remaining-tokens"),
        token_reset=parse_duration(headers.get("x-ratelimit-reset-tokens")),
        retry_after=parse_retry_after(headers),
    )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# --- Where the state lives -------------------------------------------------------------


class LocalStates:
    """This process's own state: the fallback while Redis is unreachable."""

    def __init__(self) -> None:
        self._states: dict[str, State] = {}
        self._lock = threading.Lock()

    def update(self, key: str, step: Callable[[State, float], T]) -> tuple[T, float]:
        with self._lock:
            state = self._states.setdefault(key, State())
            now = time.time()
            return step(state, now), now

    def clear(self) -> None:
        with self._lock:
            self._states.clear()


class RedisStates:
    """The state shared by every process, in a hash per key on the cache's Redis."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client, self.prefix = client, prefix
        self._lock = threading.Lock()

    def update(self, key: str, step: Callable[[State, float], T]) -> tuple[T, float]:
        name = f"{self.prefix}:ratelimit:{key}"
        # Threads of this process queue here, so WATCH conflicts (a retry each) only
        # happen between processes.
        with self._lock, self.client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(name)
                    state = State.from_redis(pipe.hgetall(name))
                    seconds, micros = pipe.time()
                    now = seconds + micros / 1_000_000
                    before = replace(state)
                    result = step(state, now)
                    if state == before:
                        pipe.unwatch()
                        return result, now
                    pipe.multi()
                    pipe.hset(name, mapping=state.to_redis())
                    pipe.expire(name, STATE_TTL)
                    pipe.execute()
                    return result, now
                except WatchError:
                    continue


class Limiter:
    """The limiter of this process: Redis' shared state, or its own while Redis is down."""

    def __init__(self) -> None:
        self.local = LocalStates()
        self._clients: dict[tuple[str, int], redis.Redis] = {}
        self._redis_lock = threading.Lock()
        self._stores: dict[tuple[str, str, int], RedisStates] = {}
        self._down_until = 0.0
        self._down = False
        self._changed = threading.Condition()

    def forget(self) -> None:
        """Drop this process's own state and what it took Redis' health to be (tests)."""
        self.local.clear()
        self._down_until, self._down = 0.0, False

    def _store(self) -> RedisStates:
        cache = settings.CACHES["default"]
        location, prefix = str(cache.get("LOCATION", "")), str(cache.get("KEY_PREFIX", ""))
        # A forked child (a prefork worker) makes connections of its own.
        key = (location, prefix, os.getpid())
        store = self._stores.get(key)
        if store is None:
            with self._redis_lock:
                store = self._stores.get(key)
                if store is None:
                    timeout = settings.CACHE_TIMEOUT
                    client = redis.Redis.from_url(
                        location,
                        socket_timeout=timeout,
                        socket_connect_timeout=timeout,
                        retry=Retry(NoBackoff(), 0),
                        decode_responses=True,
                    )
                    store = self._stores[key] = RedisStates(client, prefix)
        return store

    def update(self, key: str, step: Callable[[State, float], T]) -> tuple[T, float]:
        """Run `step` on the key's state atomically; (its result, the store's now)."""
        if time.monotonic() >= self._down_until:
            try:
                result = self._store().update(key, step)
            except (RedisError, OSError) as exc:
                self._down_until = time.monotonic() + RETRY_REDIS_AFTER
                if not self._down:
                    self._down = True
                    logger.warning(
                        "Model rate limits are kept in this process alone: Redis is "
                        "unreachable (%s)", exc.__class__.__name__,
                    )  # fmt: skip
            else:
                if self._down:
                    self._down = False
                    logger.info("Model rate limits are shared through Redis again")
                return result
        return self.local.update(key, step)

    def acquire(self, key: str, *, cost: int) -> Grant:
        """Wait until a request on `key` may be sent; raise RateLimitWaitExceeded when
        that would take longer than LLM_RATE_WAIT_MAX."""
        wait_max = float(settings.LLM_RATE_WAIT_MAX)
        rpm = float(settings.LLM_RATE_LIMIT or 0)
        preset = {"preset_interval": WINDOW / rpm, "preset_burst": _burst(rpm)} if rpm else {}
        owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        started = time.monotonic()
        while True:
            budget = wait_max - (time.monotonic() - started)
            (decision, wait), now = self.update(
                key,
                lambda state, now, budget=budget: reserve(
                    state, now, cost=cost, budget=budget, owner=owner, **preset
                ),
            )
            if decision == OVER or (decision == POLL and budget <= 0):
                raise RateLimitWaitExceeded(
                    f"The rate limit of {key} would hold this call {wait:.0f}s more, "
                    f"past LLM_RATE_WAIT_MAX ({wait_max:g}s)"
                )
            if decision == POLL:
                with self._changed:
                    self._changed.wait(min(wait, budget))
                continue
            if wait > 0:
                time.sleep(wait)
                # A 429 seen meanwhile holds every call back, this one too.
                blocked, _ = self.update(key, blocked_for)
                if blocked > 0:
                    continue
            return Grant(key=key, sent_at=now + wait, cost=cost)

    def observe(self, grant: Grant, *, status: int, headers: Any) -> None:
        """Learn from the answer to a granted request."""
        seen = parse_headers(headers)
        self.update(
            grant.key,
            lambda state, now: learn(
                state, now, sent_at=grant.sent_at, cost=grant.cost, status=status, seen=seen
            ),
        )
        with self._changed:
            self._changed.notify_all()


limiter = Limiter()


# --- httpx event hooks -------------------------------------------------------------------


def _model_and_cost(request: Any) -> tuple[str, int]:
    """The model a JSON request names and an estimate of its tokens (about 4 bytes a
    token, plus the answer's ceiling when it sets one)."""
    try:
        content = request.content
    except Exception:  # a streamed body, never read: nothing to estimate from
        return "", 0
    try:
        body = json.loads(content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return "", len(content) // 4
    ceiling = body.get("max_completion_tokens") or body.get("max_tokens") or 0
    ceiling = ceiling if isinstance(ceiling, int) and ceiling > 0 else 0
    return str(body.get("model") or ""), len(content) // 4 + ceiling


def event_hooks(base_url: str) -> dict[str, list[Callable[[Any], None]]]:
    """httpx event hooks for a client of the model server at `base_url`: each request
    waits for the limiter of (server, model) first, and each answer feeds it."""
    server = display_url(base_url).rstrip("/")

    def before_send(request: Any) -> None:
        model, cost = _model_and_cost(request)
        request.extensions[EXTENSION] = limiter.acquire(f"{server}|{model}", cost=cost)

    def after_answer(response: Any) -> None:
        grant = response.request.extensions.get(EXTENSION)
        if grant is not None:
            limiter.observe(grant, status=response.status_code, headers=response.headers)

    return {"request": [before_send], "response": [after_answer]}
