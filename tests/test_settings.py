"""Configuration errors stop the start with a clear message; production settings pass
Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "p" * 20 + "-production-secret-key-for-the-check-only-" + "q" * 20,
    "ALLOWED_HOSTS": "content.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_settings_pass_the_deployment_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LLM_PROVIDER": "gpt-magic"}, "LLM_PROVIDER='gpt-magic' is unknown"),
        ({"IMAGE_PROVIDER": "paint"}, "IMAGE_PROVIDER='paint' is unknown"),
        ({"LLM_PROVIDER": "openai", "LLM_API_KEY": ""}, "needs LLM_API_KEY"),
        ({"THROTTLE_RATES": "anon=lots"}, "THROTTLE_RATES item 'anon=lots' is malformed"),
        ({"REDIS_URL": "http://localhost"}, "must be a redis://"),
        ({"PORT": "eighty"}, "PORT"),
        ({"DEBUG": "false", "SECRET_KEY": "short"}, "at least 50 characters"),
    ],
)
def test_a_bad_setting_fails_at_start_with_a_clear_message(env, message):
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.django_db
def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/tasks/{id}" in schema.content
    assert client.get("/api/docs/").status_code == 200
