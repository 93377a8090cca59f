"""Error pages: JSON `{"detail": ...}` under /api/, Django's pages elsewhere. Django
calls these when DEBUG is off, for errors raised before DRF or outside it."""

from django.http import JsonResponse
from django.views import defaults

from .middleware import is_api


def bad_request(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "Permission denied."}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)


def api_not_found(request, path=""):
    """Any path under /api/ that no route serves, whatever DEBUG says."""
    return JsonResponse({"detail": "Not found."}, status=404)
