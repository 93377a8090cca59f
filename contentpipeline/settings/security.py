"""Security: the secret key, the hosts and origins served, cookies, HSTS and the SSL
redirect, the throttles and the login lockout.

Production gets, with DEBUG off and nothing else set: a SECRET_KEY of 50 characters
or more required, the SSL redirect, secure session and CSRF cookies, a year of HSTS
with subdomains and preload, no framing, and the client's address taken from the
socket (NUM_PROXIES=0). `make run` turns the https-only parts off for plain http on
this machine (devtools/stack.py); `manage.py check --deploy` passes with the defaults.
"""

import re
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from .base import DEBUG, env

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is not set (make run sets a local one for development)")
if not DEBUG and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- Production security (on unless DEBUG) -----------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Throttles (REST framework) and the client's address ------------------------------
_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def _throttle_rates(raw: str) -> dict[str, str]:
    rates = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        scope, sep, rate = item.partition("=")
        if not sep or not scope.strip() or not _RATE.match(rate.strip()):
            raise ImproperlyConfigured(
                f"THROTTLE_RATES item {item!r} is malformed; expected scope=N/period, "
                "for example task_create=120/min"
            )
        rates[scope.strip()] = rate.strip()
    return rates


THROTTLE_RATES = {
    "anon": "120/min",
    "user": "1200/min",
    "task_create": "120/min",
    # POST /api/auth/token, per client address (its guesses at passwords).
    "login": "10/min",
    **_throttle_rates(env.str("THROTTLE_RATES", default="")),
}

# Reverse proxies in front of the app that append the client's address to
# X-Forwarded-For: the throttles and the login lockout take the address the nearest one
# saw. 0: the socket's address is the client's, and the header, which any client can
# write, is ignored (else a client would dodge every limit with it).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
if NUM_PROXIES < 0:
    raise ImproperlyConfigured(
        "NUM_PROXIES counts the reverse proxies in front of the app: 0 or more"
    )

# --- Logins: the lockout, the password rules ----------------------------------------------
AUTHENTICATION_BACKENDS = [
    # Refuses any login of a client locked out (django-axes), before the password check.
    "contentpipeline.logins.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login lockout (django-axes), for the admin's login form and POST /api/auth/token:
# after LOGIN_FAILURE_LIMIT failed logins as one username from one address, that
# username is refused from that address (even with the right password) for
# LOGIN_LOCKOUT_MINUTES after the last failure; 429 with Retry-After. Attempts are
# counted in PostgreSQL, so a lockout holds through a Redis outage; `manage.py
# axes_reset_username NAME` (or deleting the access attempt in the admin) lifts one.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME <= timedelta(0):
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES must be positive")
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Tries made while locked out do not start the lockout again: it ends when it said.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "contentpipeline.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "contentpipeline.logins.lockout_response"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
