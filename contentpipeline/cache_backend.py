"""Django's Redis cache with one connection pool per process, not per request.

Django keeps a cache instance per request context (under ASGI each request gets a
fresh one), and its Redis client keeps its connection pools on the instance: every
request opened a new connection to Redis and left the old ones to the garbage
collector (django/django#18459). Here the pools live at class level, one per server
URL and process, and are shared by every instance.

Django also builds a new Redis client on the pool for every cache call, and building
one costs redis-py some 60 Python calls (a tenth of a cached search request's Python,
five calls a request). A client on a pool is thread safe, so one is kept per pool."""

import os
import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedPoolRedisCacheClient(RedisCacheClient):
    _shared_pools: dict = {}
    _shared_clients: dict = {}
    _lock = threading.Lock()

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._shared_clients.get(pool)
        if client is None:
            client = self._shared_clients.setdefault(pool, self._client(connection_pool=pool))
        return client

    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        # After a fork a pool must not be reused: the child gets its own.
        key = (self._servers[index], os.getpid(), repr(sorted(self._pool_options.items())))
        pool = self._shared_pools.get(key)
        if pool is None:
            with self._lock:
                pool = self._shared_pools.get(key)
                if pool is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    self._shared_pools[key] = pool
        return pool


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient
