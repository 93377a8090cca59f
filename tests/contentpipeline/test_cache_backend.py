"""One Redis connection pool per process for the cache, however many cache
instances Django makes (under ASGI, one per request)."""

from django.core.cache import caches


def test_every_cache_instance_of_a_process_shares_one_connection_pool():
    first, second = caches.create_connection("default"), caches.create_connection("default")
    assert first is not second
    assert first._cache._get_connection_pool(False) is second._cache._get_connection_pool(False)
    first.set("shared-pool-probe", 1, 5)
    assert second.get("shared-pool-probe") == 1


def test_every_cache_call_of_a_process_uses_one_client_on_that_pool():
    first, second = caches.create_connection("default"), caches.create_connection("default")
    client = first._cache.get_client(write=True)
    assert client is second._cache.get_client("any-key", write=True)
    assert client.connection_pool is first._cache._get_connection_pool(True)
    second.set("shared-client-probe", 2, 5)
    assert first.get("shared-client-probe") == 2
