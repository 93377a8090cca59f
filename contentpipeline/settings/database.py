"""The database: PostgreSQL through psycopg 3 and its pool, and the role migrations
run as.

Production gets DATABASE_URL (required) with a pool of up to 20 connections a
process, checked as they are handed out, and a connection timeout of 3 s.
"""

import sys
from urllib.parse import unquote

from django.core.exceptions import ImproperlyConfigured

from .base import env

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
