"""The upstream behaviour contentpipeline/channel_layer.py works around or relies on
(django/channels_redis#422, redis/redis-py#4091). Each test fails when upstream
changes: then the compatibility module is adapted, or its workaround dropped."""

import inspect

import redis.asyncio
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer as UpstreamLayer
from channels_redis.utils import create_pool

from contentpipeline.channel_layer import RedisChannelLayer


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_private_methods_we_override_or_call_are_still_there_as_we_use_them():
    # Overridden: one blocking pop of a receive, awaited.
    assert inspect.iscoroutinefunction(UpstreamLayer._brpop_with_clean)
    assert _parameters(UpstreamLayer._brpop_with_clean) == ["self", "index", "channel", "timeout"]
    # Called by group_keys: a group's key from its name.
    assert _parameters(UpstreamLayer._group_key) == ["self", "group"]
    # Our pools replace upstream's own, built per host index.
    assert _parameters(UpstreamLayer.create_pool) == ["self", "index"]


def test_redis_pys_default_socket_timeout_still_cuts_an_idle_receive():
    """Upstream pops for `brpop_timeout` seconds at a time on a pool it builds without a
    socket timeout, so redis-py's default applies. When the default is no longer
    shorter than the pop (or upstream sets its own), an idle receive no longer fails
    and create_pool's socket_timeout is not needed any more."""
    default = redis.asyncio.Connection().socket_timeout
    assert default is not None and default <= UpstreamLayer.brpop_timeout
    upstream_pool = create_pool({"address": "redis://127.0.0.1:6379/0"})
    assert "socket_timeout" not in upstream_pool.connection_kwargs


async def test_group_keys_are_the_keys_group_add_writes():
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    channel = await layer.new_channel()
    await layer.group_add("upstream-probe", channel)
    try:
        (key,) = layer.group_keys(["upstream-probe"])
        client = redis.asyncio.Redis.from_url(layer.hosts[0]["address"])
        try:
            assert await client.zscore(key, channel) is not None
        finally:
            await client.aclose()
    finally:
        await layer.group_discard("upstream-probe", channel)
