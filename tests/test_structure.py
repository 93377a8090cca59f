"""The structure the code promises that import-linter cannot see: one owner for the
ContentTask rows (tasks/services/), read from the source with `ast`. The import rules
(the layers, tasks.pipeline below the rest of its app, no service module importing
devtools, no import cycles) are import-linter's contracts in pyproject.toml, which
`make test` and `make lint` run as `lint-imports`; the tests here show that each
contract breaks on the import it forbids."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["contentpipeline", "tasks", "publishing", "approvals", "notifications"]
TASK_OWNER = "tasks/services/"
WRITE_METHODS = {"save", "delete", "update", "create", "bulk_create", "bulk_update",
                 "get_or_create", "update_or_create", "select_for_update"}  # fmt: skip
TASK_FIELDS = {"status", "stage", "progress", "error", "feedback", "generation", "lease_id",
               "heartbeat_at", "dispatched_at", "lost_runs", "deleted_at", "completed_at",
               "started_at"}  # fmt: skip
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def source_files() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    )


def _names_a_task(node: ast.AST) -> bool:
    """`task`, `self.task`, `obj.task`, `content_task`: what holds a ContentTask."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name == "task" or name.endswith("_task")


def _rooted_at_content_task(node: ast.AST) -> bool:
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return isinstance(node, ast.Name) and node.id == "ContentTask"


def task_writes(relative: str, source: str) -> list[str]:
    """Lines that write ContentTask rows: a write method on a chain that starts at
    `ContentTask` (`ContentTask.objects.filter(...).update(...)`), `.save()` or
    `.delete()` on something named like a task, or a task's field assigned."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, owner = node.func.attr, node.func.value
            if method in WRITE_METHODS and _rooted_at_content_task(owner):
                found.append(f"{relative}:{node.lineno} ContentTask ... .{method}()")
            elif method in {"save", "delete"} and _names_a_task(owner):
                found.append(f"{relative}:{node.lineno} a task's .{method}()")
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr in TASK_FIELDS
                and _names_a_task(target.value)
            ):
                found.append(f"{relative}:{node.lineno} sets a task's {target.attr}")
    return found


def test_only_the_task_services_write_content_tasks():
    writes = [
        write
        for path in source_files()
        if not str(path.relative_to(ROOT)).startswith(TASK_OWNER)
        for write in task_writes(str(path.relative_to(ROOT)), path.read_text())
    ]
    assert writes == []


# The owner check passes on today's code; these show that it would not on bad code.


@pytest.mark.parametrize(
    "source",
    [
        "task.status = 'published'\ntask.save()",
        "ContentTask.objects.filter(pk=1).update(status='failed')",
        "ContentTask.objects.select_for_update().get(pk=1)",
        "ContentTask.objects.create(topic='x')",
        "self.task.delete()",
        "post.task.progress += 1",
    ],
)
def test_the_owner_check_catches_a_task_written_outside_its_services(source):
    assert task_writes("publishing/services.py", source) != []


@pytest.mark.parametrize(
    "source",
    [
        "ContentTask.objects.filter(status='approved').values_list('pk', flat=True)",
        "task = ContentTask.objects.alive().get(pk=1)\nstatus = task.status",
        "post.save()\nPost.objects.filter(task=task).update(title='x')",
        "task_mark_published(task_id=task.pk)",
    ],
)
def test_the_owner_check_lets_reads_and_other_models_writes_pass(source):
    assert task_writes("publishing/services.py", source) == []


# --- import-linter's contracts break on what they forbid -----------------------------------


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """The analysed packages and the contracts, copied where a test may spoil them."""
    copy = tmp_path_factory.mktemp("project")
    for package in [*APPS, "devtools"]:
        shutil.copytree(ROOT / package, copy / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


def lint_imports(cwd: Path) -> tuple[int, str]:
    done = subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"], cwd=cwd, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.mark.processes
def test_the_contracts_hold_for_the_code_as_it_is(project_copy):
    code, output = lint_imports(project_copy)
    assert code == 0, output
    assert "BROKEN" not in output and "5 kept, 0 broken" in output


@pytest.mark.processes
@pytest.mark.parametrize(
    ("relative", "line", "contract"),
    [
        ("tasks/queue.py", "def f():\n    from approvals import services", "Layers"),
        ("publishing/services.py", "import approvals.models", "Layers"),
        ("contentpipeline/errors.py", "from tasks.models import Status", "Layers"),
        ("tasks/queue.py", "import contentpipeline.urls", "the project's wiring"),
        ("tasks/pipeline/stages/draft.py", "from tasks.models import ContentTask",
         "tasks.pipeline"),
        ("tasks/pipeline/__init__.py", "import tasks.services", "tasks.pipeline"),
        ("contentpipeline/settings/celery.py", "def f():\n    import devtools.stack",
         "development tools"),
        ("tasks/models.py", "def f():\n    from tasks import selectors", "import cycles"),
    ],
)  # fmt: skip
def test_a_forbidden_import_breaks_its_contract(project_copy, relative, line, contract):
    path = project_copy / relative
    original = path.read_text()
    path.write_text(f"{original}\n{line}  # noqa\n")
    try:
        code, output = lint_imports(project_copy)
    finally:
        path.write_text(original)
    # (An import from a higher module may close a cycle too: other contracts may break.)
    broken = [row for row in output.splitlines() if " BROKEN" in row]
    assert code == 1, output
    assert any(contract in row for row in broken), output
