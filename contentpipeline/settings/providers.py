"""What generation calls and how: the language-model and image providers, their
fallbacks, models, prices and rate limits, the cost ceiling, the review's quality
loop, the research stage's source fetches, and the webhooks' outbound calls.

Production gets the offline providers (no model server needed) unless LLM_PROVIDER
or IMAGE_PROVIDER names `openai`, a $2.00 ceiling per task, and sources and webhooks
refused on loopback and private networks.
"""

from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

from .base import env

LLM_PROVIDERS = ("offline", "openai")
IMAGE_PROVIDERS = ("offline", "openai")
LLM_PROVIDER = env.str("LLM_PROVIDER", default="offline")
IMAGE_PROVIDER = env.str("IMAGE_PROVIDER", default="offline")
if LLM_PROVIDER not in LLM_PROVIDERS:
    raise ImproperlyConfigured(
        f"LLM_PROVIDER={LLM_PROVIDER!r} is unknown; use one of {', '.join(LLM_PROVIDERS)}"
    )
if IMAGE_PROVIDER not in IMAGE_PROVIDERS:
    raise ImproperlyConfigured(
        f"IMAGE_PROVIDER={IMAGE_PROVIDER!r} is unknown; use one of {', '.join(IMAGE_PROVIDERS)}"
    )
LLM_BASE_URL = env.str("LLM_BASE_URL", default="https://api.openai.com/v1")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_MODEL = env.str("LLM_MODEL", default="gpt-4o-mini")
IMAGE_MODEL = env.str("IMAGE_MODEL", default="gpt-image-1")
# Which model each stage uses, by the task's quality_preference.
LLM_MODELS = {
    "fast": env.str("LLM_MODEL_FAST", default=LLM_MODEL),
    "balanced": LLM_MODEL,
    "quality": env.str("LLM_MODEL_QUALITY", default=LLM_MODEL),
}
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=120.0)
# Retries of one call by the openai client (429, 5xx, timeouts; it honours Retry-After)
# before the next provider of the chain is tried.
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)
# Model calls wait for the server's rate limit, learned from its x-ratelimit-* and
# Retry-After headers and shared by every process through Redis (contentpipeline/
# ratelimit.py). LLM_RATE_LIMIT (requests per minute, 0: learn it) sets one up front;
# a call that would wait longer than LLM_RATE_WAIT_MAX fails, and the chain goes on.
LLM_RATE_LIMIT = env.int("LLM_RATE_LIMIT", default=0)
LLM_RATE_WAIT_MAX = env.float("LLM_RATE_WAIT_MAX", default=300.0)
if LLM_RATE_LIMIT < 0:
    raise ImproperlyConfigured("LLM_RATE_LIMIT is requests per minute: 0 (learn it) or more")
if not 0 < LLM_RATE_WAIT_MAX <= 3600:
    raise ImproperlyConfigured("LLM_RATE_WAIT_MAX is from 0 to 3600 seconds")
# Draft text sent to the task's WebSocket while a streaming provider writes it.
LLM_STREAM = env.bool("LLM_STREAM", default=True)


def _provider_chain(variable: str, first: str, valid: tuple[str, ...]) -> tuple[str, ...]:
    """`first`, then the providers named in `variable` (comma separated) not yet in it."""
    chain = [first]
    for name in env.list(variable, default=[]):
        if name not in valid:
            raise ImproperlyConfigured(
                f"{variable} names {name!r}, which is unknown; use {', '.join(valid)}"
            )
        if name not in chain:
            chain.append(name)
    return tuple(chain)


# What a stage tries, in order, when a provider fails after its retries.
LLM_CHAIN = _provider_chain("LLM_FALLBACKS", LLM_PROVIDER, LLM_PROVIDERS)
IMAGE_CHAIN = _provider_chain("IMAGE_FALLBACKS", IMAGE_PROVIDER, IMAGE_PROVIDERS)
if "openai" in (*LLM_CHAIN, *IMAGE_CHAIN) and not LLM_API_KEY:
    raise ImproperlyConfigured("The openai provider needs LLM_API_KEY")

# The ones a model writes; "check" (the claims' judgement) uses the review's model
# unless named itself.
LLM_STAGES = ("research", "draft", "review", "check", "seo")


def _mapping(variable: str, parse, keys: tuple[str, ...] | None = None) -> dict:
    """`a=x,b=y` from the environment, each value through `parse`; a clear error for
    anything else."""
    found = {}
    for item in env.list(variable, default=[]):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value or (keys and key not in keys):
            allowed = f" (keys: {', '.join(keys)})" if keys else ""
            raise ImproperlyConfigured(f"{variable}: {item!r} is not name=value{allowed}")
        try:
            found[key] = parse(value)
        except (ValueError, ArithmeticError) as exc:
            raise ImproperlyConfigured(f"{variable}: {item!r}: {exc}") from exc
    return found


# A stage's model, whatever the quality asked for: LLM_STAGE_MODELS=draft=gpt-4.1,...
LLM_STAGE_MODELS = _mapping("LLM_STAGE_MODELS", str, LLM_STAGES)


