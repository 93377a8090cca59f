"""What `make run` keeps in .data/: the settings it leaves in stack.env for manage.py in
another shell, its secret key, and its embedded Redis' password."""

import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from devtools import stack
from devtools.processes import stop


@pytest.mark.processes
def test_a_shell_reads_back_the_stacks_settings_exactly(tmp_path, monkeypatch):
    socket_url = "postgres://postgres@%2Fhome%2Fme%2F.data%2Fpg:5432/contentpipeline"
    monkeypatch.setenv("DATABASE_URL", socket_url)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:40123")
    monkeypatch.setenv("SECRET_KEY", 'k\'ey with $pace; `and` "quotes"')
    monkeypatch.delenv("CACHE_URL", raising=False)
    path = tmp_path / "stack.env"
    path.write_text("STALE=1\n")
    stack.write_shell_env(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shown = subprocess.run(
        ["bash", "-c", f'set -a; . "{path}"; set +a; env -0'],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    variables = dict(item.split("=", 1) for item in shown.split("\0") if "=" in item)
    assert variables["DATABASE_URL"] == socket_url
    assert variables["REDIS_URL"] == "redis://127.0.0.1:40123"
    assert variables["SECRET_KEY"] == 'k\'ey with $pace; `and` "quotes"'
    assert "CACHE_URL" not in variables and "STALE" not in variables


# --- make run's own secrets -----------------------------------------------------------------
# What this process does to a watched file, seen as it happens: Python raises an audit
# event before each open and chmod, and the hook notes the file's permission bits then.
_watched: dict[str, list[int]] = {}


def _note_modes(event: str, args: tuple) -> None:
    if not _watched or event not in ("open", "os.chmod") or not args:
        return
    try:
        name = os.fsdecode(args[0])
    except TypeError:  # a file descriptor
        return
    if name in _watched and os.path.exists(name):
        _watched[name].append(stat.S_IMODE(os.stat(name).st_mode))


sys.addaudithook(_note_modes)  # for the process's life: audit hooks cannot be removed


@pytest.fixture
def modes_of():
    """`modes_of(path)`: the permission bits `path` had at each open or chmod of it from
    now on, with the umask most machines have (files 0644 unless asked otherwise)."""
    umask = os.umask(0o022)

    def watch(path: Path) -> list[int]:
        return _watched.setdefault(str(path), [])

    yield watch
    os.umask(umask)
    _watched.clear()


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setattr(stack, "DATA", tmp_path)
    return tmp_path


def test_the_secret_key_file_is_never_readable_by_others_and_is_kept(data, modes_of, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    seen = modes_of(data / "secret_key")
    stack.ensure_secret_key()
    key = os.environ["SECRET_KEY"]
    assert len(key) >= 50 and (data / "secret_key").read_text() == key
    monkeypatch.delenv("SECRET_KEY")
    stack.ensure_secret_key()  # the next start
    assert os.environ["SECRET_KEY"] == key
    assert seen and all(mode == 0o600 for mode in seen), [oct(mode) for mode in seen]


def test_a_secret_key_file_left_readable_by_others_is_made_private(data, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    (data / "secret_key").write_text("an-older-key-" + "k" * 50 + "\n")
    (data / "secret_key").chmod(0o644)
    stack.ensure_secret_key()
    assert os.environ["SECRET_KEY"] == "an-older-key-" + "k" * 50
    assert stat.S_IMODE((data / "secret_key").stat().st_mode) == 0o600


@pytest.fixture
def embedded_redis(data):
    """make run's embedded Redis, its data and password under a .data/ of the test's."""
    process, url = stack.launch_redis(data / "redis", stack.embedded_redis_password())
    yield url
    stop(process, group=False, timeout=10)


@pytest.mark.processes
def test_the_embedded_redis_answers_only_clients_that_give_its_password(
    data, embedded_redis, modes_of
):
    seen = modes_of(data / "redis_password")
    password = urlsplit(embedded_redis).password
    assert password == (data / "redis_password").read_text() and len(password) >= 32
    assert seen and all(mode == 0o600 for mode in seen), [oct(mode) for mode in seen]
    stranger = redis.Redis(port=urlsplit(embedded_redis).port)
    with pytest.raises(redis.AuthenticationError):
        stranger.set("planted", "a pickle")
    assert redis.Redis.from_url(embedded_redis).ping()


@pytest.mark.processes
def test_the_next_start_keeps_the_password_and_the_data(data):
    first, url = stack.launch_redis(data / "redis", stack.embedded_redis_password())
    try:
        redis.Redis.from_url(url).set("kept", "yes")
    finally:
        stop(first, group=False, timeout=10)
    second, again = stack.launch_redis(data / "redis", stack.embedded_redis_password())
    try:
        assert urlsplit(again).password == urlsplit(url).password
        assert redis.Redis.from_url(again).get("kept") == b"yes"
    finally:
        stop(second, group=False, timeout=10)


# Django's cache, Celery's broker and the channel layer, each from REDIS_URL.
EVERY_CLIENT = """
import asyncio
from channels.layers import get_channel_layer
from django.core.cache import cache
from contentpipeline.celery import app

cache.set("stack-env-probe", "cached", 30)
assert cache.get("stack-env-probe") == "cached", "cache"
with app.connection_for_write() as connection:
    connection.ensure_connection(max_retries=1)

async def round_trip():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "probe"})
    return await layer.receive(channel)

assert asyncio.run(round_trip())["type"] == "probe", "channel layer"
print("every client connected")
"""


@pytest.mark.processes
def test_manage_py_in_another_shell_reaches_the_embedded_redis_through_stack_env(
    data, embedded_redis, monkeypatch
):
    monkeypatch.setenv("REDIS_URL", embedded_redis)
    for role in ("CELERY_BROKER_URL", "CACHE_URL", "CHANNEL_LAYER_URL"):
        monkeypatch.delenv(role, raising=False)
    stack.write_shell_env(data / "stack.env")
    shell = f'set -a; . "{data / "stack.env"}"; set +a; exec "$0" manage.py shell -c "$1"'
    result = subprocess.run(
        ["bash", "-c", shell, sys.executable, EVERY_CLIENT],
        env={"PATH": "/usr/bin:/bin"}, cwd=stack.ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every client connected" in result.stdout
