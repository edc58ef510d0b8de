"""docs/DESIGN.md stays true to the code: every repository path and every ``zoo.`` name it
writes exists, and its Python example runs (ImageNet downloads swapped for random weights,
since tests never use the network)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "DESIGN.md"
TOP_LEVEL = ("zoo", "training", "demos", "tests", "docs", ".ci")
# the description column of the layout tree; text left of it names files and folders
DESCRIPTION_COLUMN = 26


def _text() -> str:
    return DESIGN.read_text()


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced code block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)


def _layout_tree(text: str) -> str:
    """The untagged code block under "## Layout": the repository tree."""
    section = text.split("## Layout", 1)[1]
    language, body = _fenced_blocks(section)[0]
    assert language == "", "the Layout section should open with the tree"
    return body


def tree_paths(tree: str) -> list[str]:
    """Repository paths named by the layout tree.

    A line's name column (left of the description column, indented two spaces a level)
    holds one or more names; a name ending in ``/`` is a folder that the lines indented
    below it live in. In a line's description, ``name.py`` and ``name/`` tokens are files
    of the line's folder (or of the folder that holds the line's file).
    """
    paths: list[str] = []
    stack: list[str] = []  # folders of the current line's ancestors
    current = ""           # the folder that the current line's description speaks of
    for line in tree.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent < DESCRIPTION_COLUMN:
            names_part, _, description = line.strip().partition("  ")
            level = indent // 2
            stack = stack[:level]
            parent = "".join(stack)
            names = names_part.split()
            paths.extend(parent + name for name in names)
            folders = [name for name in names if name.endswith("/")]
            if folders:
                stack.append(folders[0])
            current = parent + folders[0] if folders else parent
        else:
            description = line
        for token in re.findall(r"(?<![\w./-])(\w+\.py|\w+/)(?![\w/])", description):
            paths.append(current + token)
    return paths


def backticked_paths(text: str) -> list[str]:
    """Backticked repository paths in the prose: ``dir/...`` under a top-level folder."""
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    found = []
    for token in re.findall(r"`([^`\s]+)`", prose):
        if "/" in token and "://" not in token and not re.search(r"[<>*{}$~]", token) \
                and token.split("/", 1)[0] in TOP_LEVEL:
            found.append(token)
    return found


def dotted_names(text: str, package: str) -> list[str]:
    """``package.a.b`` names anywhere in the page (prose and code)."""
    return sorted(set(re.findall(rf"(?<![\w.]){package}(?:\.[A-Za-z_]\w*)+", text)))


def _missing(paths: list[str]) -> list[str]:
    return [p for p in paths if not (ROOT / p).exists()
            or (p.endswith("/") and not (ROOT / p).is_dir())]


def test_layout_tree_names_only_what_exists():
    paths = tree_paths(_layout_tree(_text()))
    # the parser reads the tree: nested names and description tokens both come out
    assert {"zoo/models/sized.py", "zoo/layers/checks.py", "training/tasks/base.py",
            "training/bench/timing.py", "demos/cli.py", "app.py"} <= set(paths)
    assert not _missing(paths), f"docs/DESIGN.md's layout names missing paths: {_missing(paths)}"


def test_backticked_paths_exist():
    paths = backticked_paths(_text())
    assert "zoo/models/sized.py" in paths
    assert not _missing(paths), f"docs/DESIGN.md names missing paths: {_missing(paths)}"


def test_zoo_names_resolve():
    import zoo

    names = dotted_names(_text(), "zoo")
    assert "zoo.load" in names and "zoo.embeddings" in names
    unresolved = []
    for name in names:
        obj = zoo
        for part in name.split(".")[1:]:
            try:
                obj = getattr(obj, part)
            except AttributeError:
                unresolved.append(name)
                break
    assert not unresolved, f"docs/DESIGN.md names what zoo does not have: {unresolved}"


def _module_of(parts: list[str]):
    """The longest module prefix of ``parts`` and its spec, found without importing it (only
    the packages above it are imported: ``demos`` without Gradio)."""
    spec = importlib.util.find_spec(parts[0])
    depth = 1
    while spec is not None and depth < len(parts) and spec.submodule_search_locations:
        sub = importlib.util.find_spec(".".join(parts[:depth + 1]))
        if sub is None:
            break
        spec, depth = sub, depth + 1
    return spec, depth


def _defines(spec, attribute: str) -> bool:
    """Whether a module's source defines or imports ``attribute`` at top level."""
    source = Path(spec.origin).read_text()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
        else:
            continue
        if attribute in names:
            return True
    return False


def _resolves(name: str) -> bool:
    parts = name.split(".")
    spec, depth = _module_of(parts)
    rest = parts[depth:]
    return spec is not None and (not rest or (len(rest) == 1 and _defines(spec, rest[0])))


@pytest.mark.parametrize("package", ["training", "demos"])
def test_training_and_demos_names_resolve(package):
    names = dotted_names(_text(), package)
    assert names, f"docs/DESIGN.md should name {package} modules"
    unresolved = [name for name in names if not _resolves(name)]
    assert not unresolved, f"docs/DESIGN.md names what {package} does not have: {unresolved}"


def test_checks_can_fail():
    """The checks above see a bogus path or name (so a passing run means something)."""
    bogus = ("`zoo/models/nothing_here.py` and `training/no_such_dir/` and "
             "`zoo.no_such_function` and `training.engine.no_such_thing`")
    assert _missing(backticked_paths(bogus)) == ["zoo/models/nothing_here.py",
                                                 "training/no_such_dir/"]
    tree = "zoo/\n  models/                 bogus.py and real ones: sized.py\n"
    assert _missing(tree_paths(tree)) == ["zoo/models/bogus.py"]
    import zoo
    assert not hasattr(zoo, dotted_names(bogus, "zoo")[0].split(".")[1])
    assert not _resolves("training.engine.no_such_thing") and _resolves("training.engine.fit")
    assert not _resolves("training.no_such_module") and _resolves("demos.app.TABS")


def test_design_example_runs():
    blocks = [body for language, body in _fenced_blocks(_text()) if language == "python"]
    assert blocks, "docs/DESIGN.md should show the public API in a python block"
    namespace: dict = {}
    for body in blocks:
        code = body.replace('weights="imagenet"', "weights=None")
        exec(compile(code, "docs/DESIGN.md", "exec"), namespace)  # noqa: S102
    assert namespace["masks"].shape == (1, 100, 100, 3)  # pad=True: the input's own size
    assert namespace["b"].output_shape == (None, 2048)
    assert namespace["m"].output_shape == (None, 10)