def _price_pair(value: str) -> tuple[Decimal, Decimal]:
    first, sep, second = value.partition("/")
    if not sep:
        raise ValueError("give the input and output price per million tokens, as 0.15/0.60")
    return Decimal(first), Decimal(second)


# USD per million (input, output) tokens; the longest matching model prefix wins, so a
# dated snapshot is priced like its family; a model priced nowhere costs 0.
# LLM_PRICES=my-model=0.20/0.80,... adds or overrides entries.
LLM_PRICES = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.40")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-5-nano": (Decimal("0.05"), Decimal("0.40")),
    "gpt-5-mini": (Decimal("0.25"), Decimal("2.00")),
    "gpt-5": (Decimal("1.25"), Decimal("10.00")),
    "o4-mini": (Decimal("1.10"), Decimal("4.40")),
} | _mapping("LLM_PRICES", _price_pair)
# USD per generated image; IMAGE_PRICES=model=0.04,... adds or overrides entries.
IMAGE_PRICES = {
    "gpt-image-1-mini": Decimal("0.015"),
    "gpt-image-1": Decimal("0.063"),
    "dall-e-3": Decimal("0.080"),
    "dall-e-2": Decimal("0.020"),
} | _mapping("IMAGE_PRICES", Decimal)
# Ceiling in USD on one task's model calls when the task sets none (empty: no ceiling).
TASK_MAX_COST = env.str("TASK_MAX_COST", default="2.00")
try:
    TASK_MAX_COST = Decimal(TASK_MAX_COST) if TASK_MAX_COST.strip() else None
except ArithmeticError as exc:
    raise ImproperlyConfigured(f"TASK_MAX_COST={TASK_MAX_COST!r} is not a number") from exc

# The review's quality loop: a draft scored below the threshold is refined with the
# critique and reviewed again, at most QUALITY_MAX_REFINEMENTS times.
QUALITY_THRESHOLD = env.int("QUALITY_THRESHOLD", default=75)
QUALITY_MAX_REFINEMENTS = env.int("QUALITY_MAX_REFINEMENTS", default=1)
if not 0 <= QUALITY_THRESHOLD <= 100:
    raise ImproperlyConfigured("QUALITY_THRESHOLD is a score from 0 to 100")
if not 0 <= QUALITY_MAX_REFINEMENTS <= 5:
    raise ImproperlyConfigured("QUALITY_MAX_REFINEMENTS is from 0 to 5")

# The research stage's fetch of a task's sources.
SOURCE_FETCH_TIMEOUT = env.float("SOURCE_FETCH_TIMEOUT", default=10.0)
SOURCE_MAX_BYTES = env.int("SOURCE_MAX_BYTES", default=2_000_000)
# Sources on loopback or private networks are refused unless this is set (the tests
# serve their pages on loopback): a task must not make the server read its neighbours.
SOURCES_ALLOW_PRIVATE = env.bool("SOURCES_ALLOW_PRIVATE", default=False)

# Webhooks (tasks/services/webhooks.py): each status change of an integrator's task is
# POSTed, signed, to the URLs they registered. A URL whose host resolves to a loopback,
# private, link-local or otherwise non-public address is refused (when registered and
# again at each connection, with the research sources' guard) unless this is set: a
# webhook must not make the server call its neighbours. Off in every environment by
# default; the tests (receivers on loopback) and a developer's own receiver set it.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# Seconds one delivery attempt may take in all (name lookup, connect, send, the answer):
# the outbound transport's deadline, the connection closed when it passes.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
# Attempts of a delivery before it is given up, and the wait before the second one,
# doubled before each further one (10 s, 20 s, ... 640 s: about 21 minutes in all).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_DELAY = env.float("WEBHOOK_RETRY_DELAY", default=10.0)
WEBHOOKS_PER_USER = env.int("WEBHOOKS_PER_USER", default=10)
# Deliveries run in a worker of their own (`make run`'s `webhooks`, the compose file's
# `webhooks` service), never in a pipeline worker: its pool has this many threads, so
# receivers that keep their deliveries waiting hold at most these, and no run's.
WEBHOOK_CONCURRENCY = env.int("WEBHOOK_CONCURRENCY", default=20)
if not 0 < WEBHOOK_TIMEOUT <= 60:
    raise ImproperlyConfigured("WEBHOOK_TIMEOUT is from 0 to 60 seconds")
if not 1 <= WEBHOOK_MAX_ATTEMPTS <= 20:
    raise ImproperlyConfigured("WEBHOOK_MAX_ATTEMPTS is from 1 to 20")
if not 0 < WEBHOOK_RETRY_DELAY <= 600:
    raise ImproperlyConfigured("WEBHOOK_RETRY_DELAY is from 0 to 600 seconds")
if WEBHOOKS_PER_USER < 1:
    raise ImproperlyConfigured("WEBHOOKS_PER_USER is at least 1")
if not 1 <= WEBHOOK_CONCURRENCY <= 200:
    raise ImproperlyConfigured("WEBHOOK_CONCURRENCY is from 1 to 200 threads")
