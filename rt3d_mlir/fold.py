"""Torch-level graph clean-up before import: batch norms folded into the convs that feed them.

In eval mode ``bn(conv(x)) = conv'(x)`` with ``W' = W * s`` and
``b' = (b - mean) * s + beta`` where ``s = gamma / sqrt(var + eps)`` per filter.
Scaling a filter keeps its exact zeros, so KGS patterns survive folding, and
each folded norm removes four elementwise passes over an activation tensor.
"""

from __future__ import annotations

import copy

import torch
from torch import fx, nn


def _fold_into(conv: nn.Conv3d, norm: nn.BatchNorm3d) -> nn.Conv3d | None:
    """``conv`` with ``norm`` folded in; None if ``norm`` keeps no running statistics or has no affine part."""
    mean, variance = norm.running_mean, norm.running_var
    if mean is None or variance is None or not norm.affine:
        return None
    scale = norm.weight.detach() / torch.sqrt(variance + norm.eps)
    folded = copy.deepcopy(conv)
    folded.weight = nn.Parameter(conv.weight.detach() * scale.reshape(-1, 1, 1, 1, 1))
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(mean)
    folded.bias = nn.Parameter((bias - mean) * scale + norm.bias.detach())
    return folded


def fold_batch_norms(model: nn.Module) -> tuple[nn.Module, int]:
    """An eval-mode copy of ``model`` with every Conv3d -> BatchNorm3d pair folded; also the number folded.

    A model torch.fx cannot trace symbolically is returned unchanged (a copy), with 0 folded.
    """
    try:
        graph_module = fx.symbolic_trace(copy.deepcopy(model).eval())
    except Exception:
        return copy.deepcopy(model).eval(), 0
    modules = dict(graph_module.named_modules())
    calls: dict[str, int] = {}
    for node in graph_module.graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    folded = 0
    for node in list(graph_module.graph.nodes):
        norm = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(norm, nn.BatchNorm3d):
            continue
        source = node.args[0]
        # (a call_module node's target is its module's qualified name, always a str)
        if not (isinstance(source, fx.Node) and source.op == "call_module" and isinstance(source.target, str) and len(source.users) == 1):
            continue
        conv = modules[source.target]
        if not isinstance(conv, nn.Conv3d):
            continue
        if calls[source.target] > 1:  # a conv module called twice: folding would change its other calls
            continue
        folded_conv = _fold_into(conv, norm)
        if folded_conv is None:
            continue
        parent_name, _, child_name = source.target.rpartition(".")
        # a second norm after this conv (conv, bn, bn) folds into the folded conv, not the original
        modules[source.target] = folded_conv
        setattr(graph_module.get_submodule(parent_name), child_name, modules[source.target])
        node.replace_all_uses_with(source)
        graph_module.graph.erase_node(node)
        folded += 1
    graph_module.graph.lint()
    graph_module.recompile()
    graph_module.delete_all_unused_submodules()
    return graph_module.eval(), folded
