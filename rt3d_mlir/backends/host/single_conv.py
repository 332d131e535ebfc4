"""One KGS conv compiled for the host: ``CompiledConv`` schedules the module of
:func:`rt3d_mlir.conv_module.build_kgs_conv3d_module` for a target (or takes a schedule),
emits the kernel, lowers it to LLVM and JIT-compiles it.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_mlir import ir

from rt3d_mlir.backends.host.jit import JitModule
from rt3d_mlir.codegen.cpu_kgs_kernel import emit_kgs_conv3d
from rt3d_mlir.conv_module import FUNCTION_NAME, ConvSpec, build_kgs_conv3d_module
from rt3d_mlir.dialect import make_context
from rt3d_mlir.dialect.geometry import ConvGeometry, find_kgs_convs
from rt3d_mlir.dialect.kept_pattern import constant_pattern
from rt3d_mlir.dialect.algorithm import Algorithm
from rt3d_mlir.dialect.sparse3d import ALGORITHM, filter_permutation
from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import CompactKGS
from rt3d_mlir.pipeline import run_pipeline
from rt3d_mlir.report import conv_reports
from rt3d_mlir.targets import Target, host_target, set_module_target
from rt3d_mlir.targets.strategy import SCHEDULE_ATTR, FilterSchedule, Schedule, choose_kernel_schedule


class CompiledConv:
    """One KGS conv JIT-compiled for the host: ``conv(input, init) -> init + conv3d(input, W)``."""

    def __init__(
        self,
        kgs: CompactKGS,
        spec: ConvSpec,
        schedule: Schedule | FilterSchedule | None = None,
        target: Target | None = None,
        openmp: bool = True,
        index_bits: int = 64,
        zero_init: bool = False,
        passes: str = "",
        algorithm: Algorithm | None = None,
    ) -> None:
        """``passes``: pipeline text run on the module before the conv is scheduled (e.g. ``sparse3d-compact``).

        ``algorithm``: Winograd turns the conv into per-tap convs (``sparse3d-winograd``), each scheduled
        for ``target`` by the strategy (``schedule`` must then be None, and ``self.schedule`` is None).
        ``self.macs``: the multiply-accumulates its kernels perform (the per-tap convs' for Winograd,
        transforms not counted).
        """
        if algorithm is not None and not algorithm.is_direct and schedule is not None:
            raise UserError("a Winograd conv is several per-tap convs: it takes no single schedule")
        self.spec = spec
        self.algorithm = algorithm or Algorithm()
        self.zero_init = zero_init
        self.output_shape = spec.output_shape(kgs.weight_shape)
        self.context = make_context()
        with self.context, ir.Location.unknown():
            module = build_kgs_conv3d_module(kgs, spec, index_bits, zero_init)
            if passes:
                run_pipeline(module, passes)
            (op,) = find_kgs_convs(module.operation)
            self.geometry = ConvGeometry.of(op)
            self.schedule: Schedule | FilterSchedule | None = None
            target = target or host_target()
            winograd = algorithm is not None and not algorithm.is_direct
            if winograd:
                op.attributes[ALGORITHM] = ir.StringAttr.get(str(algorithm))
            self.op_text = str(op)
            if winograd:
                set_module_target(module.operation, target)
                run_pipeline(module, "sparse3d-winograd")
                self.macs = sum(report.kept_macs for report in conv_reports(module))
                run_pipeline(module, "sparse3d-tile, sparse3d-vectorize")
                threads = target.cores  # what sparse3d-tile gives every per-tap conv
            else:
                self.macs = sum(report.kept_macs for report in conv_reports(module))
                self.schedule = schedule or choose_kernel_schedule(
                    target, self.geometry, constant_pattern(op, self.geometry), filter_permutation(op)
                )
                op.attributes[SCHEDULE_ATTR] = self.schedule.to_attr()
                emit_kgs_conv3d(op, self.schedule)
                threads = self.schedule.threads
            self.kernel_ir = str(module)
            self.jit = JitModule(module, openmp=openmp and threads > 1)

    def __call__(self, input_tensor: np.ndarray | torch.Tensor, init: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        """``init + conv3d(input)``; ``init`` defaults to zeros and must be left out with ``zero_init``."""
        if self.zero_init:
            if init is not None:
                raise UserError("this conv was compiled with zero_init: it takes no init")
            return self.jit.call(FUNCTION_NAME, input_tensor, result_rank=5)
        if init is None:
            init = np.zeros(self.output_shape, np.float32)
        return self.jit.call(FUNCTION_NAME, input_tensor, init, result_rank=5)
