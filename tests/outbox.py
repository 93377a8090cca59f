"""What leaves the process after a commit: run messages on the broker and progress
events on the channel layer, read from the real Redis."""

import asyncio
import base64
import json
import uuid

from channels.layers import get_channel_layer

from contentpipeline.celery import app as celery_app
from tasks.events import EDITORS_GROUP


class Outbox:
    """A queue of its own on the broker, and a channel in the editors' group (which
    every task's events reach)."""

    def __init__(self, settings) -> None:
        self.queue = f"outbox-{uuid.uuid4().hex[:8]}"
        settings.CELERY_TASK_DEFAULT_QUEUE = self.queue
        self.layer = get_channel_layer()
        # One loop for every call: the layer binds a channel's receive buffer to the
        # loop that first received on it.
        self.loop = asyncio.new_event_loop()
        self.channel = self.loop.run_until_complete(self.layer.new_channel())
        self.loop.run_until_complete(self.layer.group_add(EDITORS_GROUP, self.channel))

    def _run_keys(self, client) -> list:
        """The queue's lists in Redis, one per priority step (kombu names them
        `<queue>` and `<queue>\x06\x16<n>`); not the deliveries' queue beside it
        (`<queue>.webhooks`: webhooks and notifications), whose messages are no runs."""
        step = f"{self.queue}\x06\x16".encode()
        return [
            key for key in client.keys(f"{self.queue}*")
            if key == self.queue.encode() or key.startswith(step)
        ]  # fmt: skip

    def messages(self) -> int:
        """Run messages waiting on the queue (every priority step)."""
        with celery_app.connection_for_read() as connection:
            client = connection.default_channel.client
            return sum(client.llen(key) for key in self._run_keys(client))

    def runs(self) -> list[str]:
        """The task ids the run messages waiting on the queue name, in no set order."""
        return self._arguments(self._run_keys)

    def deliveries(self) -> list:
        """The first arguments of the messages waiting on the deliveries' queue beside
        it (`<queue>.webhooks`: webhook deliveries, notifications, reminders)."""
        prefix = f"{self.queue}.webhooks".encode()
        return self._arguments(
            lambda client: [k for k in client.keys(f"{self.queue}*") if k.startswith(prefix)]
        )

    def _arguments(self, keys_of) -> list:
        with celery_app.connection_for_read() as connection:
            client = connection.default_channel.client
            raw = [m for key in keys_of(client) for m in client.lrange(key, 0, -1)]
        # kombu's envelope; Celery's message protocol 2 puts (args, kwargs, embed) in the body.
        return [
            arg
            for message in raw
            for arg in json.loads(base64.b64decode(json.loads(message)["body"]))[0]
        ]

    def events(self, wait: float = 0.5) -> list[dict]:
        """The progress events that reached the channel, waiting at most `wait` for the
        first one and collecting what follows it."""
        return self.loop.run_until_complete(self._drain(wait))

    async def _drain(self, wait: float) -> list[dict]:
        events = []
        timeout = wait
        while True:
            try:
                events.append(await asyncio.wait_for(self.layer.receive(self.channel), timeout))
            except TimeoutError:
                return events
            timeout = 0.2

    def close(self) -> None:
        self.loop.run_until_complete(self.layer.group_discard(EDITORS_GROUP, self.channel))
        self.loop.close()
        with celery_app.connection_for_write() as connection:
            client = connection.default_channel.client
            for key in client.keys(f"{self.queue}*"):
                client.delete(key)
