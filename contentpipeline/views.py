"""Error pages: JSON `{"detail": ...}` under /api/, Django's pages elsewhere. Django
calls these when DEBUG is off, for errors raised before DRF or outside it."""

from django.views import defaults

from .middleware import error_response, is_api


def bad_request(request, exception=None):
    if is_api(request):
        return error_response(request, 400, "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return error_response(request, 403, "Permission denied.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if is_api(request):
        return error_response(request, 404, "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api(request):
        return error_response(request, 500, "Server error.")
    return defaults.server_error(request)


def api_not_found(request, path=""):
    """Any path under /api/ that no route serves, whatever DEBUG says."""
    return error_response(request, 404, "Not found.")
