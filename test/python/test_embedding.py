"""Embedding our pipelines in someone else's PassManager, with numerics checked end to end."""

import numpy as np
import torch
from torch_mlir import ir, passmanager

from rt3d_mlir.backends.host.jit import JitModule
from rt3d_mlir.importer import import_model
from rt3d_mlir.pipeline import add_kgs_lower, add_kgs_to_llvm


def test_add_kgs_lower_to_a_foreign_pass_manager():
    conv = torch.nn.Conv3d(4, 8, 3, padding=1).eval()
    clip = torch.randn(1, 4, 4, 6, 9)
    module = import_model(conv, clip)
    with module.context:
        manager = passmanager.PassManager.parse("builtin.module(canonicalize)")
        add_kgs_lower(manager)
        manager.add("cse")
        manager.run(module.operation)
    text = str(module)
    assert "linalg.conv_3d" not in text and "sparse3d" not in text.replace("sparse3d.target", "").replace("sparse3d.schedule", "")
    assert "vector.fma" in text
    with module.context:
        jit = JitModule(module)
    expected = conv(clip).detach().numpy()
    np.testing.assert_allclose(jit.call("main", clip, result_rank=5), expected, rtol=1e-4, atol=1e-5)


def test_add_kgs_to_llvm_leaves_only_llvm():
    module = import_model(torch.nn.Conv3d(2, 4, 1).eval(), torch.randn(1, 2, 2, 2, 8))
    with module.context:
        manager = passmanager.PassManager("builtin.module")
        add_kgs_to_llvm(manager)
        manager.run(module.operation)
    dialects = set()

    def visit(op: ir.Operation) -> ir.WalkResult:
        dialects.add(op.name.split(".")[0])
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    assert dialects <= {"builtin", "llvm", "omp"}, dialects  # omp ops translate to LLVM IR with the OpenMP runtime calls
