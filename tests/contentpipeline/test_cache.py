"""The app's cache tiers on the real Redis: a value is computed once per tier lifetime,
a post change makes every versioned entry stale once it commits, a dead Redis costs
no request anything but the cache, and the hit ratio is this app's own."""

import time
import uuid

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from contentpipeline import cache as app_cache
from contentpipeline.cache import (
    TIERS,
    cache_stats,
    content_changed,
    content_version,
    tier_get_or_set,
)

DEAD = "redis://127.0.0.1:1"  # nothing listens there


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return f"computed {self.calls}"


@pytest.fixture
def dead_cache(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"{DEAD}/1"}}
    yield
    app_cache._state["down_until"].pop(f"{DEAD}/1", None)
    app_cache._state["was_down"].discard(f"{DEAD}/1")


HOURS, MINUTES = 3600, 60
PROMISED = {"content": 2 * HOURS, "query": 30 * MINUTES, "user": 5 * MINUTES,
            "metrics": 1 * MINUTES, "models": 24 * HOURS}  # fmt: skip


def seconds_left_in_redis(key: str) -> int:
    """The TTL Redis itself holds for `key` of the app's cache (-2: no such key)."""
    with redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]) as client:
        return client.ttl(cache.make_key(key))


@pytest.mark.parametrize("tier", PROMISED)
def test_each_tier_keeps_a_value_in_redis_for_the_lifetime_we_promise(tier):
    key = f"lifetime-{uuid.uuid4().hex}"
    tier_get_or_set(tier, key, Counter(), versioned=False)
    assert PROMISED[tier] - 5 <= seconds_left_in_redis(f"{tier}:{key}") <= PROMISED[tier]


def test_every_tier_has_a_promised_lifetime():
    assert set(TIERS) == set(PROMISED)


def test_a_value_is_computed_once_and_stored_for_its_tiers_lifetime():
    compute = Counter()
    assert tier_get_or_set("query", "q-once", compute) == "computed 1"
    assert tier_get_or_set("query", "q-once", compute) == "computed 1"
    assert compute.calls == 1
    key = f"query:v{content_version()}:q-once"
    ttl = cache.ttl(key)  # django-redis: the key's seconds to live
    assert TIERS["query"] - 5 <= ttl <= TIERS["query"]


@pytest.mark.django_db
def test_a_post_change_makes_versioned_entries_stale_only_once_it_commits(
    django_capture_on_commit_callbacks,
):
    compute = Counter()
    tier_get_or_set("content", "page-/", compute)
    with django_capture_on_commit_callbacks(execute=True):
        content_changed()
        assert tier_get_or_set("content", "page-/", compute) == "computed 1"  # not yet
    assert tier_get_or_set("content", "page-/", compute) == "computed 2"
    assert compute.calls == 2


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_the_cache_alone():
    compute = Counter()
    tier_get_or_set("content", "page-/rollback", compute)
    with pytest.raises(RuntimeError), transaction.atomic():
        content_changed()
        raise RuntimeError
    tier_get_or_set("content", "page-/rollback", compute)
    assert compute.calls == 1


def test_with_redis_dead_every_call_computes_and_only_the_first_waits(dead_cache, caplog):
    compute = Counter()
    started = time.monotonic()
    first = tier_get_or_set("content", "page-dead", compute)
    first_took = time.monotonic() - started
    started = time.monotonic()
    for _ in range(50):
        tier_get_or_set("content", "page-dead", compute)
    rest_took = time.monotonic() - started
    assert first == "computed 1" and compute.calls == 51
    assert first_took < 3  # bounded by CACHE_TIMEOUT
    assert rest_took < 0.5  # not asked again for a few seconds
    assert "Caching is off" in caplog.text


def test_caching_resumes_after_an_outage_with_a_fresh_content_version(settings):
    live_location = settings.CACHES["default"]["LOCATION"]
    before = content_version()
    app_cache._state["was_down"].add(live_location)  # as if it had failed a moment ago
    compute = Counter()
    tier_get_or_set("content", "page-resume", compute)
    assert content_version() == before + 1  # a change made meanwhile cannot show stale
    tier_get_or_set("content", "page-resume", compute)
    assert compute.calls == 1


def test_the_hit_ratio_counts_this_apps_lookups(monkeypatch):
    monkeypatch.setattr(app_cache, "STATS_FLUSH_SECONDS", 0.0)
    before = cache_stats()
    compute = Counter()
    for _ in range(3):
        tier_get_or_set("metrics", "stats-probe", compute, versioned=False)
    after = cache_stats()
    assert after["hits"] - (before["hits"] or 0) == 2
    assert after["misses"] - (before["misses"] or 0) == 1
    assert 0 <= after["hit_ratio"] <= 1


def test_the_hit_ratio_with_redis_dead_says_so_instead_of_failing(dead_cache):
    stats = cache_stats()
    assert stats["hit_ratio"] is None and stats["error"]
