"""No import circles in ``zoo/``, ``training/`` or ``demos/``.

A static walk of the source (``ast``, nothing is imported): every module's imports become
edges of a graph, and a strongly connected component (Tarjan) of two or more modules is a
circle. The test names each circle as ``a -> b -> a`` with the file:line of every edge.

What counts as an import (an edge from the module ``M`` that contains it):

* every ``import x`` / ``from x import y`` / ``from . import y`` anywhere in the file: at module
  level, inside a function or method, under ``try`` or ``if``. A lazy import is still an
  import; it only moves the circle from import time to call time. The one exception is a block
  under ``if TYPE_CHECKING:`` (``typing.TYPE_CHECKING`` too), which never runs; its ``else``
  branch does count. ``importlib.import_module("a.b")`` with a literal name counts; a name
  computed at run time is not seen.
* the target is the project module the statement names: ``import a.b.c`` -> ``a.b.c``;
  ``from a.b import c`` -> ``a.b.c`` when ``a/b/c.py`` (or ``a/b/c/``) exists, else ``a.b``
  (``c`` is a name defined in ``a/b/__init__.py``, so ``M`` needs that file to have run).
  A name that is no project module resolves to its longest prefix that is one; third-party
  imports (keras, numpy, ...) are no edges.
* importing ``a.b.c`` also runs the packages above it, ``a/__init__.py`` and
  ``a/b/__init__.py``: those implicit imports are edges too, except to ``M`` itself and to the
  packages that contain ``M``. Python runs ``M``'s own parent packages before ``M``, so
  reaching them again adds no dependency: ``zoo/models/__init__.py`` importing
  ``zoo.models.vgg``, which imports ``zoo.models.common``, is no circle, nor is
  ``zoo/models/common.py`` importing ``zoo.registry`` while ``zoo/__init__.py`` imports
  ``zoo.models``. But naming a containing package explicitly (``import zoo``,
  ``from zoo import build``, ``from . import helper`` in a plain module) does count: it needs
  the names that package's ``__init__`` defines, and that ``__init__`` may be half run.

So ``zoo/layers/checks.py`` importing ``zoo.models.common`` draws edges to ``zoo.models.common``
and to ``zoo.models`` (the package ``__init__``, which imports every model, which imports
``zoo.layers.checks`` again through ``zoo.models.common``), a real circle.
"""

from __future__ import annotations

import ast
import dataclasses
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "training", "demos")


@dataclasses.dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}  at {self.path}:{self.line}"


