"""One Redis connection pool per process for the cache, however many cache instances
Django makes (one per thread, and under ASGI one per request): django-redis keeps its
pools in a process-wide factory."""

from concurrent.futures import ThreadPoolExecutor

from django.core.cache import caches
from django_redis import get_redis_connection


def _in_a_thread_of_its_own(call):
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def _cache_and_client():
    return caches["default"], get_redis_connection("default")


def test_every_cache_instance_of_a_process_shares_one_connection_pool():
    first_cache, first = _in_a_thread_of_its_own(_cache_and_client)
    second_cache, second = _in_a_thread_of_its_own(_cache_and_client)
    assert first_cache is not second_cache
    assert first.connection_pool is second.connection_pool
    first_cache.set("shared-pool-probe", 1, 5)
    assert second_cache.get("shared-pool-probe") == 1
