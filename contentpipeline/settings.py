"""Settings, all from the environment (12-factor).

Production defaults are the defaults: DEBUG off, secure cookies, HSTS, SSL redirect.
`make run` / `make test` (devtools/stack.py) set DEBUG and a local SECRET_KEY
for development; nothing secret lives in the repository.
"""

import re
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from contentpipeline.queues import DEFAULT_QUEUE

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is not set (make run sets a local one for development)")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PORT = env.int("PORT", default=8000)
SITE_URL = env.str("SITE_URL", default=f"http://localhost:{PORT}")

# --- Providers --------------------------------------------------------------------------
LLM_PROVIDERS = ("offline", "openai")
IMAGE_PROVIDERS = ("offline", "openai")
LLM_PROVIDER = env.str("LLM_PROVIDER", default="offline")
IMAGE_PROVIDER = env.str("IMAGE_PROVIDER", default="offline")
if LLM_PROVIDER not in LLM_PROVIDERS:
    raise ImproperlyConfigured(
        f"LLM_PROVIDER={LLM_PROVIDER!r} is unknown; use one of {', '.join(LLM_PROVIDERS)}"
    )
if IMAGE_PROVIDER not in IMAGE_PROVIDERS:
    raise ImproperlyConfigured(
        f"IMAGE_PROVIDER={IMAGE_PROVIDER!r} is unknown; use one of {', '.join(IMAGE_PROVIDERS)}"
    )
LLM_BASE_URL = env.str("LLM_BASE_URL", default="https://api.openai.com/v1")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_MODEL = env.str("LLM_MODEL", default="gpt-4o-mini")
IMAGE_MODEL = env.str("IMAGE_MODEL", default="gpt-image-1")
# Which model each stage uses, by the task's quality_preference.
LLM_MODELS = {
    "fast": env.str("LLM_MODEL_FAST", default=LLM_MODEL),
    "balanced": LLM_MODEL,
    "quality": env.str("LLM_MODEL_QUALITY", default=LLM_MODEL),
}
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=120.0)
# Retries of one call by the openai client (429, 5xx, timeouts; it honours Retry-After)
# before the next provider of the chain is tried.
LLM_MAX_RETRIES = env.int("LLM_MAX_RETRIES", default=2)
# Model calls wait for the server's rate limit, learned from its x-ratelimit-* and
# Retry-After headers and shared by every process through Redis (contentpipeline/
# ratelimit.py). LLM_RATE_LIMIT (requests per minute, 0: learn it) sets one up front;
# a call that would wait longer than LLM_RATE_WAIT_MAX fails, and the chain goes on.
LLM_RATE_LIMIT = env.int("LLM_RATE_LIMIT", default=0)
LLM_RATE_WAIT_MAX = env.float("LLM_RATE_WAIT_MAX", default=300.0)
if LLM_RATE_LIMIT < 0:
    raise ImproperlyConfigured("LLM_RATE_LIMIT is requests per minute: 0 (learn it) or more")
if not 0 < LLM_RATE_WAIT_MAX <= 3600:
    raise ImproperlyConfigured("LLM_RATE_WAIT_MAX is from 0 to 3600 seconds")
# Draft text sent to the task's WebSocket while a streaming provider writes it.
LLM_STREAM = env.bool("LLM_STREAM", default=True)


def _provider_chain(variable: str, first: str, valid: tuple[str, ...]) -> tuple[str, ...]:
    """`first`, then the providers named in `variable` (comma separated) not yet in it."""
    chain = [first]
    for name in env.list(variable, default=[]):
        if name not in valid:
            raise ImproperlyConfigured(
                f"{variable} names {name!r}, which is unknown; use {', '.join(valid)}"
            )
        if name not in chain:
            chain.append(name)
    return tuple(chain)


# What a stage tries, in order, when a provider fails after its retries.
LLM_CHAIN = _provider_chain("LLM_FALLBACKS", LLM_PROVIDER, LLM_PROVIDERS)
IMAGE_CHAIN = _provider_chain("IMAGE_FALLBACKS", IMAGE_PROVIDER, IMAGE_PROVIDERS)
if "openai" in (*LLM_CHAIN, *IMAGE_CHAIN) and not LLM_API_KEY:
    raise ImproperlyConfigured("The openai provider needs LLM_API_KEY")

LLM_STAGES = ("research", "draft", "review", "seo")  # the ones a model writes


