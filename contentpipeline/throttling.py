"""DRF's throttles, counted atomically in Redis and failing open when it is unreachable.

Counting: DRF's own throttles read a request history from the cache, then write it
back; requests arriving together all read the same history, so 30 concurrent creates
at `task_create=10/min` let 13 through for one user and 21 for another. Here the check
and the count are one Lua script in Redis: a sliding window (a sorted set of the times
of the requests it let through, timed by Redis' clock, so web processes on hosts whose
clocks differ agree), which lets exactly N through in any window of the period. A
refused request answers 429 with `Retry-After`: the seconds until the oldest counted
request leaves the window.

Outages: a rate limit is a protection, not a reason to refuse service. With Redis
unreachable a request passes unthrottled and a warning is logged; for a few seconds
after a failure Redis is not asked again, so requests do not each wait for it.

Who a client is: the socket's address, or with NUM_PROXIES reverse proxies in front,
the address the nearest of them saw (a client can write anything into
X-Forwarded-For, so the rest of that header is not trusted). The login lockout
(django-axes) uses the same rule, through `client_ip`."""

import math
import uuid

from django.core.cache import cache
from django_redis import get_redis_connection
from rest_framework import throttling

from .cache import CACHE_ERRORS, cache_available, mark_down

# KEYS[1]: the window's key. ARGV: the period (ms), the limit, a unique member.
# Returns {allowed (0/1), ms until a place frees up (when refused)}.
SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local period = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], period)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + period - now}
"""

_script = None


def _sliding_window(key: str, *, period: int, limit: int) -> tuple[bool, float]:
    """Count a request against `limit` per `period` seconds under `key`, if there is
    room: (allowed, seconds until there is room again). Raises the cache's errors."""
    global _script
    client = get_redis_connection("default")
    if _script is None:
        _script = client.register_script(SLIDING_WINDOW)
    allowed, wait_ms = _script(
        keys=[cache.make_and_validate_key(key)],
        args=[period * 1000, limit, uuid.uuid4().hex],
        client=client,
    )
    return bool(allowed), max(int(wait_ms), 0) / 1000


def client_ip(request) -> str | None:
    """The client's address, as the throttles and the login lockout see it."""
    return throttling.BaseThrottle().get_ident(request)


class AtomicRateThrottle(throttling.SimpleRateThrottle):
    """DRF's SimpleRateThrottle (rates by scope from THROTTLE_RATES, `get_cache_key`,
    `wait`), counted by one script in Redis. Listed after DRF's class in a subclass's
    bases, so that DRF's `allow_request` that picks the rate (ScopedRateThrottle's)
    still runs first and hands over to this one rather than to DRF's counting."""

    _wait: float | None = None

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        if not cache_available():
            return True
        try:
            allowed, self._wait = _sliding_window(
                self.key, period=self.duration, limit=self.num_requests
            )
        except CACHE_ERRORS as exc:
            mark_down(exc, "Throttling")
            return True
        return allowed

    def wait(self) -> float | None:
        # Whole seconds, rounded up: a client that waits as long as Retry-After says
        # finds room.
        return None if self._wait is None else max(math.ceil(self._wait), 1)


class AnonRateThrottle(throttling.AnonRateThrottle, AtomicRateThrottle):
    pass


class UserRateThrottle(throttling.UserRateThrottle, AtomicRateThrottle):
    pass


class ScopedRateThrottle(throttling.ScopedRateThrottle, AtomicRateThrottle):
    pass


class LoginRateThrottle(AtomicRateThrottle):
    """Attempts to log in (POST /api/auth/token), per client address, whoever they
    claim to be: it runs before the password is checked, so refused guesses cost no
    password hashing either."""

    scope = "login"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
