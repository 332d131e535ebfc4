"""The pruning toolkit: filter, vanilla, KGS and balanced-KGS sparsity for 3D CNNs.

Typical use is through ``rt3d train`` and ``rt3d prune``; the pieces are:

- :mod:`.schemes`: the units each scheme prunes, on the kernel groups of :mod:`rt3d_mlir.kgs`;
- :mod:`.flops`: MAC accounting that agrees with the compiler's cost model;
- :mod:`.regularizers`: group Lasso and reweighted group regularization;
- :mod:`.masks`: hard pruning to a FLOPs pruning rate or by threshold, and masking;
- :mod:`.training`: the resumable, DDP-capable training loop;
- :mod:`.checkpoint`: checkpoints, profiles and :func:`load_pruned_model`.
"""

from rt3d_mlir.prune.checkpoint import (
    MODEL_FORMAT,
    PROFILE_FORMAT,
    build_profile,
    format_profile,
    load_pruned_model,
    recompute_profile,
    save_model_checkpoint,
)
from rt3d_mlir.prune.flops import LayerCost, kept_macs, measure_layers
from rt3d_mlir.prune.masks import Masks, apply_masks, check_rate_reachable, masks_by_threshold, masks_for_rate
from rt3d_mlir.prune.regularizers import ALGORITHMS, GroupPenalty
from rt3d_mlir.prune.schemes import SCHEMES, PrunableLayer, Scheme, get_scheme, select_layers
from rt3d_mlir.prune.training import PruningPlan, Stage, Trainer, distillation_loss, initialize_for_training

__all__ = [
    "ALGORITHMS",
    "MODEL_FORMAT",
    "PROFILE_FORMAT",
    "SCHEMES",
    "GroupPenalty",
    "LayerCost",
    "Masks",
    "PrunableLayer",
    "PruningPlan",
    "Scheme",
    "Stage",
    "Trainer",
    "apply_masks",
    "build_profile",
    "check_rate_reachable",
    "distillation_loss",
    "format_profile",
    "get_scheme",
    "initialize_for_training",
    "kept_macs",
    "load_pruned_model",
    "masks_by_threshold",
    "masks_for_rate",
    "measure_layers",
    "recompute_profile",
    "save_model_checkpoint",
    "select_layers",
]
