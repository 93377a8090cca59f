"""The project: its environment reader, debug switch, address, applications,
middleware, URLs, templates, sessions and language.

Production gets: DEBUG off (DEBUG=true is for development: `make run` sets it).
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
PORT = env.int("PORT", default=8000)
SITE_URL = env.str("SITE_URL", default=f"http://localhost:{PORT}")

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
    "notifications",
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

LOGIN_URL = "admin:login"
SESSION_ENGINE = "contentpipeline.sessions"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Nothing here takes large uploads: the API's bodies are small JSON, admin forms are text.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BODY", default=1024 * 1024)
