"""Login lockout (django-axes): after LOGIN_FAILURE_LIMIT failed logins as one username
from one address, the admin's login form and the token endpoint refuse that username
from that address, the right password included, with 429 and Retry-After, until the
lockout ends. Other addresses, other usernames and the test client's logins are not
affected."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from .factories import UserFactory
from .test_settings import manage

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
LOGIN = reverse("admin:login") + "?next=/admin/"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def admin_login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


def token_login(client: APIClient, username: str, password: str):
    return client.post("/api/auth/token", {"username": username, "password": password},
                       format="json")  # fmt: skip


def test_the_admin_login_locks_out_after_repeated_failures_and_then_refuses_the_password():
    editor = UserFactory(editor=True)
    client = Client()
    failures = [admin_login(client, editor.username, "wrong") for _ in range(3)]
    assert [response.status_code for response in failures] == [200, 200, 429]
    assert "staff member or an editor" in failures[0].content.decode()

    refused = admin_login(client, editor.username, PASSWORD)
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(15 * 60)
    assert "too many login attempts" in refused.content.decode()
    # Not logged in: the admin still sends the client to its login page.
    assert client.get("/admin/").status_code == 302


def test_the_lockout_is_per_username_and_address():
    editor, colleague = UserFactory(editor=True), UserFactory(editor=True)
    for _ in range(3):
        admin_login(Client(), editor.username, "wrong")
    assert admin_login(Client(), editor.username, PASSWORD).status_code == 429

    elsewhere = Client(REMOTE_ADDR="192.0.2.10")
    assert admin_login(elsewhere, editor.username, PASSWORD).status_code == 302
    assert admin_login(Client(), colleague.username, PASSWORD).status_code == 302


def test_tries_during_the_lockout_do_not_extend_it_and_it_ends_after_the_cool_off():
    editor = UserFactory(editor=True)
    for _ in range(3):
        admin_login(Client(), editor.username, "wrong")
    attempt = AccessAttempt.objects.get(username=editor.username)
    locked_at = attempt.attempt_time
    assert admin_login(Client(), editor.username, "wrong again").status_code == 429
    attempt.refresh_from_db()
    assert (attempt.attempt_time, attempt.failures_since_start) == (locked_at, 3)

    # Sixteen minutes later (the attempt's time moved back rather than waiting).
    AccessAttempt.objects.filter(pk=attempt.pk).update(
        attempt_time=timezone.now() - timedelta(minutes=16)
    )
    assert admin_login(Client(), editor.username, PASSWORD).status_code == 302


def test_a_successful_login_clears_the_failures_counted_so_far():
    editor = UserFactory(editor=True)
    for _ in range(2):
        admin_login(Client(), editor.username, "wrong")
    assert admin_login(Client(), editor.username, PASSWORD).status_code == 302
    codes = [admin_login(Client(), editor.username, "wrong").status_code for _ in range(2)]
    assert codes == [200, 200]
    assert admin_login(Client(), editor.username, PASSWORD).status_code == 302


def test_the_token_endpoint_locks_out_too_and_says_when_to_come_back():
    user = UserFactory()
    client = APIClient()
    codes = [token_login(client, user.username, "wrong").status_code for _ in range(3)]
    assert codes == [400, 400, 429]
    refused = token_login(client, user.username, PASSWORD)
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(15 * 60)
    assert "too many login attempts" in refused.json()["detail"]
    assert "token" not in refused.json()

    elsewhere = APIClient(REMOTE_ADDR="192.0.2.11")
    assert token_login(elsewhere, user.username, PASSWORD).status_code == 200


def test_failures_at_the_token_endpoint_and_the_admin_count_together():
    editor = UserFactory(editor=True)
    token_login(APIClient(), editor.username, "wrong")
    token_login(APIClient(), editor.username, "wrong")
    assert admin_login(Client(), editor.username, "wrong").status_code == 429


def test_a_token_login_and_the_test_clients_logins_still_work():
    editor = UserFactory(editor=True)
    response = token_login(APIClient(), editor.username, PASSWORD)
    assert response.status_code == 200 and len(response.json()["token"]) == 40

    client = Client()
    assert client.login(username=editor.username, password=PASSWORD)
    assert client.get("/admin/").status_code == 200
    forced = Client()
    forced.force_login(editor)
    assert forced.get("/admin/").status_code == 200
    assert not AccessAttempt.objects.exists()


@pytest.mark.processes
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LOGIN_FAILURE_LIMIT": "0"}, "LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES"),
        ({"LOGIN_LOCKOUT_MINUTES": "-1"}, "LOGIN_FAILURE_LIMIT and LOGIN_LOCKOUT_MINUTES"),
        ({"NUM_PROXIES": "-1"}, "NUM_PROXIES"),
    ],
)
def test_bad_lockout_and_proxy_settings_fail_at_start(env, message):
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr
