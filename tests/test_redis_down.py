"""With Redis unreachable (nothing listens on the port), the API still serves reads,
stores new tasks, and says in /api/health which component is down. Redis is the cache
(throttle counters), the channel layer (progress events) and the broker."""

import logging
import time
import uuid

import pytest
from django.core.cache import cache

from contentpipeline.celery import app as celery_app
from tasks.models import ContentTask
from tasks.tasks import dispatch_waiting_tasks

from .brokers import use_broker
from .conftest import client_for
from .factories import UserFactory
from .tasks.factories import ContentTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)

DEAD = "redis://127.0.0.1:1"  # nothing listens there


@pytest.fixture(autouse=True)
def own_queue(settings):
    """No worker listens here: a worker the session started must not run (and lock)
    these tasks while the test database is flushed."""
    settings.CELERY_TASK_DEFAULT_QUEUE = f"redis-down-{uuid.uuid4().hex[:6]}"
    yield
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.fixture
def cache_and_channel_layer_down(settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"{DEAD}/1"}}
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [f"{DEAD}/2"]}}
    }
    with pytest.raises(Exception):  # noqa: B017 - any error proves it is down
        cache.get("anything")


@pytest.fixture
def broker_down():
    real = celery_app.conf.broker_url
    use_broker(f"{DEAD}/0")
    yield
    use_broker(real)


def test_with_cache_and_channel_layer_down_the_api_serves_and_stores(
    cache_and_channel_layer_down, caplog
):
    user = UserFactory()
    ContentTaskFactory(created_by=user, topic="An existing task to read back")
    client = client_for(user)
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        created = client.post("/api/tasks", {"topic": "Written while Redis is away"},
                              format="json")  # fmt: skip
        listed = client.get("/api/tasks")
        one = client.get(f"/api/tasks/{created.json()['id']}")
        posts = client_for().get("/api/posts")
        elapsed = time.monotonic() - started
    assert created.status_code == 201, created.content
    assert ContentTask.objects.filter(topic="Written while Redis is away").exists()
    assert listed.status_code == 200 and listed.json()["count"] == 2
    assert one.status_code == 200 and one.json()["status"] == "pending"
    assert posts.status_code == 200
    assert elapsed < 15
    assert "Throttling is off" in caplog.text  # failing open is logged


def test_with_all_of_redis_down_a_task_is_stored_and_sent_once_the_broker_is_back(
    cache_and_channel_layer_down, broker_down, settings
):
    user = UserFactory()
    response = client_for(user).post("/api/tasks", {"topic": "Queued while everything is down"},
                                     format="json")  # fmt: skip
    assert response.status_code == 201
    task = ContentTask.objects.get(pk=response.json()["id"])
    assert task.status == "pending" and task.dispatched_at is None

    use_broker(settings.CELERY_BROKER_URL)  # the broker is back
    settings.PIPELINE_DISPATCH_GRACE = 0
    ContentTask.objects.filter(pk=task.pk).update(updated_at=task.created_at)
    assert dispatch_waiting_tasks() == 1
    task.refresh_from_db()
    assert task.dispatched_at is not None


def test_health_says_which_component_is_down_without_internal_text_for_strangers(
    cache_and_channel_layer_down,
):
    anonymous = client_for().get("/api/health")
    assert anonymous.status_code == 503
    assert anonymous["Content-Type"].startswith("application/json")
    body = anonymous.json()
    assert body["cache"] == "error"
    assert body["database"] == "ok" and body["broker"] == "ok"
    assert set(body.values()) <= {"ok", "error"}  # no exception text for anonymous callers

    staff = client_for(UserFactory(is_staff=True)).get("/api/health").json()
    assert staff["cache"].startswith("error: ")
    assert "127.0.0.1:1" in staff["cache"]


def test_health_reports_the_broker_down(broker_down):
    body = client_for().get("/api/health")
    assert body.status_code == 503
    assert body.json()["broker"] == "error"
    assert body.json()["cache"] == "ok"


