"""The package's import graph: no cycles, arrows that point down the layers, a test per module.

Every import of one ``course_utils`` module by another counts, those inside functions too: a
late import hides a cycle from Python, not from the next maintainer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from support import ROOT

PACKAGE = ROOT / "course_utils"

#: The package's layers, top first: a module imports only from its own layer or those below.
#: A new module goes in the layer of what it does (the test says when one is missing).
LAYERS: list[tuple[str, set[str]]] = [
    (
        "commands",
        {
            "grade",
            "grading.__main__",
            "grading.cli",
            "grading.report",
            "grading.lms_commands",
            "grading.service_command",
            "grading.flags",
            "publishing",
            "leaks",
        },
    ),
    ("the service", {"grading.service", "grading.service_grading"}),
    (
        "a class",
        {
            "grading.coordinator",
            "grading.executors",
            "grading.collect",
            "grading.handback",
            "grading.resume",
            "grading.similarity",
            "assignments",
        },
    ),
    (
        "a submission",
        {
            "grading.worker",
            "grading.nbrun",
            "grading.preprocessors",
            "grading.preprocessors.guarded_execute",
            "grading.preprocessors.judged_execute",
            "grading.preprocessors.restore_tests",
            "grading.preprocessors.hide_hidden_tests",
            "grading.judge",
            "grading.judge_server",
            "grading.judge_servers",
            "grading.nbrun_server",
            "grading.values",
        },
    ),
    (
        "services",
        {
            "grading.gradebook",
            "grading.cache",
            "grading.copies",
            "grading.submissions",
            "grading.changes",
            "grading.export",
            "grading.late",
            "grading.worksheet",
            "grading.lms",
            "grading.kernel_folders",
            "grading.isolation",
            "grading.rebuild",
            "grading.reuse",
            "grading.kernel_ready",
            "grading.configs",
            "grading.bridge",
            "grading.service_db",
            "grading.inbound",
            "grading.attempts",
        },
    ),
    (
        "the sandbox",
        {
            "grading.sandbox",
            "grading.namespaces",
            "grading.cgroups",
            "grading.watcher",
            "grading.judge_start",
        },
    ),
    (
        "foundations",
        {
            "grading",
            "grading.jobs",
            "grading.wire",
            "grading.bridge_kernel",
            "grading.archive",
            "grading.process",
            "grading.cores",
            "grading.regions",
            "grading.signals",
            "environment",
            "handin",
            "model",
            "plots",
            "data",
        },
    ),
    ("definitions", {"", "settings", "layout"}),
]


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``grading.cli`` for course_utils/grading/cli.py; "" for the package itself."""
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _inner(target: str, top: str) -> str | None:
    """``grading.cli`` for ``course_utils.grading.cli``; None outside the package."""
    if target == top or target.startswith(top + "."):
        return target.removeprefix(top).removeprefix(".")
    return None


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Each module of `package`, and the modules of `package` it imports (anywhere in it)."""
    modules = {module_name(p, package): p for p in package.rglob("*.py")}
    top = package.name
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:  # a module of a package, else a name of the package
                    sub = f"{node.module}.{alias.name}"
                    targets.append(sub if _inner(sub, top) in modules else node.module)
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            found |= {_inner(t, top) for t in targets if _inner(t, top) in modules}
        # a package's modules may import from the package itself (its __init__), not a cycle
        graph[name] = {
            m for m in found if m is not None and m != name and not name.startswith(f"{m}.")
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    package = tmp_path / "course_utils"
    (package / "grading").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "grading" / "__init__.py").write_text("from course_utils.grading.a import x\n")
    (package / "grading" / "a.py").write_text("def x():\n    from course_utils.grading import b\n")
    (package / "grading" / "b.py").write_text("from course_utils.grading.c import y\n")
    (package / "grading" / "c.py").write_text("import course_utils.grading.a\ny = 1\n")
    graph = import_graph(package)
    assert graph["grading.a"] == {"grading.b"}
    assert cycles(graph) == [["grading.a", "grading.b", "grading.c"]]


def test_every_module_has_a_layer():
    placed = set().union(*(members for _, members in LAYERS))
    modules = set(import_graph())
    assert modules - placed == set(), "place each new module in a layer of LAYERS"
    assert placed - modules == set(), "LAYERS names modules that are gone"


def test_imports_point_down_the_layers():
    rank = {module: i for i, (_, members) in enumerate(LAYERS) for module in members}
    upward = [
        f"{module} ({LAYERS[rank[module]][0]}) imports {target} ({LAYERS[rank[target]][0]})"
        for module, targets in import_graph().items()
        for target in targets
        if rank[target] < rank[module]
    ]
    assert upward == []


def _grading_modules() -> list[Path]:
    return sorted(
        p
        for p in (PACKAGE / "grading").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )


@pytest.mark.parametrize("module", _grading_modules(), ids=lambda p: p.stem)
def test_each_grading_module_has_fast_tests_of_its_own(module):
    tests = ROOT / "tests" / "unit" / f"test_{module.stem}.py"
    assert tests.is_file(), f"{module.relative_to(ROOT)} has no {tests.relative_to(ROOT)}"
    text = tests.read_text()
    names = {n.name for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)}
    assert any(n.startswith("test_") for n in names), f"{tests.name} has no test"
    dotted = "course_utils." + module_name(module)
    parent, _, stem = dotted.rpartition(".")
    defined = {  # what the module defines, which its package may export
        n.name
        for n in ast.parse(module.read_text()).body
        if isinstance(n, ast.FunctionDef | ast.ClassDef)
    }
    imported = re.findall(rf"from {re.escape(parent)} import \(?([^)\n]*)", text)
    names = {name.split(" as ")[0].strip() for line in imported for name in line.split(",")}
    assert dotted in text or names & (defined | {stem}), f"{tests.name} does not import {dotted}"
