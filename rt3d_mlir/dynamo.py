"""``torch.compile(model, backend="rt3d")``: every graph TorchDynamo captures goes through :func:`rt3d_mlir.compile`.

The backend is registered as ``rt3d`` in the ``torch_dynamo_backends`` entry
point group, so it works after ``pip install`` without importing rt3d_mlir::

    compiled = torch.compile(model, backend="rt3d", options={"target": "host", "threads": 4})
    with torch.no_grad():
        logits = compiled(clip)

Options: ``target`` (a host target or ``vulkan[-<gpu>]``; AArch64 objects do
not run here), ``threads`` (host), ``group_shape`` (as for rt3d_mlir.compile).

The model's parameters and buffers are frozen into the compiled code (as
constants, which is what lets sparse3d-from-linalg see the KGS patterns):
like inductor's ``freezing``, changing a weight afterwards needs
``torch._dynamo.reset()``. A graph we cannot take (an op torch-mlir or our
pipeline does not lower, several outputs, autograd, non-f32 or non-CPU
tensors) runs in torch eager, with one :class:`EagerFallbackWarning` saying
why; shapes are static: a graph with symbolic shapes raises
:class:`DynamicShapesError` (compile with ``dynamic=False``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import fx

from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.errors import UserError

if TYPE_CHECKING:
    from rt3d_mlir.backends.host.compiled_model import CompiledModel
    from rt3d_mlir.backends.vulkan.compiler import VulkanCompiledModel

OPTIONS = ("target", "threads", "group_shape")
RUNNABLE_TARGET_PREFIXES = ("host", "vulkan")


class EagerFallbackWarning(UserWarning):
    """A captured graph runs in torch eager instead of through rt3d (the message says why)."""


class DynamicShapesError(UserError):
    """The captured graph has symbolic shapes; rt3d compiles static shapes only."""


def _is_frozen(value: object) -> bool:
    """Parameters and buffers: dynamo marks the module state it passes as graph inputs as static."""
    return isinstance(value, torch.nn.Parameter) or hasattr(value, "_dynamo_static_input_type")


def _check_options(options: dict[str, Any]) -> None:
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise UserError(f"unknown rt3d option(s) {', '.join(unknown)}; the backend takes {', '.join(OPTIONS)}")
    target = options.get("target", "host")
    if not str(target).startswith(RUNNABLE_TARGET_PREFIXES):
        raise UserError(f"target '{target}' does not run in this process; torch.compile takes host or vulkan targets "
                        "(rt3d_mlir.compile builds AArch64 objects)")


def _check_static(example_inputs: Sequence[object]) -> None:
    for index, value in enumerate(example_inputs):
        sizes = value.shape if isinstance(value, torch.Tensor) else (value,)
        if any(isinstance(size, torch.SymInt) for size in sizes):
            raise DynamicShapesError(
                f"rt3d compiles static shapes only, but input {index} of the captured graph has a symbolic shape; "
                "use torch.compile(model, backend='rt3d', dynamic=False), which compiles one graph per input shape"
            )


def _eager_reason(tensors: Sequence[torch.Tensor]) -> str | None:
    """Why a graph of these tensor inputs cannot go through rt3d whatever its ops are, or None."""
    if torch.is_grad_enabled() and any(tensor.requires_grad for tensor in tensors):
        return "the graph needs autograd (rt3d compiles inference; call the model under torch.no_grad())"
    unsupported = sorted({str(t.dtype) for t in tensors if t.dtype != torch.float32} | {str(t.device) for t in tensors if t.device.type != "cpu"})
    if unsupported:
        return f"rt3d takes float32 CPU tensors, the graph has {', '.join(unsupported)}"
    return None


def frozen_graph(graph_module: fx.GraphModule, example_inputs: Sequence[torch.Tensor]) -> tuple[fx.GraphModule, list[int]]:
    """A copy of ``graph_module`` that holds the frozen inputs as buffers and returns its one output bare.

    Also returns the positions of the inputs that stay inputs. A graph with
    several outputs raises UserError (the compiled code returns one tensor).
    """
    root = torch.nn.Module()
    graph = fx.Graph()
    values: dict[fx.Node, fx.Node] = {}
    placeholders = graph_module.graph.find_nodes(op="placeholder")
    kept: list[int] = []
    for index, (node, value) in enumerate(zip(placeholders, example_inputs)):
        if _is_frozen(value):
            name = f"frozen_{index}"
            root.register_buffer(name, value.detach())
            values[node] = graph.get_attr(name)
        else:
            values[node] = graph.placeholder(node.name)
            kept.append(index)
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "output":
            outputs = node.args[0]
            if not isinstance(outputs, (tuple, list)) or len(outputs) != 1:
                count = len(outputs) if isinstance(outputs, (tuple, list)) else 1
                raise UserError(f"the graph returns {count} values; rt3d compiles graphs with one output tensor")
            graph.output(values[outputs[0]])
            continue
        values[node] = graph.node_copy(node, lambda argument: values[argument])
    for name, submodule in graph_module.named_children():
        root.add_module(name, submodule)
    return fx.GraphModule(root, graph), kept


def rt3d_backend(
    graph_module: fx.GraphModule, example_inputs: list[object], options: dict[str, Any] | None = None
) -> Callable[..., Any]:
    """The torch.compile backend (see the module docstring)."""
    from rt3d_mlir.compiler import compile as compile_model

    options = dict(options or {})
    _check_options(options)
    _check_static(example_inputs)
    tensors = [value for value in example_inputs if isinstance(value, torch.Tensor)]
    reason = "the graph takes non-tensor inputs" if len(tensors) != len(example_inputs) else _eager_reason(tensors)
    if reason is None:
        try:
            frozen, kept = frozen_graph(graph_module, tensors)
            # _check_options let through host and vulkan targets only: both give a callable
            compiled: CompiledModel | VulkanCompiledModel = compile_model(frozen, tuple(tensors[i] for i in kept), **options)
        except (UserError, PassError) as error:
            reason = str(error)
        else:
            output_is_list = isinstance(graph_module.graph.find_nodes(op="output")[0].args[0], list)

            def run(*inputs: torch.Tensor) -> tuple[torch.Tensor, ...] | list[torch.Tensor]:
                result = compiled(*(inputs[i] for i in kept))
                return [result] if output_is_list else (result,)

            return run
    warnings.warn(f"rt3d runs this graph in torch eager: {reason}", EagerFallbackWarning, stacklevel=2)
    return graph_module.forward
