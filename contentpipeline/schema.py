"""The error answers of the API in its OpenAPI schema, added in one place.

Every view answers errors through the same machinery (the middleware, DRF's
authentication, permissions, throttles and parsers, and `errors.exception_handler`),
so which errors an operation can give follows from what the view is, not from each
view's decorator. `document_error_responses` (a drf-spectacular postprocessing hook)
adds those an operation does not document itself, each with its JSON body; a response
a view documents keeps its own description and body."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAuthenticated

ERROR = {"$ref": "#/components/schemas/Error"}
CONFLICT = {"$ref": "#/components/schemas/Conflict"}
BAD_REQUEST = {"$ref": "#/components/schemas/BadRequest"}

COMPONENTS = {
    "Error": {
        "type": "object",
        "description": "An error the client can act on, said in `detail`.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "Conflict": {
        "type": "object",
        "description": "The object's state does not allow this action now; nothing changed.",
        "properties": {
            "detail": {"type": "string"},
            "status": {"type": "string", "description": "The task's status now."},
        },
        "required": ["detail"],
    },
    "FieldErrors": {
        "type": "object",
        "description": "Each invalid field's name (`non_field_errors` for the request as a "
        "whole) with its messages; a list or object field's errors by index or key.",
        "additionalProperties": {"anyOf": [{"type": "array", "items": {}}, {"type": "object"}]},
    },
    "BadRequest": {
        "description": "`{detail}` for a request that cannot be read (malformed JSON, a NUL "
        "byte), or the field errors of one that was read.",
        "anyOf": [ERROR, {"$ref": "#/components/schemas/FieldErrors"}],
    },
}

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds until a request may succeed again.",
        "schema": {"type": "integer"},
    }
}


def _errors_of(view, method: str, operation: dict) -> dict[str, tuple[str, dict]]:
    """status -> (description, body schema) of each error this operation can answer."""
    errors = {
        "400": ("Malformed request, or invalid parameters or fields.", BAD_REQUEST),
    }
    if view.get_authenticators():
        errors["401"] = ("Credentials missing where required, or not valid.", ERROR)
    unsafe = method not in SAFE_METHODS
    checks_more_than_login = any(
        not isinstance(permission, (AllowAny, IsAuthenticated))
        for permission in view.get_permissions()
    )
    session_auth = any(isinstance(a, SessionAuthentication) for a in view.get_authenticators())
    if checks_more_than_login or (unsafe and session_auth):
        # A session-authenticated write without its CSRF token is refused too.
        errors["403"] = ("Not allowed for this user (or a session write without CSRF).", ERROR)
    path_parameters = [p for p in operation.get("parameters", []) if p.get("in") == "path"]
    if path_parameters:
        errors["404"] = ("No such object, or not one this user may see.", ERROR)
        if method == "POST":
            errors["409"] = ("The object's state does not allow this action now.", CONFLICT)
    if "requestBody" in operation:
        errors["413"] = ("The request body is larger than the server accepts.", ERROR)
        errors["415"] = ("The request body's media type is not one the operation reads.", ERROR)
    if view.get_throttles():
        errors["429"] = ("Too many requests; try again after `Retry-After` seconds.", ERROR)
    # Any operation: sessions, tokens and the answers themselves live in the database.
    errors["503"] = (
        "The database cannot be reached now; try again after `Retry-After` seconds.",
        ERROR,
    )
    return errors


def document_error_responses(result, generator, request, public):
    """Add to each operation the error responses it can give and does not document,
    and a JSON body to those it documents without one."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    for path, _regex, method, callback in generator.endpoints:
        view = generator.create_view(callback, method)
        operation = result["paths"].get(generator.coerce_path(path, method, view), {})
        operation = operation.get(method.lower())
        if operation is None:
            continue
        responses = operation.setdefault("responses", {})
        for status, (description, body) in _errors_of(view, method, operation).items():
            response = responses.setdefault(status, {"description": description})
            if "content" not in response:
                response["content"] = {"application/json": {"schema": body}}
            if status in ("429", "503"):
                response.setdefault("headers", RETRY_AFTER)
        operation["responses"] = dict(sorted(responses.items()))
    return result
