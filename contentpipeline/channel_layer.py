"""The Redis channel layer, set up for many long-lived, mostly idle WebSockets per web
process, and the one module that touches channels-redis' private names.

Upstream: django/channels_redis#422 and redis/redis-py#4091 (redis-py 8 made 5 s the
default socket timeout, shorter than channels-redis' own blocking pop, so an idle
receive fails). tests/contentpipeline/test_channel_layer_upstream.py holds the upstream
behaviour worked around here: the private methods overridden or called, with the
signatures used, and redis-py's default socket timeout. When one of its tests fails,
upstream changed: adapt this module, or drop the workaround that is no longer needed.
"""

import asyncio

from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer
from redis import asyncio as aioredis


class RedisChannelLayer(BaseRedisChannelLayer):
    """channels-redis with connection pools that suit it:

    - Reads may wait longer than the layer's own blocking pop (`brpop_timeout`, 5 s).
      redis-py 8 made 5 s the default socket timeout, so an idle receive raised
      TimeoutError and took down every consumer of the process with code 1011.
    - The pool blocks instead of failing: a burst of connects (each a `group_add`) asked
      for more than the pool's 100 connections at once and got MaxConnectionsError,
      which also ended the shared receive and so every open socket.
    - Connecting gives up after a few seconds, so a Redis that is down fails fast.
    """

    pool_max_connections = 50
    pool_wait_timeout = 10.0
    connect_timeout = 2.0

    def create_pool(self, index):
        host = dict(self.hosts[index])
        if "address" not in host:  # sentinel set-ups keep channels-redis' own pools
            return super().create_pool(index)
        address = host.pop("address")
        host.setdefault("socket_timeout", self.brpop_timeout + 10)
        host.setdefault("socket_connect_timeout", self.connect_timeout)
        host.setdefault("max_connections", self.pool_max_connections)
        host.setdefault("timeout", self.pool_wait_timeout)
        return aioredis.BlockingConnectionPool.from_url(address, **host)

    def group_keys(self, groups: list[str]) -> list[bytes]:
        """The Redis keys of the groups' member sets (a sorted set per group, each
        member's score its last `group_add`), for reading them in a script of one's
        own (tasks.events counts the members of an event's groups in one command)."""
        return [self._group_key(group) for group in groups]

    async def _brpop_with_clean(self, index, channel, timeout):
        """One blocking pop (`brpop_timeout`, 5 s). channels-redis pops again while the
        result is None; a cancellation that redis-py absorbed while the pop was on the
        wire would leave that loop popping forever, so the consumer that cancelled it
        (on disconnect) never finished. Seen here as a hung test teardown; the task's
        own `cancelling()` count still says it was asked to stop."""
        member = await super()._brpop_with_clean(index, channel, timeout)
        task = asyncio.current_task()
        if member is None and task is not None and task.cancelling():
            raise asyncio.CancelledError
        return member
