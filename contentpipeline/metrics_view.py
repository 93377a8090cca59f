"""GET /metrics: the Prometheus text format of contentpipeline.prometheus' registry.

Who may read it: staff (session or API token), or `Authorization: Bearer
<METRICS_TOKEN>` when that setting is set; anyone else gets 401 (not authenticated)
or 403 (not staff), as JSON.
"""

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
    get_authorization_header,
)
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from .prometheus import registry

# `request.auth` of a request that sent the right bearer token.
METRICS_TOKEN_AUTH = object()


def _digest(value: bytes) -> bytes:
    # Compared as digests: equal lengths, so the comparison tells nothing of the length.
    return hashlib.sha256(value).digest()


class MetricsTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <METRICS_TOKEN>`, compared in constant time. A bearer
    token that is not the setting's (or any, when the setting is empty) is refused."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        expected = settings.METRICS_TOKEN.encode()
        given = parts[1] if len(parts) == 2 else b""
        if not expected or not hmac.compare_digest(_digest(given), _digest(expected)):
            raise AuthenticationFailed("Invalid metrics token.")
        return AnonymousUser(), METRICS_TOKEN_AUTH

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="metrics"'


class StaffOrMetricsToken(IsAdminUser):
    """Staff, as DRF's IsAdminUser (the API's /api/metrics) judges them, or the token."""

    def has_permission(self, request, view) -> bool:
        return request.auth is METRICS_TOKEN_AUTH or super().has_permission(request, view)


class JSONErrors(BaseContentNegotiation):
    """The page is Prometheus text whatever the Accept header; refusals are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MetricsView(APIView):
    authentication_classes = [
        MetricsTokenAuthentication,
        TokenAuthentication,
        SessionAuthentication,
    ]
    permission_classes = [StaffOrMetricsToken]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrors

    @extend_schema(exclude=True)  # outside the REST API, in its own format
    def get(self, request):
        return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
