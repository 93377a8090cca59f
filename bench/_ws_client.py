"""A WebSocket client for the benches: autobahn on Twisted (both come with daphne).

Import it after django.setup(): the `daphne` app installs Twisted's asyncio reactor when
it is imported, and autobahn must use that reactor (txaio allows one framework per
process). The reactor runs on a thread of its own, so the bench's Django calls stay
synchronous; each message is stamped with time.time() as it arrives.
"""

import json
import threading
import time
from typing import Any

import daphne.server  # noqa: F401 - installs the reactor before autobahn.twisted imports it
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol, connectWS
from twisted.internet import reactor


class _Protocol(WebSocketClientProtocol):
    listener: "Listener"

    def onOpen(self) -> None:
        self.listener.protocol = self
        self.listener.opened.set()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.listener.messages.append((time.time(), payload))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        self.listener.closed = f"code {code} {reason or ''}".strip()
        self.listener.opened.set()


class Listener:
    """One client connection; `messages` holds (arrival time, raw payload) pairs."""

    def __init__(self, url: str, origin: str) -> None:
        self.url, self.origin = url, origin
        self.messages: list[tuple[float, bytes]] = []
        self.opened = threading.Event()
        self.closed = ""
        self.protocol: _Protocol | None = None
        self.thread = threading.Thread(
            target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True
        )

    def connect(self, timeout: float = 10) -> None:
        """Open the connection and wait for the answer to a ping: the consumer has then
        authenticated the token and joined its group."""
        factory = WebSocketClientFactory(self.url, origin=self.origin)
        factory.protocol = type("Protocol", (_Protocol,), {"listener": self})
        self.thread.start()
        reactor.callFromThread(connectWS, factory, timeout=timeout)
        if not self.opened.wait(timeout) or self.closed or self.protocol is None:
            raise RuntimeError(f"WebSocket did not open: {self.closed or 'timeout'}")
        reactor.callFromThread(self.protocol.sendMessage, b'{"type": "ping"}')
        deadline = time.monotonic() + timeout
        while not any(json.loads(raw).get("type") == "pong" for _, raw in self.messages):
            if self.closed or time.monotonic() > deadline:
                raise RuntimeError(f"no pong from the consumer: {self.closed or 'timeout'}")
            time.sleep(0.02)

    def close(self) -> None:
        if not self.thread.is_alive():
            return
        if self.protocol is not None and not self.closed:
            reactor.callFromThread(self.protocol.sendClose, 1000)
        reactor.callFromThread(reactor.callLater, 0.5, reactor.stop)
        self.thread.join(5)

    def events(self, task_ids: set[str]) -> list[tuple[float, dict[str, Any]]]:
        """The progress events of the given tasks received so far, with arrival times."""
        received = []
        for at, raw in list(self.messages):
            event = json.loads(raw)
            if event.get("type") == "task.progress" and event.get("task_id") in task_ids:
                received.append((at, event))
        return received
