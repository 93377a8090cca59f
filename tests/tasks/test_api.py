from decimal import Decimal

import pytest

from tasks.models import ContentTask

from .factories import ContentTaskFactory

pytestmark = pytest.mark.django_db

VALID = {"topic": "Composting in small apartments", "keywords": ["worm bin", "bokashi"]}


def test_creating_a_task_stores_it_pending_with_contract_defaults(integrator_client, integrator):
    response = integrator_client.post("/api/tasks", VALID, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    task = ContentTask.objects.get(pk=body["id"])
    assert task.created_by == integrator and task.status == "pending"
    assert body["status"] == "pending" and body["stage"] == "research" and body["progress"] == 0
    assert body["target_length"] == 800 and body["priority"] == "normal"
    assert body["generate_image"] is True and body["result"] is None and body["post"] is None
    assert body["keywords"] == ["worm bin", "bokashi"]


def test_sources_a_cost_ceiling_and_the_cache_choice_are_stored_and_shown(integrator_client):
    payload = {**VALID, "sources": ["https://example.com/a", " https://example.com/a ",
                                    "http://example.org/b?x=1"],
               "max_cost": "0.25", "use_cache": False}  # fmt: skip
    body = integrator_client.post("/api/tasks", payload, format="json").json()
    assert body["sources"] == ["https://example.com/a", "http://example.org/b?x=1"]
    assert (body["max_cost"], body["use_cache"]) == ("0.2500", False)
    task = ContentTask.objects.get(pk=body["id"])
    assert task.max_cost == Decimal("0.25") and task.use_cache is False


def test_without_them_a_task_has_no_sources_no_own_ceiling_and_uses_the_cache(integrator_client):
    body = integrator_client.post("/api/tasks", VALID, format="json").json()
    assert (body["sources"], body["max_cost"], body["use_cache"]) == ([], None, True)


def test_a_trailing_slash_is_optional(integrator_client):
    assert integrator_client.post("/api/tasks/", VALID, format="json").status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("topic", None),
        ("topic", "ab"),
        ("topic", "x" * 301),
        ("keywords", [f"k{i}" for i in range(21)]),
        ("keywords", "not a list"),
        ("keywords", [""]),
        ("task_type", "poem"),
        ("tone", "angry"),
        ("style", "haiku"),
        ("target_length", 99),
        ("target_length", 5001),
        ("target_length", "long"),
        ("generate_image", "maybe"),
        ("quality_preference", "best"),
        ("priority", "asap"),
        ("sources", [f"https://example.com/{i}" for i in range(6)]),
        ("sources", ["ftp://example.com/file"]),
        ("sources", ["javascript:alert(1)"]),
        ("sources", ["https://exa\x00mple.com/"]),
        ("sources", ["https://example.com/" + "a" * 2000]),
        ("sources", "https://example.com/"),
        ("max_cost", -1),
        ("max_cost", "lots"),
        ("max_cost", 10**9),
        ("use_cache", "perhaps"),
    ],
)
def test_each_bad_field_answers_400_and_stores_nothing(integrator_client, field, value):
    payload = {**VALID, field: value}
    if value is None:
        payload.pop(field)
    response = integrator_client.post("/api/tasks", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert ContentTask.objects.count() == 0


def test_a_malformed_json_body_answers_400(integrator_client):
    response = integrator_client.post(
        "/api/tasks", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert ContentTask.objects.count() == 0


def test_no_token_answers_401(anon_client):
    assert anon_client.post("/api/tasks", VALID, format="json").status_code == 401
    assert anon_client.get("/api/tasks").status_code == 401
    assert ContentTask.objects.count() == 0


def test_a_wrong_token_answers_401(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert anon_client.get("/api/tasks").status_code == 401


def test_a_token_is_issued_for_valid_credentials(anon_client, integrator):
    response = anon_client.post(
        "/api/auth/token",
        {"username": integrator.username, "password": "a-long-test-password"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["token"]
    bad = anon_client.post(
        "/api/auth/token", {"username": integrator.username, "password": "wrong"}, format="json"
    )
    assert bad.status_code == 400


def test_integrators_list_only_their_own_tasks(integrator_client, integrator):
    mine = ContentTaskFactory(created_by=integrator)
    ContentTaskFactory()
    body = integrator_client.get("/api/tasks").json()
    assert body["count"] == 1 and body["results"][0]["id"] == str(mine.pk)
    assert {"count", "next", "previous", "results"} <= body.keys()


def test_editors_list_every_task(editor_client):
    ContentTaskFactory.create_batch(3)
    assert editor_client.get("/api/tasks").json()["count"] == 3


def test_the_list_filters_by_status_and_priority(editor_client):
    ContentTaskFactory(priority="urgent")
    ContentTaskFactory(priority="low", status="failed")
    assert editor_client.get("/api/tasks?priority=urgent").json()["count"] == 1
    assert editor_client.get("/api/tasks?status=failed").json()["count"] == 1
    assert editor_client.get("/api/tasks?status=bogus").status_code == 400


def test_another_users_task_answers_404(integrator_client):
    other = ContentTaskFactory()
    assert integrator_client.get(f"/api/tasks/{other.pk}").status_code == 404
    assert integrator_client.get("/api/tasks/not-a-uuid").status_code == 404


def test_a_soft_deleted_task_answers_404(integrator_client, integrator):
    from django.utils import timezone

    task = ContentTaskFactory(created_by=integrator, deleted_at=timezone.now())
    assert integrator_client.get(f"/api/tasks/{task.pk}").status_code == 404


def test_task_creation_is_throttled_per_user(integrator_client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    rates = {**ScopedRateThrottle.THROTTLE_RATES, "task_create": "2/min"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    codes = [integrator_client.post("/api/tasks", VALID, format="json").status_code
             for _ in range(3)]  # fmt: skip
    assert codes == [201, 201, 429]
    assert ContentTask.objects.count() == 2