@pytest.fixture
def hung_redis():
    """A server that accepts connections and never answers: a frozen Redis, or one
    behind a route that drops packets. Only timeouts get a client out of it."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)
    held, stop = [], threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_with_redis_hanging_the_api_still_answers_in_bounded_time(hung_redis, settings):
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"{hung_redis}/1"}}
    layer = settings.CHANNEL_LAYERS["default"]
    settings.CHANNEL_LAYERS = {
        "default": {**layer, "CONFIG": {**layer["CONFIG"], "hosts": [f"{hung_redis}/2"]}}
    }
    real = celery_app.conf.broker_url
    use_broker(f"{hung_redis}/0")
    try:
        client = client_for(UserFactory())
        started = time.monotonic()
        created = client.post("/api/tasks", {"topic": "Written while Redis hangs"},
                              format="json")  # fmt: skip
        create_seconds = time.monotonic() - started
        started = time.monotonic()
        listed = client.get("/api/tasks")
        list_seconds = time.monotonic() - started
        started = time.monotonic()
        health = client_for().get("/api/health")
        health_seconds = time.monotonic() - started
    finally:
        use_broker(real)
    assert created.status_code == 201
    assert ContentTask.objects.get(pk=created.json()["id"]).dispatched_at is None
    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert health.status_code == 503
    assert health.json()["cache"] == "error" and health.json()["broker"] == "error"
    # Bounded by the configured timeouts, not by the hung server.
    assert create_seconds < 20 and list_seconds < 5 and health_seconds < 20


def test_with_the_cache_down_the_site_and_admin_serve_from_postgresql_and_caching_resumes(
    settings,
):
    from django.test import Client

    from contentpipeline import cache as app_cache

    from .publishing.factories import PostFactory

    live = settings.CACHES["default"]
    post = PostFactory(title="Served while the cache is away", tags=["rain"], category="Garden")
    editor = UserFactory(editor=True)
    pages = ["/", post.get_absolute_url(), "/tags/rain/", "/categories/garden/", "/archive/",
             "/feed/", "/sitemap.xml", "/api/posts", f"/api/posts/{post.slug}", "/api/tags",
             "/search/?q=served"]  # fmt: skip
    settings.CACHES = {"default": {**live, "LOCATION": f"{DEAD}/1"}}
    try:
        reader, desk = Client(), Client()
        desk.force_login(editor)
        started = time.monotonic()
        answers = {page: reader.get(page) for page in pages}
        answers["admin"] = desk.get("/admin/tasks/contenttask/")
        elapsed = time.monotonic() - started
    finally:
        settings.CACHES = {"default": live}
    assert {page: r.status_code for page, r in answers.items()} == dict.fromkeys(answers, 200)
    assert "Served while the cache is away" in answers[post.get_absolute_url()].content.decode()
    assert elapsed < 5  # one bounded wait for the dead cache, then none

    # Redis is back: the next lookups are stored and found again.
    app_cache._state["down_until"].clear()
    before = app_cache.cache_stats()
    Client().get(post.get_absolute_url())
    Client().get(post.get_absolute_url())
    app_cache._state["flushed_at"] = 0.0
    app_cache.tier_get_or_set("metrics", "flush-probe", lambda: 1, versioned=False)
    after = app_cache.cache_stats()
    assert after["hits"] > before["hits"]


def test_with_the_cache_and_channel_layer_down_a_model_backed_pipeline_still_runs(
    cache_and_channel_layer_down, settings
):
    from tasks.runner import run_pipeline

    from .fakes import CHAT_PATH, FakeLLMServer

    settings.LLM_MAX_RETRIES = 0
    with FakeLLMServer() as server:
        server.configure(settings)
        task = ContentTaskFactory()
        started = time.monotonic()
        assert run_pipeline(task.pk) == "done"  # the draft streamed to nobody, uncached
        again = ContentTaskFactory(topic=task.topic, keywords=task.keywords)
        assert run_pipeline(again.pk) == "done"
        chat = [request for request in server.requests if request.path == CHAT_PATH]
    assert len(chat) == 8  # no cache: the second task paid for its own four calls
    assert time.monotonic() - started < 10  # no stall per call waiting for Redis


def test_with_all_of_redis_down_metrics_answer_with_what_the_database_knows(
    cache_and_channel_layer_down, broker_down, settings
):
    from prometheus_client.parser import text_string_to_metric_families

    settings.CELERY_BROKER_URL = f"{DEAD}/0"  # where the queue depth is read
    ContentTaskFactory.create_batch(2)
    client = client_for(UserFactory(is_staff=True))
    started = time.monotonic()
    response = client.get("/metrics")
    again = client.get("/metrics")  # the cache is not waited for a second time
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and again.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    up = "contentpipeline_metrics_source_up"
    assert samples[(up, (("source", "database"),))] == 1
    assert samples[(up, (("source", "cache"),))] == 0
    assert samples[(up, (("source", "broker"),))] == 0
    assert samples[("contentpipeline_tasks", (("status", "pending"),))] == 2
    names = {name for name, _ in samples}
    assert "contentpipeline_cache_hits_total" not in names
    assert "contentpipeline_broker_queue_messages" not in names
    assert "contentpipeline_http_requests_total" in names
    assert elapsed < 5
