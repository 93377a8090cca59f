"""GET /metrics: the Prometheus text format, for staff and for the bearer of
METRICS_TOKEN only; the pipeline's numbers read from the database and Redis at each
scrape, requests counted by the process that answered them."""

import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from contentpipeline import cache as app_cache
from tasks.models import StageRun

from ..conftest import ROOT, client_for
from ..factories import UserFactory
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "scrape-secret-0123456789abcdef"


def bearer(token: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {token}"})


def session_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


CALLERS = {
    "anonymous": (lambda: client_for(), 401),
    "integrator's token": (lambda: client_for(UserFactory()), 403),
    "integrator's session": (lambda: session_of(UserFactory()), 403),
    "editor's token (not staff)": (lambda: client_for(UserFactory(editor=True)), 403),
    "staff's token": (lambda: client_for(UserFactory(is_staff=True)), 200),
    "staff's session": (lambda: session_of(UserFactory(is_staff=True)), 200),
    "the metrics token": (lambda: bearer(METRICS_TOKEN), 200),
    "a wrong bearer token": (lambda: bearer(METRICS_TOKEN + "x"), 401),
    "a prefix of the token": (lambda: bearer(METRICS_TOKEN[:10]), 401),
    "an empty bearer token": (lambda: Client(headers={"Authorization": "Bearer"}), 401),
}


@pytest.mark.parametrize("caller", CALLERS)
def test_metrics_are_for_staff_and_the_bearer_of_the_metrics_token(settings, caller):
    settings.METRICS_TOKEN = METRICS_TOKEN
    make_client, expected = CALLERS[caller]
    response = make_client().get("/metrics")
    assert response.status_code == expected, response.content
    if expected == 200:
        assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert list(text_string_to_metric_families(response.content.decode()))
    else:
        assert response["Content-Type"] == "application/json"
        assert "# TYPE" not in response.content.decode()
    if expected == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_without_a_metrics_token_set_no_bearer_token_is_accepted(settings):
    settings.METRICS_TOKEN = ""
    assert bearer("").get("/metrics").status_code == 401
    assert bearer("anything").get("/metrics").status_code == 401
    assert client_for(UserFactory(is_staff=True)).get("/metrics").status_code == 200


def scrape(settings, accept: str | None = None) -> dict:
    """The page's samples: {(name, frozenset of labels): value}."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    headers = {"Accept": accept} if accept else {}
    response = bearer(METRICS_TOKEN).get("/metrics", headers=headers)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_tasks_by_status_queue_depth_and_stage_durations_come_from_the_database(settings):
    # A queue of its own: what other tests left in the run's queue is not counted here.
    settings.CELERY_TASK_DEFAULT_QUEUE = f"prometheus-{uuid.uuid4().hex[:6]}"
    for priority, count in {"urgent": 2, "low": 3}.items():
        ContentTaskFactory.create_batch(count, priority=priority)
    ContentTaskFactory(status="failed")
    ContentTaskFactory(status="pending", deleted_at=timezone.now())  # not counted
    task = ContentTaskFactory(status="awaiting_approval")
    start = timezone.now() - timedelta(hours=1)
    for generation, stage, seconds, status, model in [
        (1, "research", 0.07, "succeeded", "m-small"),
        (1, "draft", 3, "succeeded", "m-large"),
        (2, "draft", 700, "succeeded", "m-large"),
        (3, "draft", 1, "failed", "m-large"),  # not a success: no duration counted
    ]:
        StageRun.objects.create(
            task=task, generation=generation, stage=stage,
            status=status, started_at=start, finished_at=start + timedelta(seconds=seconds),
            model=model, tokens_in=100, tokens_out=40, cost="0.002500",
        )  # fmt: skip

    samples = scrape(settings)
    assert value(samples, "contentpipeline_tasks", status="pending") == 5
    assert value(samples, "contentpipeline_tasks", status="failed") == 1
    assert value(samples, "contentpipeline_tasks", status="published") == 0
    assert value(samples, "contentpipeline_queue_depth", priority="urgent") == 2
    assert value(samples, "contentpipeline_queue_depth", priority="low") == 3
    assert value(samples, "contentpipeline_queue_depth", priority="normal") == 0

    bucket = "contentpipeline_stage_duration_seconds_bucket"
    assert value(samples, bucket, stage="research", le="0.05") == 0
    assert value(samples, bucket, stage="research", le="0.1") == 1
    assert value(samples, bucket, stage="draft", le="2.5") == 0
    assert value(samples, bucket, stage="draft", le="5.0") == 1
    assert value(samples, bucket, stage="draft", le="600.0") == 1
    assert value(samples, bucket, stage="draft", le="+Inf") == 2
    assert value(samples, "contentpipeline_stage_duration_seconds_count", stage="draft") == 2
    assert value(samples, "contentpipeline_stage_duration_seconds_sum", stage="draft") == 703

    assert value(samples, "contentpipeline_stage_runs_total", stage="draft", model="m-large") == 3
    assert value(samples, "contentpipeline_stage_cost_usd_total", stage="draft",
                 model="m-large") == pytest.approx(0.0075)  # fmt: skip
    assert value(samples, "contentpipeline_stage_tokens_total", stage="research",
                 model="m-small", direction="out") == 40  # fmt: skip
    assert value(samples, "contentpipeline_broker_queue_messages", priority="urgent") == 0
    for source in ("database", "broker", "cache"):
        assert value(samples, "contentpipeline_metrics_source_up", source=source) == 1


def test_requests_are_counted_by_method_and_status_with_their_latency(settings):
    before = scrape(settings)
    Client().get("/api/posts")
    Client().get("/api/no-such-thing")
    Client().generic("BREW", "/api/posts")
    after = scrape(settings)

    def grew(name: str, **labels) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    requests = "contentpipeline_http_requests_total"
    # The first scrape is counted once it has answered: it is in the second.
    assert grew(requests, method="GET", status="200") == 2
    assert grew(requests, method="GET", status="404") == 1
    assert grew(requests, method="other", status="405") == 1  # no label per invented method
    latency = "contentpipeline_http_request_duration_seconds"
    assert grew(f"{latency}_count", method="GET") == 3
    assert grew(f"{latency}_sum", method="GET") > 0
    assert value(after, f"{latency}_bucket", method="GET", le="+Inf") == value(
        after, f"{latency}_count", method="GET"
    )


def test_cache_hits_and_misses_are_the_apps_own_lookups(settings, monkeypatch):
    app_cache.cache.delete_many(list(app_cache.STATS_KEYS.values()))
    monkeypatch.setattr(app_cache, "STATS_FLUSH_SECONDS", 0.0)
    monkeypatch.setitem(app_cache._state, "counts", {"hits": 0, "misses": 0})
    for _ in range(3):  # one miss, then two hits
        app_cache.tier_get_or_set("content", "prometheus-probe", lambda: "page")
    samples = scrape(settings)
    assert value(samples, "contentpipeline_cache_hits_total") == 2
    assert value(samples, "contentpipeline_cache_misses_total") == 1


def test_the_page_is_prometheus_text_whatever_the_client_accepts(settings):
    openmetrics = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    for accept in ("text/plain", openmetrics, "application/json"):
        assert value(scrape(settings, accept), "contentpipeline_tasks", status="pending") == 0


def test_metrics_is_not_part_of_the_rest_api_schema():
    paths = Client().get("/api/schema/", headers={"Accept": "application/json"}).json()["paths"]
    assert paths and not [path for path in paths if "metrics" in path and "/api/" not in path]


@pytest.mark.processes
def test_with_the_database_down_the_bearer_still_gets_the_page_without_its_numbers():
    code = (
        "import django; django.setup(); from django.test import Client; "
        "from django.test.utils import setup_test_environment; setup_test_environment(); "
        "r = Client(headers={'Authorization': 'Bearer db-down-token'}).get('/metrics'); "
        "print(r.status_code); print(r.content.decode())"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "contentpipeline.settings",
                   "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",
                   "DB_POOL_TIMEOUT": "1", "METRICS_TOKEN": "db-down-token"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    status, _, page = result.stdout.partition("\n")
    assert status == "200"
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }
    assert value(samples, "contentpipeline_metrics_source_up", source="database") == 0
    assert value(samples, "contentpipeline_metrics_source_up", source="cache") == 1
    assert not [name for name, _ in samples if name.startswith("contentpipeline_tasks")]
    assert "Metrics: the database did not answer (OperationalError)" in result.stderr
