"""DRF's throttles, failing open when the cache is unreachable.

The counters live in Redis. A rate limit is a protection, not a reason to refuse
service: with the cache down every request used to answer 500. Now a request passes
unthrottled and a warning is logged; for a few seconds after a failure the cache is
not asked again, so requests do not each wait for it."""

from rest_framework import throttling

from .cache import CACHE_ERRORS, cache_available, mark_down


class FailOpenMixin:
    def allow_request(self, request, view) -> bool:
        if not cache_available():
            return True
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            mark_down(exc, "Throttling")
            return True


class AnonRateThrottle(FailOpenMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpenMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(FailOpenMixin, throttling.ScopedRateThrottle):
    pass
