"""Group penalties that drive whole units (see :mod:`rt3d_mlir.prune.schemes`) to zero.

- ``regularization`` (group Lasso): sum over units of ||W_u||_2, an l1 norm of l2 norms.
- ``reweighted``: sum over units of P_u ||W_u||^2 with P_u = 1 / (||W_u||^2 + eps)
  recomputed from the current weights at every reweighting step. P_u is a
  constant between steps, but ||W_u||^2 stays in the autograd graph, so the
  penalty pushes small units to zero through real gradients while units that
  matter (large ||W_u||) feel almost no pull.

Each layer's term is scaled by its dense MACs (relative to the mean over the
pruned layers), so the optimisation targets the model's total FLOPs rather
than its parameter count.
"""

from __future__ import annotations

import torch

from rt3d_mlir.errors import UserError
from rt3d_mlir.prune.schemes import PrunableLayer

ALGORITHMS: dict[str, str] = {
    "heuristic": "one-shot magnitude pruning, then masked fine-tuning",
    "regularization": "group Lasso (sum of l2 norms of the units), then pruning and fine-tuning",
    "reweighted": "reweighted group regularization (P = 1 / (||W||^2 + eps)), then pruning and fine-tuning",
}
# Keeps the group-Lasso gradient finite at units that are already exactly zero.
_NORM_FLOOR = 1e-12


def check_algorithm(name: str) -> str:
    if name not in ALGORITHMS:
        raise UserError(f"unknown pruning algorithm '{name}'; choose one of: {', '.join(ALGORITHMS)}")
    return name


class GroupPenalty:
    """The regularization term of ``algorithm`` ('regularization' or 'reweighted') over ``layers``."""

    def __init__(self, layers: list[PrunableLayer], algorithm: str, eps: float = 1e-4) -> None:
        if check_algorithm(algorithm) == "heuristic":
            raise UserError("the heuristic algorithm has no regularization penalty")
        if eps <= 0:
            raise UserError(f"the reweighting eps must be positive, got {eps}")
        self.layers = layers
        self.algorithm = algorithm
        self.eps = eps
        macs = torch.tensor([float(layer.cost.macs_dense) for layer in layers])
        self.layer_scales = (macs / macs.mean()).tolist()
        self.coefficients: list[torch.Tensor] | None = None
        if algorithm == "reweighted":
            self.reweight()

    def reweight(self) -> None:
        """Recomputes every P_u from the current weights (a no-op for group Lasso)."""
        if self.algorithm != "reweighted":
            return
        with torch.no_grad():
            self.coefficients = [1.0 / (layer.unit_energy() + self.eps) for layer in self.layers]

    def __call__(self) -> torch.Tensor:
        """The penalty (without the strength lambda), differentiable in the layers' weights."""
        terms = []
        for index, (layer, scale) in enumerate(zip(self.layers, self.layer_scales)):
            energy = layer.unit_energy()
            if self.coefficients is not None:  # the reweighted algorithm's P_u
                unit_terms = self.coefficients[index].to(energy.device) * energy
            else:
                unit_terms = (energy + _NORM_FLOOR).sqrt()
            terms.append(scale * unit_terms.sum())
        return torch.stack(terms).sum()

    def state_dict(self) -> dict:
        return {"coefficients": None if self.coefficients is None else [c.cpu() for c in self.coefficients]}

    def load_state_dict(self, state: dict) -> None:
        coefficients = state["coefficients"]
        if self.algorithm == "reweighted" and (
            coefficients is None
            or len(coefficients) != len(self.layers)
            or any(c.shape != layer.unit_energy().shape for c, layer in zip(coefficients, self.layers))
        ):
            raise UserError("the saved reweighting coefficients do not match the layers being pruned")
        self.coefficients = coefficients
