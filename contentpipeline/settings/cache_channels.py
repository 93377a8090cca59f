"""Redis in its three roles: the Celery broker, the cache and the channel layer.

Production gets REDIS_URL's database for the broker and the two after it for the
cache and the channel layer, unless a role's own URL is set; the cache gives up on
an unreachable Redis after a second.
"""

import re
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

from .base import env

# REDIS_URL names the first of three consecutive databases: the broker uses its number
# (0 when the URL names none), the cache the next and the channel layer the one after, so
# two deployments sharing a Redis server pick, say, /0 and /3. CELERY_BROKER_URL,
# CACHE_URL and CHANNEL_LAYER_URL each override one role.
REDIS_DATABASES = 16  # Redis' default `databases`; a server with more can use role URLs


def _redis_db_number(url: str) -> int:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        found = re.search(r"(?:^|&)db=([^&]*)", parts.query)
        raw = found.group(1) if found else ""
    else:
        raw = parts.path.strip("/")
    if not raw:
        return 0
    if not raw.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL={url!r} names database {raw!r}; use a number")
    return int(raw)


def _redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        # Built by hand: urlunsplit would turn unix:///path into unix:/path.
        base, _, query = url.partition("?")
        query = re.sub(r"(^|&)db=[^&]*", "", query).strip("&")
        return f"{base}?{query}&db={db}" if query else f"{base}?db={db}"
    return urlunsplit(parts._replace(path=f"/{db}"))


REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379")
if urlsplit(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
    raise ImproperlyConfigured(
        f"REDIS_URL={REDIS_URL!r} must be a redis://, rediss:// or unix:// URL"
    )
REDIS_BASE_DB = _redis_db_number(REDIS_URL)
if REDIS_BASE_DB + 2 >= REDIS_DATABASES:
    raise ImproperlyConfigured(
        f"REDIS_URL={REDIS_URL!r} names database {REDIS_BASE_DB}, but the broker, cache and "
        f"channel layer use it and the two after it: pick 0..{REDIS_DATABASES - 3}, or set "
        "CELERY_BROKER_URL, CACHE_URL and CHANNEL_LAYER_URL one by one"
    )
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=_redis_db(REDIS_URL, REDIS_BASE_DB))
CACHE_URL = env.str("CACHE_URL", default=_redis_db(REDIS_URL, REDIS_BASE_DB + 1))
CHANNEL_LAYER_URL = env.str("CHANNEL_LAYER_URL", default=_redis_db(REDIS_URL, REDIS_BASE_DB + 2))

for _role, _url in (
    ("CELERY_BROKER_URL", CELERY_BROKER_URL),
    ("CACHE_URL", CACHE_URL),
    ("CHANNEL_LAYER_URL", CHANNEL_LAYER_URL),
):
    if urlsplit(_url).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(f"{_role}={_url!r} must be a redis://, rediss:// or unix:// URL")

CACHE_TIMEOUT = env.float("CACHE_TIMEOUT", default=1.0)
# django-redis keeps its connection pools in a process-wide factory, one per server, so
# the cache instance Django makes for each request (under ASGI) shares the process's
# pool instead of opening connections of its own. Its errors are not ignored
# (IGNORE_EXCEPTIONS): contentpipeline/cache.py catches them, answers from PostgreSQL and
# leaves the cache alone for a few seconds, so a request with Redis down never fails.
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cp"),
        # The cache is an optimisation: when its Redis is unreachable a request should
        # learn so in about a second, not wait out redis-py's 5 s defaults and retries.
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": CACHE_TIMEOUT,
            "SOCKET_TIMEOUT": CACHE_TIMEOUT,
        },
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "contentpipeline.channel_layer.RedisChannelLayer",
        "CONFIG": {
            "hosts": [CHANNEL_LAYER_URL],
            "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi"),
            # A membership not renewed for this long is dropped (consumers renew theirs
            # while connected), so a crashed web process leaves no group behind for long.
            "group_expiry": env.int("CHANNEL_GROUP_EXPIRY", default=900),
            "capacity": 1000,
        },
    }
}
