"""The settings `make run` leaves in .data/stack.env for manage.py in another shell."""

import stat
import subprocess

from contentpipeline import stack


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
