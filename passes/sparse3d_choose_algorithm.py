"""``sparse3d-choose-algorithm``: record on each KGS conv whether it runs direct or by Winograd, from the module's target.

Input (the target is a module attribute; ``target=NAME`` sets or replaces it)::

  module attributes {sparse3d.target = {name = "host-avx512", vector_lanes = 16 : i64, ...}} {
    ...
    %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>,
           kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, ...}
         : (tensor<1x128x8x28x28xf32>, ...) -> tensor<1x256x8x28x28xf32>

Output: the same, each conv carrying its ``algorithm`` (one already there is kept)::

    %y = "sparse3d.kgs_conv3d"(...) {..., algorithm = "winograd<w, 4>"}

The choice is :func:`rt3d_mlir.targets.algorithm_strategy.choose_algorithm`; ``sparse3d-winograd``
applies it. ``allow=direct`` records direct everywhere (Winograd off). ``tuning-cache=FILE``: the
algorithm ``rt3d tune`` measured fastest for a conv of that shape and kept pattern on this target
wins over the cost model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch_mlir import ir

from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.dialect.algorithm import Algorithm
from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.dialect.kept_pattern import constant_pattern
from rt3d_mlir.dialect.sparse3d import ALGORITHM, filter_permutation
from rt3d_mlir.dialect.tables import check_tables
from rt3d_mlir.errors import UserError
from rt3d_mlir.passes.base import ModulePass, option
from rt3d_mlir.passes.sparse3d_tile import CPU_TARGETS
from rt3d_mlir.targets.algorithm_strategy import choose_algorithm


@dataclass(frozen=True)
class Sparse3DChooseAlgorithm(ModulePass):
    name = "sparse3d-choose-algorithm"
    summary = "Record direct or Winograd on each sparse3d.kgs_conv3d from the module's target and the cost model"

    target: str | None = option(None, "target to record on the module first (host, host-avx512, host-avx2, aarch64-neon); unset: use its sparse3d.target")

    default_target: str | None = option(None, "target to record when the module has no sparse3d.target (unset: that is an error)")

    allow: Literal["auto", "direct"] = option("auto", "auto: the cost model's choice; direct: direct convolution everywhere")

    tuning_cache: str | None = option(None, "a tuning cache (rt3d tune) whose measured algorithms win over the cost model (unset: none; ignored with allow=direct)")

    def __post_init__(self) -> None:
        CPU_TARGETS.check(self.name, self.target, self.default_target)

    def apply(self, module: ir.Operation) -> None:
        target = CPU_TARGETS.module_target(module, self.target, self.default_target)
        if self.tuning_cache is not None and self.allow == "auto":
            from rt3d_mlir.targets.tuning_cache import TuningCache, apply_algorithm_cache

            apply_algorithm_cache(module, target, TuningCache.load(self.tuning_cache))
        for op in find_kgs_convs(module):
            if ALGORITHM in op.attributes:
                continue
            check_tables(op)
            chosen = Algorithm()
            if self.allow == "auto":
                try:
                    geometry = ConvGeometry.of(op)
                    chosen = choose_algorithm(target, geometry, constant_pattern(op, geometry), filter_permutation(op))
                except UserError as error:
                    raise PassError(str(error), op.location) from None
            op.attributes[ALGORITHM] = ir.StringAttr.get(str(chosen))
