"""The package layering: every import in rag/, ui/ and bench/ (function-local and TYPE_CHECKING ones included)
points down the pipeline, never up, and the first-party import graph has no cycle.

A module may import modules of its own layer or of a lower one. To add a module, put its name in the layer
where it belongs (a package name covers its modules); a module in no layer fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Lowest first.
LAYERS: list[list[str]] = [
    ["rag", "rag.types", "rag.errors", "rag.config"],
    ["rag.lang", "rag.numbers"],
    ["rag.intents", "rag.edition_checks"],
    ["rag.corpus"],
    ["rag.chunking"],
    ["rag.edition"],
    ["rag.model", "rag.embed", "rag.lexical"],
    ["rag.crosslingual", "rag.edition_index"],
    ["rag.index"],
    ["rag.retrieve"],
    ["rag.answer"],
    ["rag.followup", "rag.calibration"],
    ["rag.llm"],
    ["rag.pipeline"],
    ["rag.serialize", "rag.feedback", "rag.remote"],
    ["rag.eval"],
    ["ui"],
    ["rag.serve"],
    ["rag.cli"],
    ["bench"],
]
# Only the HTTP service mounts the chat UI: the library and the CLI do not know it exists.
MAY_IMPORT_UI = ("rag.serve", "ui")
FIRST_PARTY = ("rag", "ui", "bench")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for top in FIRST_PARTY for p in sorted((REPO / top).rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every first-party module ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from rag import eval` imports the module rag.eval; `from rag.x import name` imports rag.x.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
            found.add(node.module)
    known = modules()
    return {name for name in found if name in known and name.split(".")[0] in FIRST_PARTY}


def layer(name: str) -> int:
    """The layer of ``name``: the one naming it or, failing that, its closest package."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        for number, names in enumerate(LAYERS):
            if prefix in names:
                return number
    raise AssertionError(f"{name} is in no layer of tests/test_layers.py: add it where it belongs")


def test_every_module_has_a_layer() -> None:
    for name in modules():
        layer(name)


def test_imports_point_down_the_pipeline() -> None:
    upward = [
        f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
        for name, path in modules().items()
        for target in sorted(imports(path))
        if layer(target) > layer(name)
    ]
    assert upward == []


def test_only_the_service_mounts_the_ui() -> None:
    offenders = [
        f"{name} imports {target}"
        for name, path in modules().items()
        for target in imports(path)
        if target.split(".")[0] == "ui" and not name.startswith(MAY_IMPORT_UI)
    ]
    assert offenders == []


def test_the_library_imports_neither_tests_nor_benchmarks() -> None:
    for top in ("rag", "ui"):
        for path in (REPO / top).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
            assert not {n.split(".")[0] for n in names} & {"tests", "bench", "conftest"}, path


def test_the_import_graph_has_no_cycle() -> None:
    # Packages import nothing of their own (their __init__ is a docstring), so edges to them are dropped.
    graph = {name: {t for t in imports(path) if t != name} for name, path in modules().items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(target) :], target]))
            if target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_the_check_sees_function_local_imports(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text("def f():\n    from rag.serve.app import create_app\n    import rag.cli\n", encoding="utf-8")
    assert imports(source) == {"rag.serve.app", "rag.cli"}
    assert layer("rag.serve.app") > layer("rag.pipeline") > layer("rag.types")
