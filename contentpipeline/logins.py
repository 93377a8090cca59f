"""Logging in, guarded against guessing: the login lockout (django-axes, settings'
AXES_*) and the API's token endpoint.

- The admin's login form and POST /api/auth/token both call `authenticate()` with the
  request, so axes counts the failures of both, per username and client address.
- A locked-out client gets 429 with Retry-After: the admin's form through axes'
  middleware (`lockout_response`), the token endpoint through DRF (`TokenLoginView`:
  axes flags DRF's request, which its middleware does not see).
- The token endpoint is also throttled per client address (scope `login`), before
  any password is checked."""

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off, get_lockout_message
from django.conf import settings
from django.http import HttpResponse
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled, ValidationError

from .throttling import LoginRateThrottle


def lockout_seconds() -> int:
    """How long a lockout lasts: at most this long until the next try is heard."""
    return int(get_cool_off().total_seconds())


class LockoutBackend(AxesStandaloneBackend):
    """Refuses every login of a locked-out client. Axes needs the request to know who
    is trying. A call without one comes from no web client (the test client's
    `login`, a shell): there is no address to count it under, and it goes on to the
    next backend, which checks the password as usual."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """Axes' answer to a locked-out login (settings.AXES_LOCKOUT_CALLABLE)."""
    response = HttpResponse(
        str(get_lockout_message()),
        status=settings.AXES_HTTP_RESPONSE_CODE,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(lockout_seconds())
    return response


class TokenLoginView(ObtainAuthToken):
    """POST /api/auth/token `{username, password}` -> `{token}`: throttled per client
    address, and 429 while that username is locked out from that address."""

    throttle_classes = [LoginRateThrottle]

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            if getattr(request, "axes_locked_out", False):
                raise Throttled(wait=lockout_seconds(), detail=str(get_lockout_message())) from None
            raise