def _mapping(variable: str, parse, keys: tuple[str, ...] | None = None) -> dict:
    """`a=x,b=y` from the environment, each value through `parse`; a clear error for
    anything else."""
    found = {}
    for item in env.list(variable, default=[]):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value or (keys and key not in keys):
            allowed = f" (keys: {', '.join(keys)})" if keys else ""
            raise ImproperlyConfigured(f"{variable}: {item!r} is not name=value{allowed}")
        try:
            found[key] = parse(value)
        except (ValueError, ArithmeticError) as exc:
            raise ImproperlyConfigured(f"{variable}: {item!r}: {exc}") from exc
    return found


# A stage's model, whatever the quality asked for: LLM_STAGE_MODELS=draft=gpt-4.1,...
LLM_STAGE_MODELS = _mapping("LLM_STAGE_MODELS", str, LLM_STAGES)


def _price_pair(value: str) -> tuple[Decimal, Decimal]:
    first, sep, second = value.partition("/")
    if not sep:
        raise ValueError("give the input and output price per million tokens, as 0.15/0.60")
    return Decimal(first), Decimal(second)


# USD per million (input, output) tokens; the longest matching model prefix wins, so a
# dated snapshot is priced like its family; a model priced nowhere costs 0.
# LLM_PRICES=my-model=0.20/0.80,... adds or overrides entries.
LLM_PRICES = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.40")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "gpt-5-nano": (Decimal("0.05"), Decimal("0.40")),
    "gpt-5-mini": (Decimal("0.25"), Decimal("2.00")),
    "gpt-5": (Decimal("1.25"), Decimal("10.00")),
    "o4-mini": (Decimal("1.10"), Decimal("4.40")),
} | _mapping("LLM_PRICES", _price_pair)
# USD per generated image; IMAGE_PRICES=model=0.04,... adds or overrides entries.
IMAGE_PRICES = {
    "gpt-image-1-mini": Decimal("0.015"),
    "gpt-image-1": Decimal("0.063"),
    "dall-e-3": Decimal("0.080"),
    "dall-e-2": Decimal("0.020"),
} | _mapping("IMAGE_PRICES", Decimal)
# Ceiling in USD on one task's model calls when the task sets none (empty: no ceiling).
TASK_MAX_COST = env.str("TASK_MAX_COST", default="2.00")
try:
    TASK_MAX_COST = Decimal(TASK_MAX_COST) if TASK_MAX_COST.strip() else None
except ArithmeticError as exc:
    raise ImproperlyConfigured(f"TASK_MAX_COST={TASK_MAX_COST!r} is not a number") from exc

# The review's quality loop: a draft scored below the threshold is refined with the
# critique and reviewed again, at most QUALITY_MAX_REFINEMENTS times.
QUALITY_THRESHOLD = env.int("QUALITY_THRESHOLD", default=75)
QUALITY_MAX_REFINEMENTS = env.int("QUALITY_MAX_REFINEMENTS", default=1)
if not 0 <= QUALITY_THRESHOLD <= 100:
    raise ImproperlyConfigured("QUALITY_THRESHOLD is a score from 0 to 100")
if not 0 <= QUALITY_MAX_REFINEMENTS <= 5:
    raise ImproperlyConfigured("QUALITY_MAX_REFINEMENTS is from 0 to 5")

# The research stage's fetch of a task's sources.
SOURCE_FETCH_TIMEOUT = env.float("SOURCE_FETCH_TIMEOUT", default=10.0)
SOURCE_MAX_BYTES = env.int("SOURCE_MAX_BYTES", default=2_000_000)
# Sources on loopback or private networks are refused unless this is set (the tests
# serve their pages on loopback): a task must not make the server read its neighbours.
SOURCES_ALLOW_PRIVATE = env.bool("SOURCES_ALLOW_PRIVATE", default=False)

