"""The package's shape: every module imports, no import cycles (function-level imports included), and
``tattletail.jq`` stands alone. These are the checks a newcomer would run by hand."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import tattletail

PACKAGE = Path(tattletail.__file__).parent


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path) -> set[str]:
    """Every tattletail module ``name`` imports, anywhere in the file (module level, functions, methods),
    except under ``if TYPE_CHECKING:``, which never runs."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    known = modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("tattletail")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            if not base.startswith("tattletail"):
                continue
            for alias in node.names:  # ``from tattletail.x import y``: y may be a module itself
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return {m for m in found if m in known and m != name}


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages(tattletail.__path__, "tattletail.")]
    assert len(names) >= 40
    for name in names:
        importlib.import_module(name)


def test_no_import_cycles_even_through_function_level_imports() -> None:
    graph = {name: imports_of(name, path) for name, path in modules().items()}
    # a package's __init__ importing its own submodules is not a cycle; everything else is
    edges = {n: {m for m in deps if not m.startswith(n + ".")} for n, deps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in edges[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_jq_package_imports_nothing_else_of_tattletail() -> None:
    for name, path in modules().items():
        if name.startswith("tattletail.jq"):
            assert {m for m in imports_of(name, path) if not m.startswith("tattletail.jq")} == set(), name


@pytest.mark.parametrize("name", ["tattletail.handler", "tattletail.pipeline"])
def test_the_lambda_path_imports_no_command_line_module(name: str) -> None:
    graph = {n: imports_of(n, p) for n, p in modules().items()}
    seen, todo = set(), [name]
    while todo:
        for dep in graph[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    assert sorted(m for m in seen if m.startswith("tattletail.commands")) == []


def test_the_cycle_check_finds_a_function_level_cycle(tmp_path: Path) -> None:
    """The check itself can fail: a function-level import is seen."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tattletail.handler import lambda_handler\n")
    assert imports_of("tattletail.engine", module) == {"tattletail.handler"}
