"""The project's Redis channel layer, against the real Redis."""

import asyncio

from channels.layers import get_channel_layer


async def test_a_receive_whose_cancellation_was_absorbed_still_ends():
    """redis-py can swallow the CancelledError that reaches it while a blocking pop is
    on the wire; channels-redis then pops again, forever, and the consumer waiting for
    its receive to end (on disconnect) never finishes. The layer ends a receive whose
    task was asked to stop after the pop in flight returns."""
    layer = get_channel_layer()
    channel = await layer.new_channel()

    async def absorbed_then_receive():
        me = asyncio.current_task()
        me.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            pass  # what happens inside redis-py: the request stands, the error is gone
        await layer.receive(channel)

    task = asyncio.create_task(absorbed_then_receive())
    done, _ = await asyncio.wait([task], timeout=layer.brpop_timeout + 5)
    if task not in done:  # without the fix: clean up, then fail
        task.cancel()
        await asyncio.wait([task], timeout=layer.brpop_timeout + 5)
    assert task in done and task.cancelled()
