"""The app's cache: named tiers with their lifetimes, on Redis through Django's cache
framework, and never a reason to fail a request.

- Tiers: `content` (rendered pages, lists, feed, sitemap), `query` (search results),
  `user`, `metrics`, `models` (LLM responses). `tier_get_or_set` is the one way in.
- Freshness: what shows posts is cached under the content version; any change to a
  post bumps it (`content_changed`, after commit), so every page and API answer that
  showed the post is computed afresh at once, in every process.
- Outages: with Redis unreachable a request computes its answer from PostgreSQL; for a
  few seconds after a failure the cache is not asked again, so requests do not each
  wait for it. When it answers again the content version is bumped (a change made
  meanwhile could not bump it) and caching resumes.
- The hit ratio (`cache_stats`) counts this app's own lookups, not Redis' server-wide
  numbers, which mix the broker and the channel layer in.
"""

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

T = TypeVar("T")

TIERS: dict[str, int] = {
    "content": 2 * 60 * 60,
    "query": 30 * 60,
    "user": 5 * 60,
    "metrics": 60,
    "models": 24 * 60 * 60,
}
# After a failure, how long the cache is left alone before it is tried again.
RETRY_AFTER_FAILURE = 5.0
VERSION_KEY = "content-version"
STATS_KEYS = {"hits": "cache-stats:hits", "misses": "cache-stats:misses"}
# Counts are added up in the process and sent at most this often.
STATS_FLUSH_SECONDS = 1.0

# Longer keys (a path from a URL, say) are hashed: Redis takes them, but they waste
# memory and Django warns of them.
MAX_KEY_LENGTH = 200

_MISSING = object()
_lock = threading.Lock()
_state: dict[str, Any] = {
    "down_until": {},  # cache location -> monotonic time until which it is taken to be down
    "was_down": set(),  # locations that failed and have not answered since
    "counts": {"hits": 0, "misses": 0},
    "flushed_at": 0.0,
}

CACHE_ERRORS = (RedisError, OSError)


def _location() -> str:
    return str(settings.CACHES["default"].get("LOCATION", ""))


def cache_available() -> bool:
    """False for a few seconds after the cache failed to answer."""
    return time.monotonic() >= _state["down_until"].get(_location(), 0.0)


def mark_down(exc: BaseException, what: str = "Caching") -> None:
    location = _location()
    with _lock:
        _state["down_until"][location] = time.monotonic() + RETRY_AFTER_FAILURE
        _state["was_down"].add(location)
    logger.warning(
        "%s is off for %.0f s: the cache is unreachable (%s)",
        what, RETRY_AFTER_FAILURE, exc.__class__.__name__,
    )  # fmt: skip


def _answered() -> None:
    """The cache is back (it is not taken to be down any more): if it had been down,
    bump the content version once, since a change made meanwhile could not."""
    location = _location()
    if location in _state["was_down"]:
        with _lock:
            _state["was_down"].discard(location)
        _bump()


def count(outcome: str) -> None:
    """Count a lookup (this module's or the edge page cache's). Counts are added up in
    the process and sent to Redis at most once a second."""
    with _lock:
        _state["counts"][outcome] += 1
        due = time.monotonic() - _state["flushed_at"] >= STATS_FLUSH_SECONDS
        if not due:
            return
        counts, _state["counts"] = _state["counts"], {"hits": 0, "misses": 0}
        _state["flushed_at"] = time.monotonic()
    try:
        for name, value in counts.items():
            if value:
                _incr(STATS_KEYS[name], value)
    except CACHE_ERRORS:
        pass  # the numbers are lost, the request is not


def _incr(key: str, delta: int = 1) -> int:
    try:
        return cache.incr(key, delta)
    except ValueError:  # not there yet
        cache.add(key, 0, timeout=None)
        return cache.incr(key, delta)


def content_version() -> int:
    """The current content version (0 when unknown); raises the cache's errors."""
    return int(cache.get(VERSION_KEY, 0))


def _bump() -> None:
    try:
        _incr(VERSION_KEY)
    except CACHE_ERRORS as exc:
        mark_down(exc)


def content_changed() -> None:
    """A post changed: once the transaction commits, every cached page and answer
    that may show posts is stale."""
    transaction.on_commit(_bump)


def tier_get_or_set(tier: str, key: str, compute: Callable[[], T], *, versioned: bool = True) -> T:
    """The cached value of `key` in `tier`, computed (and stored for the tier's
    lifetime) when missing. `versioned` keys belong to the content version. With the
    cache down, `compute()` answers."""
    timeout = TIERS[tier]
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():  # keys may come from URLs
        key = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    if not cache_available():
        return compute()
    try:
        _answered()
        prefix = f"{tier}:v{content_version()}" if versioned else tier
        full_key = f"{prefix}:{key}"
        value = cache.get(full_key, _MISSING)
    except CACHE_ERRORS as exc:
        mark_down(exc)
        return compute()
    if value is not _MISSING:
        count("hits")
        return value
    count("misses")
    value = compute()
    try:
        cache.set(full_key, value, timeout)
    except CACHE_ERRORS as exc:
        mark_down(exc)
    return value


def cache_stats() -> dict[str, Any]:
    """This app's cache lookups since the counters began: hits, misses, hit ratio
    (None each, and the error's name, when the cache cannot say)."""
    if not cache_available():  # failed a moment ago: no second wait for it
        return {"hits": None, "misses": None, "hit_ratio": None, "error": "unavailable"}
    try:
        found = cache.get_many(list(STATS_KEYS.values()))
    except CACHE_ERRORS as exc:
        mark_down(exc, "Cache statistics are")
        return {"hits": None, "misses": None, "hit_ratio": None, "error": exc.__class__.__name__}
    hits = int(found.get(STATS_KEYS["hits"], 0)) + _state["counts"]["hits"]
    misses = int(found.get(STATS_KEYS["misses"], 0)) + _state["counts"]["misses"]
    total = hits + misses
    return {"hits": hits, "misses": misses, "hit_ratio": round(hits / total, 4) if total else None}