# Webhooks (tasks/services/webhooks.py): each status change of an integrator's task is
# POSTed, signed, to the URLs they registered. A URL whose host resolves to a loopback,
# private, link-local or otherwise non-public address is refused (when registered and
# again at each connection, with the research sources' guard) unless this is set: a
# webhook must not make the server call its neighbours. Off in every environment by
# default; the tests (receivers on loopback) and a developer's own receiver set it.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# Seconds one delivery attempt may take in all (name lookup, connect, send, the answer):
# the outbound transport's deadline, the connection closed when it passes.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=5.0)
# Attempts of a delivery before it is given up, and the wait before the second one,
# doubled before each further one (10 s, 20 s, ... 640 s: about 21 minutes in all).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_RETRY_DELAY = env.float("WEBHOOK_RETRY_DELAY", default=10.0)
WEBHOOKS_PER_USER = env.int("WEBHOOKS_PER_USER", default=10)
# Deliveries run in a worker of their own (`make run`'s `webhooks`, the compose file's
# `webhooks` service), never in a pipeline worker: its pool has this many threads, so
# receivers that keep their deliveries waiting hold at most these, and no run's.
WEBHOOK_CONCURRENCY = env.int("WEBHOOK_CONCURRENCY", default=20)
if not 0 < WEBHOOK_TIMEOUT <= 60:
    raise ImproperlyConfigured("WEBHOOK_TIMEOUT is from 0 to 60 seconds")
if not 1 <= WEBHOOK_MAX_ATTEMPTS <= 20:
    raise ImproperlyConfigured("WEBHOOK_MAX_ATTEMPTS is from 1 to 20")
if not 0 < WEBHOOK_RETRY_DELAY <= 600:
    raise ImproperlyConfigured("WEBHOOK_RETRY_DELAY is from 0 to 600 seconds")
if WEBHOOKS_PER_USER < 1:
    raise ImproperlyConfigured("WEBHOOKS_PER_USER is at least 1")
if not 1 <= WEBHOOK_CONCURRENCY <= 200:
    raise ImproperlyConfigured("WEBHOOK_CONCURRENCY is from 1 to 200 threads")

# --- Applications -----------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "contentpipeline.apps.ContentAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.sitemaps",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "channels",
    "axes",
    "tasks",
    "approvals",
    "publishing",
]

MIDDLEWARE = [
    # First: every request gets its id and its log line, refused ones included.
    "contentpipeline.middleware.RequestLogMiddleware",
    "contentpipeline.middleware.RejectMalformedRequestsMiddleware",
    # A view that needed the database while it could not be reached: 503, not 500.
    "contentpipeline.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a login refused by the lockout into a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "contentpipeline.urls"
ASGI_APPLICATION = "contentpipeline.asgi.application"
WSGI_APPLICATION = "contentpipeline.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database (psycopg 3 with its connection pool) --------------------------------------
DATABASES = {"default": env.db("DATABASE_URL")}
# Django's PostgreSQL backend, and a check of the whole pool after it ran out of time
# (a server restart leaves every idle connection broken: contentpipeline/database/base.py).
DATABASES["default"]["ENGINE"] = "contentpipeline.database"
# A Unix socket directory arrives percent-encoded in the URL's host part.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"].get("HOST", ""))
# Lets a test's Celery worker process join the test database pytest-django created.
if env.str("DATABASE_NAME", default=""):
    DATABASES["default"]["NAME"] = env.str("DATABASE_NAME")
# A connection attempt to a server that does not answer (a host gone, packets dropped)
# gives up after this many seconds (libpq's minimum is 2) instead of psycopg's 130, so
# the pool tries again soon after the server is back.
DB_CONNECT_TIMEOUT = env.int("DB_CONNECT_TIMEOUT", default=3)
if DB_CONNECT_TIMEOUT < 2:
    raise ImproperlyConfigured("DB_CONNECT_TIMEOUT is at least 2 seconds (libpq's minimum)")
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
# One pool per process, opened as needed. A worker's threads hold a connection only
# while they read or write: the runner gives its connection back before a stage's
# provider calls and the heartbeat after each renewal, so 20 serve a worker of
# WORKER_CONCURRENCY 100 (make run's two workers at most 40, the web process and beat a
# few, under PostgreSQL's default max_connections of 100).
# A thread waits up to DB_POOL_TIMEOUT for a connection, busy or not to be had (the
# database down); then the request answers 503, so a client learns within a second.
# Each connection is checked as the pool hands it out (an empty query): one the server
# closed (a restart) is replaced, never given to a request.
# The pool's reconnection attempts back off (1 s, 2 s, 4 s, ...) until
# `reconnect_timeout`, and while they do it makes no other (psycopg/psycopg#438): with
# psycopg's 300 s, a pool could wait a minute or more after the server was back. Given
# up after 2 s instead, the next caller starts a new attempt at once, so the pool
# reconnects within about a second of the server's return, whenever it went down.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DB_POOL_TIMEOUT = env.float("DB_POOL_TIMEOUT", default=1.0)
if DB_POOL_TIMEOUT <= 0:
    raise ImproperlyConfigured("DB_POOL_TIMEOUT is a number of seconds above 0")
if env.bool("DB_POOL", default=True):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=1),
        "max_size": env.int("DB_POOL_MAX", default=20),
        "timeout": DB_POOL_TIMEOUT,
        "reconnect_timeout": 2.0,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Migrations may run as the role that owns the tables, DATABASE_OWNER_URL: then
