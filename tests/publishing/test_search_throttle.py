"""The search page is throttled as the search API is: the same throttles, scopes and
rates, one budget for both, an anonymous reader's counted by their address; past it, a
429 page that says when to come back (Retry-After); served unthrottled while Redis is
unreachable."""

import logging
import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from contentpipeline import cache as app_cache
from contentpipeline import throttling

from ..test_redis_down import DEAD

pytestmark = pytest.mark.django_db


@pytest.fixture
def anon_rate(monkeypatch):
    def apply(rate: str) -> None:
        rates = {**throttling.AtomicRateThrottle.THROTTLE_RATES, "anon": rate}
        monkeypatch.setattr(throttling.AtomicRateThrottle, "THROTTLE_RATES", rates)

    return apply


def search(client: Client, **headers):
    return client.get("/search/", {"q": "compost"}, **headers)


def test_past_the_rate_a_reader_gets_a_429_page_saying_when_to_come_back(anon_rate):
    anon_rate("2/min")
    reader = Client()
    answers = [search(reader) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    refused = answers[-1]
    assert refused["Content-Type"].startswith("text/html")
    assert 1 <= int(refused["Retry-After"]) <= 60
    page = refused.content.decode()
    assert f"Try again in {refused['Retry-After']} seconds" in page
    assert 'name="q" value="compost"' in page  # the form, to search again later
    # Another address has its own budget.
    assert search(Client(REMOTE_ADDR="192.0.2.44")).status_code == 200


def test_the_page_and_the_search_api_draw_on_one_budget(anon_rate):
    anon_rate("2/min")
    assert search(Client()).status_code == 200
    assert APIClient().get("/api/posts/search", {"q": "compost"}).status_code == 200
    assert search(Client()).status_code == 429
    assert APIClient().get("/api/posts/search", {"q": "compost"}).status_code == 429


def test_a_forged_x_forwarded_for_does_not_give_a_reader_a_new_budget(anon_rate):
    anon_rate("2/min")
    codes = [search(Client(), HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_behind_one_proxy_each_address_it_saw_has_its_own_budget(anon_rate, settings):
    anon_rate("1/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    assert search(Client(**proxy), HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 200
    assert search(Client(**proxy), HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    assert search(Client(**proxy), HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 200


@pytest.fixture
def fresh_breaker():
    """The cache's breaker remembers a dead location for a few seconds, in the process:
    this test must find it closed, and leave it so for the tests after it."""
    app_cache._state["down_until"].clear()
    yield
    app_cache._state["down_until"].clear()


def test_with_redis_unreachable_the_page_is_served_unthrottled_at_once(
    anon_rate, settings, caplog, fresh_breaker
):
    anon_rate("2/min")
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"{DEAD}/1"}}
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        codes = [search(Client()).status_code for _ in range(4)]
        elapsed = time.monotonic() - started
    assert codes == [200] * 4
    assert "Throttling is off" in caplog.text
    assert elapsed < 5, elapsed
