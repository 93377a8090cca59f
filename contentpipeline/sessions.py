"""Django's database sessions, refusing keys Django could not have issued.

A cookie is client input: a session key with a NUL byte or other odd characters used
to reach PostgreSQL and fail there (a 500 on any page, HTTP or WebSocket). Django makes
keys of 32 lowercase letters and digits; anything else is treated as no session."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS

_VALID = frozenset(VALID_KEY_CHARS)


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key) -> bool:
        return isinstance(key, str) and 8 <= len(key) <= 40 and _VALID.issuperset(key)
