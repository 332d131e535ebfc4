"""``pooling-to-vector``: 3D max/sum pooling generics as vector loops instead of scalar ones.

Input (torch-mlir's import of ``nn.MaxPool3d(2)``)::

  #in = affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2 * 2 + d5, d3 * 2 + d6, d4 * 2 + d7)>
  #window = affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d5, d6, d7)>
  #out = affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>
  %init = linalg.fill ins(%neg_inf : f32) outs(%empty : tensor<1x64x8x56x56xf32>) -> tensor<1x64x8x56x56xf32>
  %y = linalg.generic {indexing_maps = [#in, #window, #out], iterator_types = ["parallel", "parallel",
         "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
         ins(%x, %shape : tensor<1x64x16x112x112xf32>, tensor<2x2x2xf32>) outs(%init : tensor<1x64x8x56x56xf32>) {
  ^bb0(%in: f32, %w: f32, %out: f32):
    %m = arith.maximumf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<1x64x8x56x56xf32>

Output: ``%y = func.call @pool3d_N(%x, %init)``, a private function of
``scf.for`` loops over (N*C, D, H) rows and ``vector.load`` / ``vector.shuffle`` /
``arith.maximumf`` along W (see :mod:`rt3d_mlir.codegen.pooling`), the (N*C, D)
planes an ``scf.parallel`` when the target has more than one core; the fill, no
longer read, is erased. The vector width and the cores are the module's
``sparse3d.target`` ones, or the host's when it has none.
Generics of any other form are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch_mlir import ir

from rt3d_mlir.codegen.kernel_ir import erase_if_dead_fill
from rt3d_mlir.codegen.pooling import COMBINERS, Pool3D, emit_pool3d
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.passes.base import ModulePass, target_or_host

_PARALLEL, _REDUCTION = "parallel", "reduction"


def _window_term(expr: ir.AffineExpr, out_dim: int, window_dim: int) -> tuple[int, int] | None:
    """(stride, dilation) if ``expr`` is ``d[out_dim] * stride + d[window_dim] * dilation`` (either order), else None."""
    coefficients = {}

    def take(term: ir.AffineExpr) -> bool:
        if isinstance(term, ir.AffineDimExpr):
            coefficients[term.position] = 1
            return True
        if isinstance(term, ir.AffineMulExpr) and isinstance(term.lhs, ir.AffineDimExpr):
            if isinstance(term.rhs, ir.AffineConstantExpr):
                coefficients[term.lhs.position] = term.rhs.value
                return True
        return False

    if not isinstance(expr, ir.AffineAddExpr) or not (take(expr.lhs) and take(expr.rhs)):
        return None
    if set(coefficients) != {out_dim, window_dim}:
        return None
    return coefficients[out_dim], coefficients[window_dim]


def match_pool3d(op: ir.Operation) -> Pool3D | None:
    """The pooling a ``linalg.generic`` computes, if it is a 3D window max/sum over NCDHW f32 tensors."""
    if op.name != "linalg.generic" or len(op.operands) != 3 or len(op.results) != 1:
        return None
    iterators = [str(a) for a in ir.ArrayAttr(op.attributes["iterator_types"])]
    if [i.split("<")[-1].rstrip(">") for i in iterators] != [_PARALLEL] * 5 + [_REDUCTION] * 3:
        return None
    types = [ir.RankedTensorType(v.type) for v in (op.operands[0], op.operands[1], op.operands[2])]
    if not all(t.has_static_shape for t in types) or not isinstance(types[0].element_type, ir.F32Type):
        return None
    if types[0].rank != 5 or types[2].rank != 5 or types[1].rank != 3 or types[2].element_type != types[0].element_type:
        return None
    in_map, window_map, out_map = (ir.AffineMapAttr(m).value for m in ir.ArrayAttr(op.attributes["indexing_maps"]))

    def dims_map(first: int, count: int) -> ir.AffineMap:
        return ir.AffineMap.get(8, 0, [ir.AffineDimExpr.get(first + i) for i in range(count)])

    if out_map != dims_map(0, 5) or window_map != dims_map(5, 3):
        return None
    in_exprs = list(in_map.results)
    if in_exprs[:2] != list(dims_map(0, 2).results):
        return None
    depth, height, width = (_window_term(in_exprs[2 + axis], 2 + axis, 5 + axis) for axis in range(3))
    if depth is None or height is None or width is None:
        return None
    body = [o.operation for o in op.regions[0].blocks[0].operations]
    arguments = list(op.regions[0].blocks[0].arguments)
    if len(body) != 2 or body[0].name not in COMBINERS or set(body[0].operands) != {arguments[0], arguments[2]}:
        return None
    if body[1].operands[0] != body[0].results[0]:
        return None
    return Pool3D(
        input_shape=tuple(types[0].shape),
        output_shape=tuple(types[2].shape),
        window=tuple(types[1].shape),
        strides=(depth[0], height[0], width[0]),
        dilations=(depth[1], height[1], width[1]),
        combiner=body[0].name,
    )


@dataclass(frozen=True)
class PoolingToVector(ModulePass):
    name = "pooling-to-vector"
    summary = "Rewrite 3D max/sum pooling linalg.generic ops into vector loops (a private function per pool)"

    def apply(self, module: ir.Operation) -> None:
        target = target_or_host(module)
        taken = 0
        for function in list(module.regions[0].blocks[0].operations):
            for op in ops_named(function.operation, "linalg.generic"):
                pool = match_pool3d(op)
                if pool is None:
                    continue
                with op.context, op.location:
                    while f"pool3d_{taken}" in _symbols(module):
                        taken += 1
                    result = emit_pool3d(
                        op, pool, target.vector_lanes, target.cores, f"pool3d_{taken}", ir.InsertionPoint(function)
                    )
                init = op.operands[2]
                op.results[0].replace_all_uses_with(result)
                op.erase()
                erase_if_dead_fill(init)


def _symbols(module: ir.Operation) -> set[str]:
    return {
        ir.StringAttr(op.attributes["sym_name"]).value
        for op in module.regions[0].blocks[0].operations
        if "sym_name" in op.attributes
    }
