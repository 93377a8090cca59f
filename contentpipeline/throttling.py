"""DRF's throttles, failing open when the cache is unreachable.

The counters live in Redis. A rate limit is a protection, not a reason to refuse
service: with the cache down every request used to answer 500. Now a request passes
unthrottled and a warning is logged; for a few seconds after a failure the cache is
not asked again, so requests do not each wait for it."""

import logging
import time

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger(__name__)

# After a failure, how long throttling stays off before the cache is tried again.
RETRY_AFTER_FAILURE = 5.0
# Cache location -> monotonic time until which it is taken to be down.
_down_until: dict[str, float] = {}


class FailOpenMixin:
    def allow_request(self, request, view) -> bool:
        location = str(settings.CACHES["default"].get("LOCATION", ""))
        if time.monotonic() < _down_until.get(location, 0.0):
            return True
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            _down_until[location] = time.monotonic() + RETRY_AFTER_FAILURE
            logger.warning(
                "Throttling is off for %.0f s: the cache is unreachable (%s)",
                RETRY_AFTER_FAILURE,
                exc.__class__.__name__,
            )
            return True


class AnonRateThrottle(FailOpenMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpenMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(FailOpenMixin, throttling.ScopedRateThrottle):
    pass
