"""A webhook request: the body, its signature, and one POST of it (no database here).

The receiver checks `X-Webhook-Signature: sha256=<hex>`, the HMAC-SHA256 with the
webhook's secret of `f"{timestamp}.{body}"`, where `timestamp` is the
`X-Webhook-Timestamp` header (Unix seconds) and `body` the raw bytes of the request
body; and that the timestamp is recent (a replayed request is old). See the README's
Webhooks section for a receiver's code."""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx2

from tasks.pipeline.outbound import AddressGuard, RefusedAddress, outbound_client

EVENT_HEADER = "X-Webhook-Event"
DELIVERY_HEADER = "X-Webhook-Delivery"
TIMESTAMP_HEADER = "X-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Webhook-Signature"
USER_AGENT = "contentpipeline-webhooks/1.0"
# Of the receiver's answer, only this much is read, and the first characters kept.
READ_BYTES = 1024
EXCERPT_CHARS = 200
# The transport's cap on the answer as sent: the excerpt stops reading long before it,
# unless one chunk of the answer is larger (the connection is then closed at once).
MAX_ANSWER_BYTES = 256 * 1024


def body_of(payload: dict[str, Any]) -> bytes:
    """The body sent for `payload`: compact JSON, keys sorted, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, keyed with `secret`, of `{timestamp}.{body}`."""
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: the answer's status code and the start of its body,
    or why there was none; `final` when trying again cannot help."""

    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    final: bool = False

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    url: str,
    *,
    secret: str,
    payload: dict[str, Any],
    event: str,
    delivery_id: int,
    timeout: float,
    allow_private: bool,
) -> Outcome:
    """POST the signed payload to `url` once: no redirect followed, loopback and
    private addresses refused unless `allow_private` (checked where the connection is
    opened), `timeout` seconds for the whole exchange (name lookup, connect, send, the
    answer's head and the part of its body read), enforced in the transport: a
    receiver that answers slowly has its connection closed at the deadline. Never
    raises for what the receiver does."""
    body = body_of(payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        # Only the first bytes of the answer are read: no compressed ones to inflate.
        "Accept-Encoding": "identity",
        EVENT_HEADER: event,
        DELIVERY_HEADER: str(delivery_id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
    try:
        with (
            outbound_client(
                deadline=timeout,
                max_response_bytes=MAX_ANSWER_BYTES,
                guard=AddressGuard(allow_private=allow_private),
            ) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            excerpt = _excerpt(response)
            if response.is_redirect:
                error = f"HTTP {response.status_code}: redirects are not followed"
            elif not response.is_success:
                error = f"HTTP {response.status_code} {response.reason_phrase}".strip()
            else:
                error = ""
            return Outcome(status_code=response.status_code, excerpt=excerpt, error=error)
    except RefusedAddress as exc:
        return Outcome(error=f"refused: {exc}", final=True)
    except (httpx2.InvalidURL, httpx2.UnsupportedProtocol) as exc:
        return Outcome(error=f"not a usable URL: {exc}", final=True)
    except httpx2.TimeoutException:
        return Outcome(error=f"timed out after {timeout:g} seconds")
    except httpx2.TransportError as exc:  # a name that does not resolve (perhaps for now) too
        return Outcome(error=f"could not connect: {exc or type(exc).__name__}")


def _excerpt(response: httpx2.Response) -> str:
    """The first characters of the answer's body, reading no more than READ_BYTES of
    it; a body that stops coming is not waited for beyond the deadline."""
    read = b""
    try:
        for chunk in response.iter_bytes():
            read += chunk
            if len(read) >= READ_BYTES:
                break
    except httpx2.HTTPError:  # the status code is what counts; the body is a courtesy
        pass
    text = read[:READ_BYTES].decode("utf-8", errors="replace").replace("\x00", "")
    return " ".join(text.split())[:EXCERPT_CHARS]
