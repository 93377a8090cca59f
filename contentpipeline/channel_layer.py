"""The Redis channel layer, set up for many long-lived, mostly idle WebSockets per web
process (django/channels_redis#422 and the redis-py 8 defaults behind it)."""

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
