"""The shape of the code, checked from its source: no import cycle among project
modules (imports inside functions count), no module, template or test named after
the wave of work that added it, and no run-kind string comparison outside
``training/kinds/`` (dispatch goes through the registry)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = ("cai_web", "constitutions", "training", "labelling")


def _modules() -> dict[str, Path]:
    out = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _type_checking_block(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.If)
        and isinstance(node.test, ast.Name | ast.Attribute)
        and "TYPE_CHECKING" in ast.unparse(node.test)
    )


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules ``name`` imports at run time: top level and inside functions.

    ``if TYPE_CHECKING:`` blocks are left out: they never run. Importing ``a.b.c``
    also runs ``a.b`` and ``a``, so the packages on the way count as edges too.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _type_checking_block(node):
            skip.update(id(n) for n in ast.walk(node))
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets.add(stem)
            targets.update(f"{stem}.{alias.name}" for alias in node.names)
    found: set[str] = set()
    for target in targets:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if candidate in modules and candidate != name:
                found.add(candidate)
    # A package's own parents run first; not an edge worth reporting as a cycle.
    return {t for t in found if not name.startswith(t + ".")}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    import sys

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_project_modules_counting_imports_inside_functions() -> None:
    cycles = find_cycles(import_graph())
    assert cycles == [], "\n".join(" ↔ ".join(c) for c in cycles)


def test_the_import_graph_sees_imports_inside_functions() -> None:
    graph = import_graph()
    # training.kinds.checks imports constitutions.sampler inside require_drawable.
    assert "constitutions.sampler" in graph["training.kinds.checks"]


WAVE_NAMES = re.compile(r"rlcai|_v2\b|_new\b|_old\b", re.IGNORECASE)


def test_no_module_template_or_test_is_named_after_a_wave_of_work() -> None:
    named = [
        str(p.relative_to(ROOT))
        for top in (*APPS, "templates", "tests", "bench", "static/js", "static/css")
        for p in (ROOT / top).rglob("*")
        if WAVE_NAMES.search(p.name) and "__pycache__" not in p.parts
    ]
    assert named == []


KIND_COMPARISON = re.compile(
    r"""kind\s*(==|!=)\s*["'](critique_revision|sft|labelling|dpo|reward|evaluation)["']"""
    r"""|kind\s+(not\s+)?in\s*[(\[{]\s*["'](critique_revision|sft|labelling|dpo|reward|evaluation)"""
    r"""|RunKind\."""
)


@pytest.mark.parametrize("top", [*APPS, "templates"])
def test_no_run_kind_string_comparison_outside_the_kind_modules(top: str) -> None:
    offenders = []
    for path in (ROOT / top).rglob("*"):
        if path.suffix not in (".py", ".html") or "migrations" in path.parts:
            continue
        if (ROOT / "training" / "kinds") in path.parents:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if KIND_COMPARISON.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_every_registered_kind_lives_in_its_own_module_under_training_kinds() -> None:
    from training.kinds.registry import KIND_MODULES, kinds

    for module, spec in zip(KIND_MODULES, kinds().values(), strict=True):
        assert module == f"training.kinds.{spec.name}"
        assert (ROOT / "training" / "kinds" / f"{spec.name}.py").is_file()
        assert (ROOT / "templates" / spec.template).is_file()
