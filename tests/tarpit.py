"""A peer that answers as slowly as it can get away with, on loopback: the webhook
receiver, source site or model server that an outsider points the project at to see
whether one slow peer can hold its threads, sockets and database connections.

It accepts every connection, reads what the client sends, then, by `mode`:

- `headers`: trickles a response head one byte every `interval` seconds, never ending;
- `body`: sends a complete head (`200`, a large Content-Length, the `content_type`
  given) at once, then trickles the body one byte every `interval` seconds;
- `silent`: answers nothing and keeps the connection open.

It counts what the client did: `accepted` connections in all, `open` ones now (a
connection counts as closed once the client closed it: a write fails or a read sees
the end), and `wait_closed()` waits until no connection is open. `close()` stops it.
"""

import socket
import threading
import time
from typing import Literal

Mode = Literal["headers", "body", "silent"]
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: {type}\r\nContent-Length: 100000000\r\n\r\n"


class Tarpit:
    def __init__(
        self,
        mode: Mode = "headers",
        *,
        interval: float = 2.0,
        content_type: str = "text/html; charset=utf-8",
    ) -> None:
        self.mode, self.interval, self.content_type = mode, interval, content_type
        self.accepted = 0
        self._open = 0
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True, name="tarpit").start()

    @property
    def open(self) -> int:
        with self._lock:
            return self._open

    def wait_closed(self, timeout: float) -> bool:
        """Whether every connection was closed by its client within `timeout` seconds."""
        with self._lock:
            return self._lock.wait_for(lambda: self._open == 0, timeout)

    def close(self) -> None:
        self._stopping.set()
        self._listener.close()

    def __enter__(self) -> "Tarpit":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._open += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(0.2)
            self._read_request(conn)
            if self.mode == "headers":
                self._trickle(conn, b"HTTP/1.1 200 OK\r\nX-Slow: ", 10_000_000)
            elif self.mode == "body":
                conn.sendall(HEAD.replace(b"{type}", self.content_type.encode()))
                self._trickle(conn, b"<p>", 100_000_000)
            else:
                self._hold(conn)
        except OSError:
            pass
        finally:
            conn.close()
            with self._lock:
                self._open -= 1
                self._lock.notify_all()

    def _read_request(self, conn: socket.socket) -> None:
        """Read the request head (and what body arrives with it) without waiting long."""
        received = b""
        deadline = time.monotonic() + 2
        while b"\r\n\r\n" not in received and time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise OSError("closed by the client")
            received += chunk

    def _trickle(self, conn: socket.socket, prefix: bytes, length: int) -> None:
        """Send `prefix`, then `length` bytes of b"a", a byte at a time. The bytes are made
        as they go: building 100 MB up front would hold the GIL (and so stall the client
        under test in this process) for most of a second, per connection."""
        for index in range(len(prefix) + length):
            if self._stopping.is_set():
                return
            conn.sendall(prefix[index : index + 1] or b"a")
            if self._closed_by_client(conn, self.interval):
                return

    def _hold(self, conn: socket.socket) -> None:
        while not self._stopping.is_set():
            if self._closed_by_client(conn, self.interval):
                return

    def _closed_by_client(self, conn: socket.socket, seconds: float) -> bool:
        """Wait `seconds`, watching for the client's end of the connection."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping.is_set():
            try:
                if conn.recv(65536) == b"":
                    return True
            except TimeoutError:
                continue
            except OSError:
                return True
        return False
