"""Multiply-accumulate (MAC) accounting, the cost model shared with the compiler.

"FLOPs" in the RT3D paper are MACs. A Conv3d costs ``output voxels x (C / groups)
x Kd*Kh*Kw`` MACs per filter when dense and ``kgs.kept_fraction(weight,
group_shape)`` of that when compiled as KGS code, which is exactly what the
compiler charges for it. A Linear costs ``in x out`` per output row. The FLOPs
pruning rate is dense MACs / remaining MACs over the whole model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from rt3d_mlir.kgs import GroupShape, kept_fraction


@dataclass(frozen=True)
class LayerCost:
    """One conv or linear layer at one clip size: its name, module and dense MACs per clip."""

    name: str
    module: nn.Conv3d | nn.Linear
    macs_dense: int

    @property
    def kind(self) -> str:
        return "conv3d" if isinstance(self.module, nn.Conv3d) else "linear"


def measure_layers(model: nn.Module, input_size: tuple[int, int, int]) -> list[LayerCost]:
    """Dense MACs of every Conv3d and Linear layer for one clip, in execution order.

    The forward pass runs on the meta device, so it costs no arithmetic even for
    full-size models.
    """
    shapes: dict[str, torch.Size] = {}
    layers = {name: module for name, module in model.named_modules() if isinstance(module, (nn.Conv3d, nn.Linear))}

    def record(name: str):
        def hook(_module: nn.Module, _inputs, output: torch.Tensor) -> None:
            shapes[name] = output.shape

        return hook

    handles = [module.register_forward_hook(record(name)) for name, module in layers.items()]
    meta_state = {
        name: torch.empty_like(tensor, device="meta")
        for name, tensor in (*model.named_parameters(), *model.named_buffers())
    }
    was_training = model.training
    try:
        model.eval()  # batch-norm statistics and dropout must not depend on the measurement
        with torch.no_grad():
            functional_call(model, meta_state, (torch.empty(1, 3, *input_size, device="meta"),))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()

    costs = []
    for name in shapes:  # hooks fire in execution order
        module = layers[name]
        output_elements = math.prod(shapes[name])
        if isinstance(module, nn.Conv3d):
            macs = output_elements * module.in_channels // module.groups * math.prod(module.kernel_size)
        else:
            macs = output_elements * module.in_features
        costs.append(LayerCost(name, module, macs))
    return costs


def kept_macs(cost: LayerCost, group_shape: GroupShape | None) -> int:
    """MACs the layer still costs: KGS code at ``group_shape`` for a conv, dense otherwise."""
    if group_shape is None or not isinstance(cost.module, nn.Conv3d):
        return cost.macs_dense
    return round(cost.macs_dense * kept_fraction(cost.module.weight.detach(), group_shape))
