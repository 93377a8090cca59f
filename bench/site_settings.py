"""Settings of the web server that bench/site_pages.py starts: the project's own, with a
URLconf that adds one bare view (bench/site_urls.py), so the production URLs never
carry a benchmark route."""

from contentpipeline.settings import *  # noqa: F403

ROOT_URLCONF = "bench.site_urls"