def project_modules(root: Path, packages) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` file under the packages."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _ImportCollector(ast.NodeVisitor):
    """``(module, name or None, line)`` of every import in a module (``from module import
    name``, ``import module``), skipping ``if TYPE_CHECKING:`` blocks."""

    def __init__(self, module: str, is_package: bool):
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, str | None, int]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(alias.name, None, node.lineno) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            anchor = ".".join(parts[:len(parts) - node.level + 1])
            base = f"{anchor}.{base}" if base else anchor
        self.found += [(base, alias.name, node.lineno) for alias in node.names]

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name == "import_module" and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and not node.args[0].value.startswith("."):
            self.found.append((node.args[0].value, None, node.lineno))
        self.generic_visit(node)


def _longest_module(name: str, modules) -> str | None:
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def import_edges(root: Path, packages) -> tuple[list[Edge], list[str]]:
    """The import graph's edges (the rule of this file's docstring) and any unparsable files."""
    modules = project_modules(root, packages)
    edges, errors = [], []
    for module, path in modules.items():
        rel = path.relative_to(root).as_posix()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        except SyntaxError as error:
            errors.append(f"{rel}: {error}")
            continue
        collector = _ImportCollector(module, path.name == "__init__.py")
        collector.visit(tree)
        # the module and the packages that contain it, which Python has run (or is running)
        ancestors = {".".join(module.split(".")[:end]) for end in range(1, module.count(".") + 2)}
        for name, item, line in collector.found:
            # ``from a.b import c``: the submodule a.b.c if there is one, else a name in a.b
            target = f"{name}.{item}" if item and f"{name}.{item}" in modules else \
                _longest_module(name, modules)
            if target is None:
                continue  # not a project module
            parts = target.split(".")
            implicit = {".".join(parts[:end]) for end in range(1, len(parts))} - ancestors
            for reached in sorted(implicit) + [target]:
                if reached != module:
                    edges.append(Edge(module, reached, rel, line))
    return edges, errors


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with two or more nodes, each sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _shortest_path(graph, start: str, goal: str, allowed: set[str]) -> list[str]:
    previous, queue = {start: None}, deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = []
            while node is not None:
                path.append(node)
                node = previous[node]
            return path[::-1]
        for succ in sorted(graph[node] & allowed):
            if succ not in previous:
                previous[succ] = node
                queue.append(succ)
    raise AssertionError(f"no path {start} -> {goal} inside its component")


def find_cycles(edges: list[Edge]) -> list[list[Edge]]:
    """The circles of the graph, each as its list of edges: inside every strongly connected
    component, for each edge no circle listed so far goes through, the shortest circle through
    it. Every edge that takes part in a circle is shown at least once, with its file:line."""
    first: dict[tuple[str, str], Edge] = {}
    for edge in sorted(edges, key=lambda e: (e.path, e.line)):
        first.setdefault((edge.source, edge.target), edge)
    graph: dict[str, set[str]] = {}
    for source, target in first:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    cycles, covered = [], set()
    for component in strongly_connected(graph):
        members = set(component)
        for source, target in sorted(first):
            if source not in members or target not in members or (source, target) in covered:
                continue
            ring = [source] + _shortest_path(graph, target, source, members)[:-1]
            start = ring.index(min(ring))
            ring = ring[start:] + ring[:start] + [ring[start]]  # from its first name, closed
            pairs = list(zip(ring, ring[1:]))
            covered.update(pairs)
            cycles.append([first[pair] for pair in pairs])
    return cycles


def describe_cycle(cycle: list[Edge]) -> str:
    names = " -> ".join([cycle[0].source] + [edge.target for edge in cycle])
    return "\n".join([names] + [f"    {edge}" for edge in cycle])


def cycles_of(package: str, root: Path = ROOT,
              packages=PACKAGES) -> tuple[list[list[Edge]], list[str]]:
    """The circles through a module of ``package``, and the files that do not parse."""
    edges, errors = import_edges(root, packages)
    inside = [cycle for cycle in find_cycles(edges)
              if any(e.source == package or e.source.startswith(package + ".") for e in cycle)]
    return inside, [error for error in errors if error.startswith(package + "/")]


def assert_no_cycles(package: str, root: Path = ROOT, packages=PACKAGES) -> None:
    cycles, errors = cycles_of(package, root, packages)
    assert not errors, "Files the walker cannot parse:\n" + "\n".join(errors)
    modules = sorted({edge.source for cycle in cycles for edge in cycle})
    assert not cycles, (f"{len(cycles)} import circles through {package}/ (lazy imports "
                        f"included; move the shared code down a level). The {len(modules)} "
                        f"modules in them: {', '.join(modules)}.\n\n"
                        + "\n\n".join(describe_cycle(cycle) for cycle in cycles))


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    assert_no_cycles(package)


def test_the_walker_sees_the_real_imports():
    """Guards against a walker that silently finds nothing."""
    pairs = {(edge.source, edge.target) for edge in import_edges(ROOT, PACKAGES)[0]}
    assert ("zoo", "zoo.models") in pairs
    assert ("zoo.models.common", "zoo.registry") in pairs
    assert ("zoo.models.segmentation.fcn", "zoo.models.classification") in pairs  # implicit
    assert ("zoo.models.common", "zoo") not in pairs  # an ancestor, reached implicitly


def write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_walker_finds_a_circle_through_a_lazy_import(tmp_path):
    # The shape of the circle zoo had: a layer helper lazily imports the model package's
    # shared module; importing that runs the model package, whose models import the layer.
    write_package(tmp_path, {
        "pkg/__init__.py": "from pkg import models\n",
        "pkg/layers/__init__.py": "",
        "pkg/layers/checks.py": "def check():\n    from pkg.models.common import near\n",
        "pkg/models/__init__.py": "from pkg.models import net  # noqa\n",
        "pkg/models/common.py": "def near():\n    pass\n",
        "pkg/models/net.py": "from pkg.layers.checks import check\n",
    })
    cycles, errors = cycles_of("pkg", tmp_path, ("pkg",))
    assert not errors
    assert [describe_cycle(cycle).splitlines() for cycle in cycles] == [[
        "pkg.layers.checks -> pkg.models -> pkg.models.net -> pkg.layers.checks",
        "    pkg.layers.checks -> pkg.models  at pkg/layers/checks.py:2",  # the lazy import
        "    pkg.models -> pkg.models.net  at pkg/models/__init__.py:1",
        "    pkg.models.net -> pkg.layers.checks  at pkg/models/net.py:1"]]
    with pytest.raises(AssertionError, match="1 import circles through pkg/"):
        assert_no_cycles("pkg", tmp_path, ("pkg",))


def test_walker_accepts_a_layered_package(tmp_path):
    # The package imports its submodules, which import siblings and a leaf (relatively, too);
    # a TYPE_CHECKING import back up is no edge.
    write_package(tmp_path, {
        "pkg/__init__.py": "from pkg import api, models\nfrom . import registry\n",
        "pkg/registry.py": "REGISTRY = {}\n",
        "pkg/api.py": "def build():\n    from pkg.registry import REGISTRY\n",
        "pkg/models/__init__.py": "from . import a, b  # noqa\n",
        "pkg/models/a.py": "import pkg.registry\nfrom pkg.models.b import f\n",
        "pkg/models/b.py": ("from typing import TYPE_CHECKING\nfrom ..registry import REGISTRY\n"
                            "if TYPE_CHECKING:\n    from pkg.models.a import X\n"
                            "def f():\n    import keras\n"),
    })
    assert_no_cycles("pkg", tmp_path, ("pkg",))
    pairs = {(e.source, e.target) for e in import_edges(tmp_path, ("pkg",))[0]}
    assert ("pkg.models.b", "pkg.registry") in pairs  # a relative import, resolved
    assert ("pkg.models.b", "pkg.models.a") not in pairs  # under TYPE_CHECKING
    assert ("pkg.models", "pkg.models.a") in pairs


def test_walker_counts_a_name_taken_from_a_containing_package(tmp_path):
    # ``from pkg import VERSION`` needs pkg/__init__.py to have run, and it is running.
    write_package(tmp_path, {
        "pkg/__init__.py": "from pkg import a\nVERSION = 1\n",
        "pkg/a.py": "def f():\n    from pkg import VERSION\n",
    })
    cycles, _ = cycles_of("pkg", tmp_path, ("pkg",))
    assert [describe_cycle(cycle).splitlines()[0] for cycle in cycles] == ["pkg -> pkg.a -> pkg"]
