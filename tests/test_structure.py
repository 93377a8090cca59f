"""The structure the code promises: layers that only point down (the generation domain,
tasks.pipeline, below the rest of its app), no module of the service importing the
development tools (devtools/), no import circles, and one owner for the ContentTask
rows (tasks/services/). Read from the source with `ast`, so a lazy import inside a
function counts like any other."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Bottom to top: a module may import its own layer and those below it. A module's layer
# is the longest of these its name starts with: tasks.pipeline knows nothing else of tasks.
LAYERS = ["contentpipeline", "tasks.pipeline", "tasks", "publishing", "approvals"]
APPS = ["contentpipeline", "tasks", "publishing", "approvals"]
# The project's wiring, which puts every app together.
WIRING = {"contentpipeline/urls.py", "contentpipeline/asgi.py", "contentpipeline/celery.py"}
# `make run`'s supervisor and the process helpers of the tests and benches: the service
# runs without them (the image leaves them out).
DEVTOOLS = "devtools"
TASK_OWNER = "tasks/services/"
WRITE_METHODS = {"save", "delete", "update", "create", "bulk_create", "bulk_update",
                 "get_or_create", "update_or_create", "select_for_update"}  # fmt: skip
TASK_FIELDS = {"status", "stage", "progress", "error", "feedback", "generation", "lease_id",
               "heartbeat_at", "dispatched_at", "lost_runs", "deleted_at", "completed_at",
               "started_at"}  # fmt: skip


def source_files() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module the code imports, relative imports resolved, `from pkg import
    name` counted as `pkg.name` too (it may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def layer_of(module: str) -> int | None:
    """The index in LAYERS of the module's layer; None for a module of none (a library)."""
    found = [
        i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(f"{layer}.")
    ]
    return max(found, key=lambda i: len(LAYERS[i])) if found else None


def layer_violations(relative: str, source: str) -> list[str]:
    """Imports of a layer above the module's own."""
    if relative in WIRING:
        return []
    path = ROOT / relative
    module = module_name(path)
    own = layer_of(module)
    imports = imported_modules(ast.parse(source), module, path.name == "__init__.py")
    return sorted(f"{relative} imports {name}" for name in imports if (layer_of(name) or 0) > own)


def devtools_imports(relative: str, source: str) -> list[str]:
    """Imports of the development tools."""
    path = ROOT / relative
    imports = imported_modules(ast.parse(source), module_name(path), path.name == "__init__.py")
    return sorted(
        f"{relative} imports {name}"
        for name in imports
        if name == DEVTOOLS or name.startswith(f"{DEVTOOLS}.")
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


def test_every_app_imports_only_its_own_layer_and_those_below():
    violations = [
        violation
        for path in source_files()
        for violation in layer_violations(str(path.relative_to(ROOT)), path.read_text())
    ]
    assert violations == []


def test_no_module_of_the_service_imports_the_development_tools():
    imports = [
        found
        for path in source_files()
        for found in devtools_imports(str(path.relative_to(ROOT)), path.read_text())
    ]
    assert imports == []


def test_no_modules_of_the_project_import_each_other_in_a_circle():
    files = {module_name(path): path for path in source_files()}
    graph = {
        module: {
            name
            for name in imported_modules(
                ast.parse(path.read_text()), module, path.name == "__init__.py"
            )  # fmt: skip
            if name in files and name != module
        }
        for module, path in files.items()
    }
    # A package's __init__ re-exporting its own submodules is not a circle.
    for module in graph:
        graph[module] = {name for name in graph[module] if not module.startswith(f"{name}.")}
    cycles = find_cycles(graph)
    assert cycles == []


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_only_the_task_services_write_content_tasks():
    writes = [
        write
        for path in source_files()
        if not str(path.relative_to(ROOT)).startswith(TASK_OWNER)
        for write in task_writes(str(path.relative_to(ROOT)), path.read_text())
    ]
    assert writes == []


# The checks above pass on today's code; these show that they would not on bad code.


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("tasks/pipeline/stages/draft.py", "from tasks.models import ContentTask"),
        ("tasks/pipeline/stages/research.py", "from ...selectors import task_result"),
        ("tasks/pipeline/__init__.py", "import tasks.services"),
        ("tasks/pipeline/providers/openai.py", "from publishing.selectors import post_search"),
        ("tasks/queue.py", "def f():\n    from approvals.services import approval_decide"),
        ("publishing/services.py", "import approvals.models"),
        ("tasks/admin.py", "from approvals import services"),
    ],
)
def test_the_layer_check_catches_an_import_from_above(relative, source):
    assert layer_violations(relative, source) != []


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("approvals/services.py", "from tasks.services import task_approve\nimport publishing"),
        ("tasks/runner.py", "from tasks.pipeline.stages import StageJob\nfrom .models import X"),
        ("tasks/pipeline/stages/draft.py", "from ..text import word_count\nimport contentpipeline"),
        ("contentpipeline/urls.py", "from approvals.api import TaskApprovalView"),
    ],
)
def test_the_layer_check_lets_an_import_from_below_or_the_wiring_pass(relative, source):
    assert layer_violations(relative, source) == []


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("tasks/queue.py", "from devtools.processes import worker_command"),
        ("contentpipeline/settings/celery.py", "def f():\n    import devtools.stack"),
        ("contentpipeline/__init__.py", "from devtools import stack"),
    ],
)
def test_the_devtools_check_catches_an_import_of_the_development_tools(relative, source):
    assert devtools_imports(relative, source) != []


def test_the_devtools_check_lets_the_projects_own_modules_pass():
    source = "from contentpipeline.queues import webhook_queue\nimport tasks.devtools_like"
    assert devtools_imports("tasks/queue.py", source) == []


def test_the_circle_check_finds_two_modules_importing_each_other():
    graph = {"tasks.queue": {"tasks.tasks"}, "tasks.tasks": {"tasks.queue"}, "tasks.a": set()}
    assert find_cycles(graph) == [["tasks.queue", "tasks.tasks"]]


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
