"""Prometheus metrics (served at GET /metrics by contentpipeline.metrics_view).

Requests are counted in the process that served them (`count_request`, called for
each request by the request log). What the database and Redis know (tasks by status,
queue depth, stage durations, the cache's hits and misses) is read when the page is
scraped, by collectors the apps register (`register_collector`), so any web process
gives the same numbers without Prometheus' multiprocess mode.

Imported by the logging configuration, before Django's apps are loaded: it imports
no model.
"""

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

PREFIX = "contentpipeline"

registry = CollectorRegistry()
ProcessCollector(registry=registry)
PlatformCollector(registry=registry)
GCCollector(registry=registry)

# A method label takes these values only: a client inventing methods must not make
# a time series for each.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

http_requests = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered by this process, by method and status.",
    ["method", "status"],
    registry=registry,
)
http_request_duration = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by method.",
    ["method"],
    registry=registry,
)


def count_request(method: str, status: int, duration: float) -> None:
    method = method if method in METHODS else "other"
    http_requests.labels(method, str(status)).inc()
    http_request_duration.labels(method).observe(duration)


_registered: set[type] = set()


def register_collector(collector) -> None:
    """Add a collector (an object with `collect()` yielding metric families, read at
    each scrape) once per process."""
    if type(collector) in _registered:
        return
    registry.register(collector)
    _registered.add(type(collector))
