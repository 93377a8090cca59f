"""E-mail: the server it leaves through (EMAIL_URL), its sender, how long a server may
keep a send waiting; and how long before a review's deadline editors are reminded.

EMAIL_URL is django-environ's e-mail URL: `smtp://user:password@host:587`,
`smtp+tls://...` (STARTTLS), `smtp+ssl://...` (TLS from the start, port 465), or
`consolemail://` (the messages are printed by the process that sends them: the worker).

Production gets: the console unless EMAIL_URL names a server (a deployment that sends
mail sets it), 10 seconds a step for a server to answer, reminders an hour ahead.
"""

import re
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from .base import env

_EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
try:
    _email = env.email_url_config(_EMAIL_URL)
except ImproperlyConfigured as exc:
    raise ImproperlyConfigured(
        f"EMAIL_URL is not an e-mail URL ({exc}): use smtp://user:password@host:port, "
        "smtp+tls://..., smtp+ssl://... or consolemail://"
    ) from exc
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
if EMAIL_BACKEND.endswith(".smtp.EmailBackend") and not _email["EMAIL_HOST"]:
    raise ImproperlyConfigured("EMAIL_URL names no host: smtp://user:password@host:port")
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or (465 if EMAIL_USE_SSL else 587 if EMAIL_USE_TLS else 25)
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
if _email.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
# Seconds the server may take over each step of a send (connect, each answer): a
# server that accepts and never answers costs the attempt this much, then it is retried.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
if not 0 < EMAIL_TIMEOUT <= 120:
    raise ImproperlyConfigured("EMAIL_TIMEOUT is from 0 to 120 seconds")
# Seconds before a failed send is tried again, doubled at each attempt after that.
EMAIL_RETRY_WAIT = env.float("EMAIL_RETRY_WAIT", default=60.0)
if EMAIL_RETRY_WAIT < 0:
    raise ImproperlyConfigured("EMAIL_RETRY_WAIT is 0 seconds or more")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Content pipeline <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL


def _duration(name: str, value: str) -> timedelta:
    """`3600` (seconds), or a number with a unit: `90s`, `30m`, `1h`, `2d`."""
    found = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", value)
    if not found:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a duration: give seconds, or 30m, 1h, 2d"
        )
    unit = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    return timedelta(**{unit[found.group(2)]: int(found.group(1))})


# How long before a review's due_at the editors are reminded (once).
REVIEW_REMINDER_BEFORE = _duration(
    "REVIEW_REMINDER_BEFORE", env.str("REVIEW_REMINDER_BEFORE", default="1h")
)