# `manage.py migrate`, and only it, connects as that role, and grants DATABASE_URL's
# role rows but no table (approvals/db_role.py), so web, workers and beat cannot alter,
# drop or truncate the audit trail, or switch its triggers off (README, Deploy).
DATABASE_OWNER_URL = env.str("DATABASE_OWNER_URL", default="")
DATABASE_APP_ROLE = None  # whom `migrate` grants, when it runs as the owner
if DATABASE_OWNER_URL:
    _owner = env.db("DATABASE_OWNER_URL")
    _app_database = env.db("DATABASE_URL")["NAME"]
    if _owner["NAME"] != _app_database and not env.str("DATABASE_NAME", default=""):
        raise ImproperlyConfigured(
            f"DATABASE_OWNER_URL names database {_owner['NAME']!r} and DATABASE_URL "
            f"{_app_database!r}: the owner's role migrates the app's database, give both one"
        )
    if sys.argv[1:2] == ["migrate"]:
        DATABASE_APP_ROLE = {key: DATABASES["default"].get(key, "") for key in ("USER", "PASSWORD")}
        DATABASES["default"].update(
            {key: _owner.get(key, "") for key in ("USER", "PASSWORD", "PORT")},
            HOST=unquote(_owner.get("HOST", "")),
        )


# --- Redis: broker, cache and channel layer -----------------------------------------------
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
CACHES = {
    "default": {
        "BACKEND": "contentpipeline.cache_backend.SharedPoolRedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cp"),
        # The cache is an optimisation: when its Redis is unreachable a request should
        # learn so in about a second, not wait out redis-py's 5 s defaults and retries.
        "OPTIONS": {
            "socket_connect_timeout": CACHE_TIMEOUT,
            "socket_timeout": CACHE_TIMEOUT,
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

# --- Celery ------------------------------------------------------------------------------
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default=DEFAULT_QUEUE)
# The queue a worker consumes unless told otherwise (`-Q`): the pipeline's alone. Webhook
# deliveries go to a queue of their own (`content.webhooks`, declared when first used),
# which only the deliveries' worker consumes (`worker_command(deliveries=True)`): a
# receiver that keeps its deliveries waiting never takes a pipeline run's thread, and a
# backlog of deliveries never sits in front of a run nor counts in the queue's depth.
CELERY_TASK_QUEUES = [
    Queue(
        CELERY_TASK_DEFAULT_QUEUE,
        Exchange(CELERY_TASK_DEFAULT_QUEUE),
        routing_key=CELERY_TASK_DEFAULT_QUEUE,
    )
]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
BROKER_TIMEOUT = env.float("BROKER_TIMEOUT", default=3.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "queue_order_strategy": "priority",
    "priority_steps": list(range(10)),
    # kombu waits forever on a broker that hangs without closing the connection (a
    # frozen server, a dropped route): a publish from an API request would never end.
    # Longer than kombu's 1 s blocking pop, which the worker's event loop reads anyway.
    "socket_timeout": BROKER_TIMEOUT,
    "socket_connect_timeout": BROKER_TIMEOUT,
}
# The database row is the truth: a publish that fails is retried briefly, then the
# periodic dispatcher picks the task up, so the API never hangs on a lost broker.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A pipeline task spends its time waiting on providers (a model call is seconds of
# network wait), so a worker runs tasks in threads: one process keeps WORKER_CONCURRENCY
# tasks' calls in flight on one core (a host runs one per core: WORKER_PROCESSES in
# devtools/processes.py). Every worker reads these (`make run`, the compose file, the
# tests and benches); `celery worker -P/-c` still override them.
# The threads pool does not enforce Celery's time limits: a stage past
# PIPELINE_STAGE_TIME_LIMIT stops renewing its lease, and the dispatcher hands the task
# to a new run (see tasks/runner.py).
WORKER_POOLS = ("threads", "prefork", "solo")
CELERY_WORKER_POOL = env.str("WORKER_POOL", default="threads")
if CELERY_WORKER_POOL not in WORKER_POOLS:
    raise ImproperlyConfigured(
        f"WORKER_POOL={CELERY_WORKER_POOL!r} is unknown; use one of {', '.join(WORKER_POOLS)}"
    )
CELERY_WORKER_CONCURRENCY = env.int("WORKER_CONCURRENCY", default=100)
if CELERY_WORKER_CONCURRENCY < 1:
    raise ImproperlyConfigured("WORKER_CONCURRENCY is at least 1")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "dispatch-waiting-tasks": {
        "task": "tasks.tasks.dispatch_waiting_tasks",
        "schedule": env.float("DISPATCH_INTERVAL", default=30.0),
    },
    "dispatch-waiting-webhooks": {
        "task": "tasks.tasks.dispatch_waiting_webhooks",
        "schedule": env.float("DISPATCH_INTERVAL", default=30.0),
    },
    "publish-due-posts": {
        "task": "publishing.tasks.publish_due_posts",
        "schedule": 60.0,
    },
}
PIPELINE_STAGE_TIME_LIMIT = env.int("PIPELINE_STAGE_TIME_LIMIT", default=600)
PIPELINE_DISPATCH_GRACE = env.int("PIPELINE_DISPATCH_GRACE", default=60)
# A running task whose heartbeat is older than this is taken to be lost and run again;
# the runner renews the heartbeat every third of it, also in the middle of a stage.
PIPELINE_LEASE_SECONDS = env.float("PIPELINE_LEASE_SECONDS", default=60.0)
# Runs of a task lost in a row (worker killed, hard time limit) before it is failed.
PIPELINE_MAX_LOST_RUNS = env.int("PIPELINE_MAX_LOST_RUNS", default=3)
# Runs of one owner's tasks in flight at once (0: no cap). Within a priority, owners take
# turns whatever the cap; the cap also keeps one owner's backlog from filling every slot.
MAX_RUNS_PER_USER = env.int("MAX_RUNS_PER_USER", default=0)
if MAX_RUNS_PER_USER < 0:
    raise ImproperlyConfigured("MAX_RUNS_PER_USER is 0 (no cap) or more")

