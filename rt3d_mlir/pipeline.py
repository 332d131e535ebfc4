"""Pipelines that mix our Python passes with upstream MLIR passes: parsing, building, running.

MLIR's textual pipeline parser cannot name a Python pass, so a pipeline such as
``builtin.module(sparse3d-from-linalg{group-shape=8x4}, canonicalize, func.func(cse))``
is split here into its top-level elements: ours become Python passes, runs of
upstream elements are handed to MLIR as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch_mlir import ir, passmanager

from rt3d_mlir import passes
from rt3d_mlir.dialect import load_sparse3d
from rt3d_mlir.errors import UserError
from rt3d_mlir.passes import ModulePass
from rt3d_mlir.pipelines import PIPELINES

_ELEMENT_NAME = re.compile(r"\s*([A-Za-z_][\w.-]*)\s*(.*)\Z", re.DOTALL)


@dataclass(frozen=True)
class UpstreamStep:
    """Upstream pipeline text, e.g. ``canonicalize`` or ``func.func(cse)``."""

    text: str


Step = ModulePass | UpstreamStep


def split_top_level(text: str) -> list[str]:
    """Splits at the commas that are not inside (), {} or []."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
            if depth < 0:
                raise UserError(f"unbalanced ')' in pass pipeline '{text}'")
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    if depth != 0:
        raise UserError(f"unbalanced '(' or '{{' in pass pipeline '{text}'")
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _check_upstream(element: str) -> None:
    for name in re.findall(r"[A-Za-z_][\w.-]*", element):
        if passes.is_pass(name) or name in PIPELINES:
            raise UserError(f"'{name}' runs on the whole module: put it at the top level of the pipeline, not in '{element}'")
    try:
        passmanager.PassManager.parse(f"builtin.module({element})")
    except ValueError as error:
        detail = str(error).strip().splitlines()
        reason = next((line for line in detail if "error:" in line), detail[0] if detail else "")
        reason = reason.split("error:", 1)[-1].strip() or "not a registered pass or pipeline"
        raise UserError(f"bad pipeline element '{element}': {reason}") from None


def parse_element(element: str) -> list[Step]:
    """One pipeline element: our pass with ``{key=value}`` options, a named pipeline, or upstream text."""
    match = _ELEMENT_NAME.match(element)
    if match is None:
        raise UserError(f"bad pipeline element '{element}'")
    name, rest = match[1], match[2].strip()
    if name in PIPELINES:
        if rest:
            raise UserError(f"pipeline '{name}' takes no options, got '{rest}'")
        steps: list[Step] = []
        for part in PIPELINES[name].steps:
            try:
                steps += parse_element(part)
            except UserError as error:
                raise UserError(f"pipeline '{name}' cannot be built: {error}") from None
        return steps
    if passes.is_pass(name):
        if rest and not (rest.startswith("{") and rest.endswith("}")):
            raise UserError(f"options of pass '{name}' go in braces, e.g. {name}{{key=value}}; got '{rest}'")
        return [passes.pass_class(name).from_options(rest[1:-1] if rest else "")]
    _check_upstream(element)
    return [UpstreamStep(element)]


def parse_pipeline(text: str) -> list[Step]:
    """Parses ``builtin.module(a, b{k=v}, func.func(c))`` or the bare list ``a, b{k=v}``."""
    text = text.strip()
    anchored = re.fullmatch(r"builtin\.module\s*\((.*)\)", text, re.DOTALL)
    if anchored:
        text = anchored[1]
    return [step for element in split_top_level(text) for step in parse_element(element)]


def pipeline_text(steps: list[Step]) -> str:
    """The steps as one textual pipeline (for reproducers and messages)."""
    parts = [step.text if isinstance(step, UpstreamStep) else step.pipeline_text() for step in steps]
    return f"builtin.module({', '.join(parts)})"


def build_pass_manager(steps: list[Step], context: ir.Context) -> passmanager.PassManager:
    """A PassManager on builtin.module that runs ``steps`` in order."""
    manager = passmanager.PassManager("builtin.module", context=context)
    add_steps(manager, steps)
    return manager


def add_steps(manager: passmanager.PassManager, steps: list[Step]) -> None:
    """Appends ``steps`` to ``manager``: runs of upstream passes as text, ours as Python passes."""
    upstream: list[str] = []
    for step in steps:
        if isinstance(step, UpstreamStep):
            upstream.append(step.text)
            continue
        if upstream:
            manager.add(", ".join(upstream))
            upstream = []
        add_python_pass(manager, step)
    if upstream:
        manager.add(", ".join(upstream))


def add_python_pass(manager: passmanager.PassManager, step: ModulePass) -> None:
    """Appends one of our passes to ``manager`` (which may belong to another pipeline)."""

    def run(operation: ir.Operation, _pass: object) -> None:
        # Python passes run without the implicit Context/Location of the caller.
        with operation.context, ir.Location.unknown():
            step.apply(operation)

    manager.add(run, name=step.name, argument=step.name, description=step.summary)


def run_pipeline(module: ir.Module, pipeline: str | list[Step]) -> None:
    """Runs a pipeline (text or parsed steps) on ``module`` in place."""
    with module.context:
        steps = parse_pipeline(pipeline) if isinstance(pipeline, str) else pipeline
        build_pass_manager(steps, module.context).run(module.operation)


def add_named_pipeline(manager: passmanager.PassManager, name: str, context: ir.Context | None = None) -> None:
    """Appends the named pipeline ``name`` (e.g. ``kgs-lower``, ``kgs-to-llvm``) to a PassManager on builtin.module,
    so that another MLIR pipeline can embed it."""
    if name not in PIPELINES:
        raise UserError(f"unknown pipeline '{name}'; known: {', '.join(PIPELINES)}")
    context = context or ir.Context.current
    load_sparse3d(context)
    with context:
        add_steps(manager, parse_element(name))


def add_kgs_lower(manager: passmanager.PassManager, context: ir.Context | None = None) -> None:
    """Appends ``--kgs-lower`` to a PassManager on builtin.module."""
    add_named_pipeline(manager, "kgs-lower", context)


def add_kgs_to_llvm(manager: passmanager.PassManager, context: ir.Context | None = None) -> None:
    """Appends ``--kgs-to-llvm`` (``--kgs-lower``, bufferization, lowering to LLVM) to a PassManager."""
    add_named_pipeline(manager, "kgs-to-llvm", context)
