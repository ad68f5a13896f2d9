"""No import cycles in milenas_lib: every import is an edge (at module top, inside
functions, under ``if TYPE_CHECKING:``; importing ``a.b.c`` also imports the packages
``a.b`` and ``a``), and the graph of the package's modules must have no cycle.  The
layers hold: the paper's content (``paper``) and the figures (``plots``) sit below the
notebook runtime (``experiments``) and never reach the runs, the executor or the data."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "milenas_lib"


def module_files(package: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's ``__init__``)."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _imported(node: ast.AST, package_of: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            parent = package_of.split(".")[:len(package_of.split(".")) - node.level + 1]
            base = ".".join(parent + ([node.module] if node.module else []))
        return [base] + [f"{base}.{alias.name}" for alias in node.names]  # `from pkg import module`
    return []


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = module_files(package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        package_of = name if is_package else name.rpartition(".")[0]
        own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _imported(node, package_of):
                parts = target.split(".")
                # the target and every package above it that this module is not already inside
                for i in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:i])
                    if prefix in modules and prefix not in own_packages:
                        graph[name].add(prefix)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as ``[a, b, ..., a]``, or ``[]``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def test_milenas_lib_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 50 and "milenas_lib.config" in graph["milenas_lib.experiments.spec"]
    cycle = find_cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


def test_the_check_finds_a_cycle_through_a_function_or_type_checking_import(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .b import B\n")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")
    (package / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import f\n")
    (package / "c.py").write_text("from .sub.b import B\n")
    graph = import_graph(package)
    assert {"pkg.sub", "pkg.sub.b"} <= graph["pkg.c"]  # importing pkg.sub.b runs pkg/sub/__init__.py first
    assert find_cycle(graph) == ["pkg.a", "pkg.sub", "pkg.sub.b", "pkg.a"]
    (package / "sub" / "b.py").write_text("B = 1\n")
    assert find_cycle(import_graph(package)) == []


def test_the_config_and_the_name_tuples_import_no_algorithms():
    graph = import_graph(PACKAGE)
    assert graph["milenas_lib.names"] == set()
    assert not any(target.startswith("milenas_lib.algorithms") for target in graph["milenas_lib.config"])
    assert "milenas_lib.experiments.notebook" not in graph["milenas_lib.experiments.plan"]
    assert "milenas_lib.experiments.plan" not in graph["milenas_lib.experiments.notebook"]


#: What the paper's content and the figures must never reach: the notebook runtime and everything that runs.
RUNTIME = ("milenas_lib.experiments", "milenas_lib.loops", "milenas_lib.executor", "milenas_lib.records",
           "milenas_lib.data", "milenas_lib.algorithms", "milenas_lib.explorers", "milenas_lib.cli",
           "milenas_lib.reproduce")


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module importing ``start`` may import, ``start`` included."""
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def test_the_paper_and_the_figures_sit_below_the_notebook_runtime():
    graph = import_graph(PACKAGE)
    for layer in ("milenas_lib.paper", "milenas_lib.plots"):
        for module in (name for name in graph if _in(name, (layer,))):
            reached = sorted(m for m in reachable(graph, module) if _in(m, RUNTIME))
            assert not reached, f"{module} reaches {reached}"
    assert not any(_in(m, ("milenas_lib.plots",)) for m in reachable(graph, "milenas_lib.paper.claims_report"))
    assert "milenas_lib.paper.settings" in graph["milenas_lib.plots.search"]


def _loaded_after(code: str) -> list[str]:
    """The milenas_lib modules a fresh interpreter holds after running ``code``."""
    listing = "print(json.dumps(sorted(m for m in sys.modules if m.startswith('milenas_lib'))))"
    probe = f"import json, sys\n{code}\n{listing}"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          cwd=PACKAGE.parent, timeout=300)
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_figures_loads_no_run_code():
    """``import milenas_lib.plots`` (and the paper's names through the notebooks' ``ex.``) in a fresh
    interpreter: no search loop, executor, record store, data or update rule is loaded."""
    loaded = _loaded_after("import milenas_lib.plots\nimport milenas_lib.experiments as ex\n"
                           "ex.FIG2_SETTINGS, ex.records_frame, ex.PAPER_FIG5")
    assert "milenas_lib.plots" in loaded and "milenas_lib.paper.frames" in loaded
    heavy = ("milenas_lib.loops", "milenas_lib.executor", "milenas_lib.records", "milenas_lib.data",
             "milenas_lib.algorithms")
    assert [m for m in loaded if _in(m, heavy)] == []
    assert [m for m in loaded if _in(m, ("milenas_lib.experiments",))] == ["milenas_lib.experiments"]


def test_the_notebook_runtime_exports_lazily():
    """``ex.<name>`` imports its module on first use; every exported name resolves."""
    import milenas_lib.experiments as ex

    assert all(getattr(ex, name) is not None for name in ex.__all__)
    assert "open_notebook" in dir(ex)
    with pytest.raises(AttributeError, match="no_such_name"):
        ex.no_such_name
