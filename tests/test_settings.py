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


@pytest.mark.processes
def test_production_settings_pass_the_deployment_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.processes
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
        ({"LLM_FALLBACKS": "offline,claude"}, "LLM_FALLBACKS names 'claude', which is unknown"),
        ({"IMAGE_FALLBACKS": "paint"}, "IMAGE_FALLBACKS names 'paint'"),
        ({"LLM_FALLBACKS": "openai", "LLM_API_KEY": ""}, "needs LLM_API_KEY"),
        ({"LLM_STAGE_MODELS": "drafting=gpt-4.1"}, "LLM_STAGE_MODELS: 'drafting=gpt-4.1' is not"),
        ({"LLM_STAGE_MODELS": "draft"}, "LLM_STAGE_MODELS: 'draft' is not name=value"),
        ({"LLM_PRICES": "my-model=0.2"}, "give the input and output price"),
        ({"LLM_PRICES": "my-model=a/b"}, "LLM_PRICES: 'my-model=a/b'"),
        ({"IMAGE_PRICES": "my-image=free"}, "IMAGE_PRICES: 'my-image=free'"),
        ({"TASK_MAX_COST": "lots"}, "TASK_MAX_COST='lots' is not a number"),
        ({"QUALITY_THRESHOLD": "101"}, "QUALITY_THRESHOLD is a score from 0 to 100"),
        ({"QUALITY_MAX_REFINEMENTS": "9"}, "QUALITY_MAX_REFINEMENTS is from 0 to 5"),
        ({"WEBHOOK_TIMEOUT": "0"}, "WEBHOOK_TIMEOUT is from 0 to 60 seconds"),
        ({"WEBHOOK_MAX_ATTEMPTS": "0"}, "WEBHOOK_MAX_ATTEMPTS is from 1 to 20"),
        ({"WEBHOOK_RETRY_DELAY": "-1"}, "WEBHOOK_RETRY_DELAY is from 0 to 600 seconds"),
        ({"WEBHOOKS_PER_USER": "0"}, "WEBHOOKS_PER_USER is at least 1"),
        ({"WEBHOOK_CONCURRENCY": "0"}, "WEBHOOK_CONCURRENCY is from 1 to 200 threads"),
        ({"EMAIL_URL": "mail://relay"}, "EMAIL_URL is not an e-mail URL"),
        ({"EMAIL_URL": "smtp://"}, "EMAIL_URL names no host"),
        ({"EMAIL_TIMEOUT": "0"}, "EMAIL_TIMEOUT is from 0 to 120 seconds"),
        ({"REVIEW_REMINDER_BEFORE": "soon"}, "REVIEW_REMINDER_BEFORE='soon' is not a duration"),
    ],
)
def test_a_bad_setting_fails_at_start_with_a_clear_message(env, message):
    result = manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.processes
def test_fallbacks_stage_models_and_prices_are_read_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.LLM_CHAIN, s.IMAGE_CHAIN, s.LLM_STAGE_MODELS, s.LLM_PRICES['my-model'], "
        "s.LLM_PRICES['gpt-4o'], s.TASK_MAX_COST)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "contentpipeline.settings",
           "LLM_PROVIDER": "openai", "LLM_API_KEY": "k", "LLM_FALLBACKS": "openai,offline",
           "IMAGE_FALLBACKS": "offline",
           "LLM_STAGE_MODELS": "draft=gpt-4.1,review=gpt-4.1-mini,check=o3",
           "LLM_PRICES": "my-model=0.20/0.80,gpt-4o=1/2", "TASK_MAX_COST": ""}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "('openai', 'offline') ('offline',) "
        "{'draft': 'gpt-4.1', 'review': 'gpt-4.1-mini', 'check': 'o3'} "
        "(Decimal('0.20'), Decimal('0.80')) (Decimal('1'), Decimal('2')) None"
    )


@pytest.mark.processes
@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "django.core.mail.backends.console.EmailBackend localhost 25 False 10.0 1:00:00"),
        (
            {"EMAIL_URL": "smtp+tls://robot:s3cret@mail.example.com:2525", "EMAIL_TIMEOUT": "4",
             "REVIEW_REMINDER_BEFORE": "30m"},
            "django.core.mail.backends.smtp.EmailBackend mail.example.com 2525 True 4.0 0:30:00",
        ),
    ],
)  # fmt: skip
def test_mail_is_configured_by_email_url_and_the_console_without_it(env, expected):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_TIMEOUT, "
        "s.REVIEW_REMINDER_BEFORE)"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "contentpipeline.settings", **env}
    for name in ("EMAIL_URL", "EMAIL_TIMEOUT", "REVIEW_REMINDER_BEFORE"):
        if name not in env:
            environment.pop(name, None)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == expected


@pytest.mark.django_db
def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/tasks/{id}" in schema.content
    assert client.get("/api/docs/").status_code == 200


def resolved(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_BROKER_URL, s.CACHES['default']['LOCATION'], "
        "s.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0])"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "contentpipeline.settings", **env}
    for role in ("CELERY_BROKER_URL", "CACHE_URL", "CHANNEL_LAYER_URL"):
        if role not in env:
            environment.pop(role, None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.processes
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://cache.internal:6379", "redis://cache.internal:6379/0 "
         "redis://cache.internal:6379/1 redis://cache.internal:6379/2"),
        ("redis://:pw@h:6379/3", "redis://:pw@h:6379/3 redis://:pw@h:6379/4 redis://:pw@h:6379/5"),
        ("unix:///run/redis.sock?db=7", "unix:///run/redis.sock?db=7 "
         "unix:///run/redis.sock?db=8 unix:///run/redis.sock?db=9"),
    ],
)  # fmt: skip
def test_the_database_number_in_redis_url_is_honoured(url, expected):
    result = resolved(REDIS_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.processes
def test_each_redis_role_can_have_a_url_of_its_own():
    result = resolved(REDIS_URL="redis://h:6379/0", CACHE_URL="redis://other:6380/9")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://h:6379/0", "redis://other:6380/9", "redis://h:6379/2"]


@pytest.mark.processes
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_URL": "redis://h:6379/14"}, "pick 0..13"),
        ({"REDIS_URL": "redis://h:6379/one"}, "use a number"),
        ({"CACHE_URL": "memcached://h"}, "CACHE_URL='memcached://h' must be a redis://"),
    ],
)
def test_a_redis_database_out_of_range_fails_at_start(env, message):
    result = resolved(**env)
    assert result.returncode != 0
    assert message in result.stderr
