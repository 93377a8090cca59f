"""Static files and media.

Production gets the static files by hashed names from STATIC_ROOT's manifest,
compressed, served by WhiteNoise (the image collects them when it is built).
"""

from pathlib import Path

from .base import BASE_DIR, DEBUG, env

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