# --- REST framework ----------------------------------------------------------------------
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

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "contentpipeline.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_PARSER_CLASSES": [
        "contentpipeline.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "contentpipeline.throttling.AnonRateThrottle",
        "contentpipeline.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": THROTTLE_RATES,
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "contentpipeline.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Content pipeline API",
    "DESCRIPTION": "Request content, follow the pipeline, approve and publish.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: the docs work offline, and no third-party
    # script runs on the admin's origin.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation's error answers (400/401/403/404/409/413/415/429) with their JSON
    # bodies, from what each view is: see contentpipeline/schema.py.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "contentpipeline.schema.document_error_responses",
    ],
}

# --- Auth, i18n, static, media -----------------------------------------------------------
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
LOGIN_URL = "admin:login"
SESSION_ENGINE = "contentpipeline.sessions"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Nothing here takes large uploads: the API's bodies are small JSON, admin forms are text.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY", default=1024 * 1024)

STATIC_URL = "/static/"
# Where collectstatic puts the files (the image's build, and `make run` with DEBUG off)
# and WhiteNoise serves them from.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]  # the project's own: contentpipeline is not an app
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

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
if not DEBUG and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")

# --- Logs and metrics ---------------------------------------------------------------------
# json: one JSON object a line (time, level, logger, message, request_id and the
# line's fields); text: for a person at a terminal. See contentpipeline/observability.py.
LOG_FORMATS = ("json", "text")
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is unknown; use json or text")
# Bearer token a Prometheus server sends for GET /metrics (staff may read it anyway).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

LOGGING_CONFIG = "contentpipeline.observability.configure_logging"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "contentpipeline.observability.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "contentpipeline.observability.JsonFormatter"},
        "text": {"()": "contentpipeline.observability.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would print its lines a second
        # time, unformatted: they go to the root's handler alone.
        "django": {"level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        # Its banner on every start (each manage.py command); lockouts are warnings.
        "axes": {"level": "WARNING"},
        # A line per model request: the stage runs record every call already.
        "httpx2": {"level": "WARNING"},
    },
}
