import uuid

import pytest

from contentpipeline.celery import app as celery_app
from tasks.runner import run_pipeline
from tasks.services import task_create

from ..brokers import use_broker
from ..conftest import client_for
from ..factories import UserFactory
from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_queue(settings):
    settings.CELERY_TASK_DEFAULT_QUEUE = f"metrics-{uuid.uuid4().hex[:6]}"
    yield settings.CELERY_TASK_DEFAULT_QUEUE
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


def test_metrics_show_queue_depth_by_priority_and_the_pipelines_numbers(own_queue, monkeypatch):
    from contentpipeline import cache as app_cache

    staff = UserFactory(is_staff=True)
    for priority, count in {"urgent": 2, "low": 3}.items():
        for i in range(count):
            task_create(user=staff, topic=f"{priority} queued {i}", priority=priority)
    done = ContentTaskFactory(created_by=staff)
    run_pipeline(done.pk)  # its research looks for related posts: cache lookups too
    ContentTaskFactory(created_by=staff, status="failed")
    # Counting starts here: what the pipeline counted is dropped, in Redis and in here.
    app_cache.cache.delete_many(list(app_cache.STATS_KEYS.values()))
    monkeypatch.setattr(app_cache, "STATS_FLUSH_SECONDS", 0.0)
    monkeypatch.setitem(app_cache._state, "counts", {"hits": 0, "misses": 0})
    for _ in range(3):  # this app's own lookups: one miss, two hits
        app_cache.tier_get_or_set("content", "metrics-probe", lambda: "page")

    body = client_for(staff).get("/api/metrics").json()
    assert body["queue_depth_by_priority"] == {"low": 3, "normal": 0, "high": 0, "urgent": 2}
    assert body["broker_queue_by_priority"] == {"urgent": 2, "high": 0, "normal": 0, "low": 3}
    assert body["tasks_by_status"]["pending"] == 5
    assert body["tasks_by_status"]["awaiting_approval"] == 1
    assert body["success_rate"] == 0.5
    assert set(body["stage_durations"]) == {"research", "draft", "review", "image", "seo"}
    assert {(row["stage"], row["model"]) for row in body["cost_by_stage_and_model"]} >= {
        ("draft", "offline-writer-1")
    }
    # 2 hits, 2 misses (the probe's first lookup, and the metrics' own): not Redis'
    # server-wide numbers, which the broker and the channel layer move too.
    assert body["cache"]["hits"] == 2 and body["cache"]["misses"] == 2
    assert body["cache_hit_ratio"] == 0.5


def test_metrics_are_for_staff_only():
    assert client_for(UserFactory()).get("/api/metrics").status_code == 403
    assert client_for().get("/api/metrics").status_code == 401


def test_health_reports_each_dependency(celery_worker):
    response = client_for().get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cache": "ok", "broker": "ok", "workers": "ok"}


def test_health_answers_503_when_the_broker_is_down(settings):
    real = celery_app.conf.broker_url
    use_broker("redis://127.0.0.1:1/0")
    try:
        response = client_for().get("/api/health")
    finally:
        use_broker(real)
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
