"""Rate limits hold under concurrency (counted atomically in Redis), answer 429 with
Retry-After, cannot be dodged with a forged X-Forwarded-For, and fail open when Redis
is unreachable."""

import logging
import threading
import time
import uuid

import pytest
from django.db import connections
from rest_framework.test import APIClient

from contentpipeline import cache as app_cache
from contentpipeline import throttling
from contentpipeline.celery import app as celery_app
from tasks.models import ContentTask

from .conftest import client_for
from .factories import UserFactory, token_for
from .test_redis_down import DEAD

pytestmark = pytest.mark.django_db(transaction=True)

CONCURRENT = 20
LIMIT = 10


@pytest.fixture(autouse=True)
def own_queue(settings):
    """Tasks created here are queued where no worker listens, and purged after."""
    settings.CELERY_TASK_DEFAULT_QUEUE = f"throttling-{uuid.uuid4().hex[:6]}"
    yield
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.fixture
def rates(monkeypatch):
    """Set rates by scope for this test (DRF reads them from the throttle classes)."""

    def apply(**scoped: str) -> None:
        merged = {**throttling.AtomicRateThrottle.THROTTLE_RATES, **scoped}
        monkeypatch.setattr(throttling.AtomicRateThrottle, "THROTTLE_RATES", merged)

    return apply


def all_at_once(send, count: int = CONCURRENT) -> list:
    """`send(i)` from `count` threads released together; their responses, in order."""
    barrier = threading.Barrier(count)
    responses: list = [None] * count
    errors: list = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            responses[index] = send(index)
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return responses


def assert_limited(responses, ok: int) -> int:
    """Exactly LIMIT answered `ok` (DRF's own counting let 14 to 16 of 20 through);
    every other one is a 429 that says how long to wait. Returns how many got through."""
    codes = [response.status_code for response in responses]
    through = codes.count(ok)
    assert through == LIMIT, codes
    assert codes.count(429) == len(codes) - through, codes
    for response in responses:
        if response.status_code == 429:
            assert 1 <= int(response["Retry-After"]) <= 60
            assert "throttled" in response.json()["detail"].lower()
    return through


def test_twenty_concurrent_creates_at_ten_a_minute_let_exactly_ten_through(rates):
    rates(task_create=f"{LIMIT}/min")
    user = UserFactory()
    token = token_for(user)

    def create(index: int):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client.post("/api/tasks", {"topic": f"Concurrent request number {index}"},
                           format="json")  # fmt: skip

    through = assert_limited(all_at_once(create), ok=201)
    assert ContentTask.objects.filter(created_by=user).count() == through
    # The limit is each user's: another one still has all of theirs.
    other = client_for(UserFactory())
    assert other.post("/api/tasks", {"topic": "Someone else's task"},
                      format="json").status_code == 201  # fmt: skip


def test_twenty_concurrent_token_requests_at_ten_a_minute_let_exactly_ten_through(rates):
    rates(login=f"{LIMIT}/min")
    user = UserFactory()
    credentials = {"username": user.username, "password": "a-long-test-password"}

    def log_in(index: int):
        return APIClient().post("/api/auth/token", credentials, format="json")

    responses = all_at_once(log_in)
    assert_limited(responses, ok=200)
    assert {r.json()["token"] for r in responses if r.status_code == 200} == {token_for(user)}


def test_the_login_limit_is_per_address_and_refuses_before_checking_the_password(rates):
    rates(login="2/min")
    user = UserFactory()
    wrong = {"username": user.username, "password": "not-the-password"}
    client = APIClient()
    codes = [client.post("/api/auth/token", wrong, format="json").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    elsewhere = APIClient(REMOTE_ADDR="192.0.2.7").post(
        "/api/auth/token", {**wrong, "password": "a-long-test-password"}, format="json"
    )
    assert elsewhere.status_code == 200


def test_a_refused_client_may_come_back_after_retry_after(rates):
    rates(task_create="2/sec")
    client = client_for(UserFactory())
    body = {"topic": "Paced by the throttle"}
    codes = [client.post("/api/tasks", body, format="json") for _ in range(3)]
    assert [response.status_code for response in codes] == [201, 201, 429]
    wait = int(codes[-1]["Retry-After"])
    assert wait == 1
    time.sleep(wait)
    assert client.post("/api/tasks", body, format="json").status_code == 201


def test_a_forged_x_forwarded_for_does_not_give_an_anonymous_client_a_new_limit(rates):
    rates(anon="3/min")
    codes = [
        APIClient().get("/api/posts", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]


def test_behind_one_proxy_the_address_it_saw_is_the_client(rates, settings):
    rates(anon="2/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def get(chain: str) -> int:
        return APIClient().get("/api/posts", HTTP_X_FORWARDED_FOR=chain).status_code

    # What the client wrote comes first; the proxy appends the address it saw.
    assert [get(f"10.9.9.{i}, 203.0.113.1") for i in range(3)] == [200, 200, 429]
    assert get("203.0.113.2") == 200


@pytest.fixture
def fresh_breaker():
    """The cache's breaker remembers a dead location for a few seconds, in the process:
    this test must find it closed, and leave it so for the tests after it."""
    app_cache._state["down_until"].clear()
    yield
    app_cache._state["down_until"].clear()


def test_with_redis_unreachable_throttled_endpoints_answer_at_once_unthrottled(
    rates, settings, caplog, fresh_breaker
):
    rates(task_create="2/min", login="2/min", anon="2/min")
    user = UserFactory()
    client = client_for(user)
    credentials = {"username": user.username, "password": "a-long-test-password"}
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"{DEAD}/1"}}
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        created = [client.post("/api/tasks", {"topic": f"Unthrottled {i}"}, format="json")
                   for i in range(4)]  # fmt: skip
        tokens = [APIClient().post("/api/auth/token", credentials, format="json")
                  for _ in range(4)]  # fmt: skip
        reads = [APIClient().get("/api/tags") for _ in range(4)]
        elapsed = time.monotonic() - started
    assert [r.status_code for r in created] == [201] * 4
    assert [r.status_code for r in tokens] == [200] * 4
    assert [r.status_code for r in reads] == [200] * 4
    assert "Throttling is off" in caplog.text
    # One bounded wait for the dead cache, then none.
    assert elapsed < 5, elapsed
