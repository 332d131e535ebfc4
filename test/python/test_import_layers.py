"""The packages import in one direction only: a module may import its own layer and the layers below it.

Layers, lowest first (a module belongs to the longest prefix listed):
foundation (errors, kgs definitions, data, models, pruning, pipeline data) -> dialect (the op, its geometry,
tables, one-conv modules, reports) -> targets (data only) -> strategies -> codegen mechanisms -> passes ->
the pipeline runner -> the front end (import, folding) -> back ends -> the driver -> the command lines.
Imports inside functions and under ``TYPE_CHECKING`` count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the top-level folders install as these packages (pyproject.toml's package-dir)
FOLDERS = {"rt3d_mlir": "rt3d_mlir", "dialect": "rt3d_mlir.dialect", "passes": "rt3d_mlir.passes", "tools": "rt3d_mlir.tools"}

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", (
        "rt3d_mlir", "rt3d_mlir.errors", "rt3d_mlir.diagnostics", "rt3d_mlir.groups", "rt3d_mlir.kgs",
        "rt3d_mlir.attributes", "rt3d_mlir.entry_point", "rt3d_mlir.constants", "rt3d_mlir.ir_walk",
        "rt3d_mlir.outputs", "rt3d_mlir.progress", "rt3d_mlir.timing", "rt3d_mlir.parse_guard", "rt3d_mlir.plot",
        "rt3d_mlir.data", "rt3d_mlir.models", "rt3d_mlir.prune", "rt3d_mlir.pipelines",
    )),
    ("dialect", ("rt3d_mlir.dialect", "rt3d_mlir.conv_module", "rt3d_mlir.report")),
    ("targets", ("rt3d_mlir.targets",)),
    ("strategies", ("rt3d_mlir.targets.strategy", "rt3d_mlir.targets.gpu_strategy", "rt3d_mlir.targets.tuning_cache",
                    "rt3d_mlir.targets.algorithm_strategy")),
    ("codegen", ("rt3d_mlir.codegen",)),
    ("passes", ("rt3d_mlir.passes",)),
    ("pipeline", ("rt3d_mlir.pipeline",)),
    ("front end", ("rt3d_mlir.importer", "rt3d_mlir.onnx_import", "rt3d_mlir.fold")),
    ("back ends", ("rt3d_mlir.backends",)),
    ("driver", ("rt3d_mlir.compiler", "rt3d_mlir.dynamo", "rt3d_mlir.demo")),
    ("command lines", ("rt3d_mlir.cli", "rt3d_mlir.tools", "rt3d_mlir.arguments", "rt3d_mlir.prune.commands")),
]


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [*package.split("."), *path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (``from rt3d_mlir import kgs`` is rt3d_mlir.kgs)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    return {target for target in found if target in known and target != name}


def layer_of(name: str) -> int:
    best = max(((len(prefix), index) for index, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
                if name == prefix or name.startswith(prefix + ".")), default=None)
    assert best is not None, f"{name} is in no layer: add it to LAYERS"
    return best[1]


def backend_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "backends" and parts[2] != "base" else None


GRAPH = {name: imports(name, path, known) for known in [modules()] for name, path in known.items()}


def test_every_import_goes_down_the_layers() -> None:
    upward = [
        f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for name, targets in sorted(GRAPH.items()) for target in sorted(targets) if layer_of(target) > layer_of(name)
    ]
    assert upward == []


def test_back_ends_do_not_import_each_other() -> None:
    crossing = [f"{name} imports {target}" for name, targets in sorted(GRAPH.items()) for target in sorted(targets)
                if backend_of(name) and backend_of(target) and backend_of(name) != backend_of(target)]
    assert crossing == []


def test_the_import_graph_has_no_cycles() -> None:
    # a depth-first search that reports the first cycle it closes
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        stack.append(name)
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[name] = "done"
        stack.pop()
        return None

    for name in sorted(GRAPH):
        if name not in state:
            cycle = visit(name)
            assert cycle is None, " -> ".join(cycle)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    # the test above can fail: a pass importing the driver is reported
    source = tmp_path / "bad_pass.py"
    source.write_text("def run():\n    from rt3d_mlir.compiler import compile\n")
    known = {**modules(), "rt3d_mlir.passes.bad_pass": source}
    found = imports("rt3d_mlir.passes.bad_pass", source, known)
    assert found == {"rt3d_mlir.compiler"} and layer_of("rt3d_mlir.compiler") > layer_of("rt3d_mlir.passes.bad_pass")
