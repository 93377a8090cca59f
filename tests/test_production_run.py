"""`DEBUG=false make run`: production settings served over plain http on this machine.

The web server is started the way `make run` starts it (devtools.stack: its
preparations, then web_command), with DEBUG off and nothing else set, and used as an
editor's browser would: the admin's login form, the login, the admin index, the API's
docs, and every static file those pages link. (`manage.py check --deploy` with the
settings a deployment keeps: tests/test_settings.py.)"""

import os
import re
import time
from html import unescape
from unittest import mock

import httpx2
import pytest
from django.conf import global_settings

from devtools import stack
from devtools.processes import free_port, spawn, stop, web_command

from .conftest import session_name, wait_for_sessions_to_end
from .factories import UserFactory

PASSWORD = "a-long-test-password"
STATIC_LINK = re.compile(r"""(?:href|src)=["'](/static/[^"']+)["']""")


def static_links(page: str) -> set[str]:
    return {unescape(link) for link in STATIC_LINK.findall(page)}


@pytest.fixture
def production_run(tmp_path, monkeypatch, django_db_blocker):
    """daphne on a free port as `DEBUG=false make run` starts it, on the test database,
    with .data/ and the collected static files in the test's own directory. What make
    run's steps put in the environment is taken out again after the test."""
    from django.db import connection

    app_name = session_name("production-server")
    monkeypatch.setattr(stack, "DATA", tmp_path)
    with mock.patch.dict(os.environ):
        os.environ.update(
            DEBUG="false",
            SECRET_KEY="r" * 30 + "-a-production-secret-for-make-run-" + "s" * 30,
            STATIC_ROOT=str(tmp_path / "staticfiles"),
            DATABASE_NAME=connection.settings_dict["NAME"],
            PGAPPNAME=app_name,
        )
        for name in (*stack.PLAIN_HTTP, "ALLOWED_HOSTS", "STATIC_MANIFEST", "LOG_FORMAT"):
            os.environ.pop(name, None)
        stack.prepare()
        stack.prepare_web()
        port = free_port()
        log_path = tmp_path / "web.log"
        process = spawn(web_command("127.0.0.1", port), log_path=log_path, env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                httpx2.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        # As a browser on this machine addresses it (ALLOWED_HOSTS as it comes).
        yield f"http://localhost:{port}"
    finally:
        stop(process)
        wait_for_sessions_to_end(django_db_blocker, app_name)


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_with_debug_off_make_run_serves_the_admin_login_and_the_api_docs_over_http(
    production_run, settings, tmp_path
):
    # The server hashes passwords as production does, and checks them the same way.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    editor = UserFactory(editor=True, is_staff=True)
    browser = httpx2.Client(base_url=production_run, timeout=30)

    form = browser.get("/admin/login/", params={"next": "/admin/"})
    assert form.status_code == 200, form.text[:2000]
    assert "strict-transport-security" not in form.headers
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    logged_in = browser.post(
        "/admin/login/?next=/admin/",
        data={"username": editor.username, "password": PASSWORD,
              "csrfmiddlewaretoken": token, "next": "/admin/"},
        headers={"Origin": production_run, "Referer": str(form.url)},
    )  # fmt: skip
    assert logged_in.status_code == 302, logged_in.text[:2000]
    assert logged_in.headers["Location"] == "/admin/"
    index = browser.get("/admin/")
    assert index.status_code == 200 and "Review desk and operations" in index.text
    assert editor.username in index.text and "Log out" in index.text

    docs = browser.get("/api/docs/")
    assert docs.status_code == 200, docs.text[:2000]
    links = sorted({*static_links(form.text), *static_links(index.text), *static_links(docs.text)})
    assert any("swagger-ui" in link for link in links)
    assert any("admin/css" in link for link in links)
    for link in links:
        # Hashed names from the manifest, as the image serves them.
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", link), link
        assert browser.get(link).status_code == 200, link

    # The next start finds the files collected from the same sources: it leaves them.
    manifest = tmp_path / "staticfiles" / "staticfiles.json"
    collected = manifest.stat().st_mtime_ns
    with mock.patch.dict(os.environ, DEBUG="false", STATIC_ROOT=str(manifest.parent)):
        stack.collect_static()
    assert manifest.stat().st_mtime_ns == collected
