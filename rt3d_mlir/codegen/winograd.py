"""Winograd convolution as tensor IR: the input and output transforms around per-tap KGS convs.

A conv with ``algorithm = "winograd<AXES, M>"`` becomes (``sparse3d-winograd``)::

  input (N, C, D, H, W)
    -> input transform, one axis at a time: per tile, alpha = M + 2 values BT @ d   (alpha**k tensors);
       the first one zero-pads each channel plane along the transformed axes to T*M + 2
       (T = ceil(out / M) tiles per axis) and along H by the conv's padding just before transforming it
    -> per tap, a sparse3d.kgs_conv3d with the transformed weights G @ g (kernel 1 on the
       transformed axes, T outputs there): the products of the Winograd algorithm, summed over
       channels and the untransformed kernel axes by the KGS kernels
    -> output transform, one axis at a time: per tile, M outputs AT @ m
    -> the conv's epilogue: init (scalar, bias, residual + bias or a tensor) and the activation,
       fused into the last transform when no axis has a tail (T*M = out), after a crop otherwise.

Everything here is upstream tensor/linalg/scf/arith IR. Each transform is one elementwise
``linalg.generic`` per channel (input) or filter (output) plane, inside an ``scf.forall`` over the
planes, so the cores share it (the host pipeline turns the forall into an OpenMP loop): the input
transform reads strided slices (tile offset i of every tile), the output transform reads the
alpha taps once per tile and writes its ``tile`` outputs into strided views of the result.
Serial, the transforms held kgs-row C3D conv3b by F(4, 3) on W to 1.3x from 1 to 2 threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Sequence

import numpy as np
from torch_mlir import ir
from torch_mlir.dialects import arith, linalg, scf, tensor

from rt3d_mlir.codegen.kernel_init import InitKind

_PARALLEL = "#linalg.iterator_type<parallel>"


@dataclass(frozen=True)
class Epilogue:
    """What the conv adds to its sums and applies after: the kernel's init kinds, and a ReLU."""

    kind: InitKind
    values: Sequence[ir.Value]  # as rt3d_mlir.codegen.kernel_init.init_source returns them
    relu: bool


def _tensor_type(shape: Sequence[int], element_type: ir.Type) -> ir.RankedTensorType:
    return ir.RankedTensorType.get(list(shape), element_type)


def _generic(inputs: Sequence[ir.Value], outputs: Sequence[ir.Value], maps: Sequence[ir.AffineMap],
             loops: int, element_type: ir.Type) -> linalg.GenericOp:
    """An all-parallel generic over ``loops`` dims writing ``outputs``; its body is left for the caller."""
    op = linalg.GenericOp(
        [output.type for output in outputs], list(inputs), list(outputs),
        ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps]),
        ir.ArrayAttr.get([ir.Attribute.parse(_PARALLEL)] * loops),
    )
    op.regions[0].blocks.append(*([element_type] * (len(inputs) + len(outputs))))
    return op


def _empty(shape: Sequence[int], element_type: ir.Type) -> ir.Value:
    return tensor.EmptyOp(list(shape), element_type).result


def _linear_combination(coefficients: Sequence[float], terms: Sequence[ir.Value], element_type: ir.Type) -> ir.Value:
    """sum_i c_i * t_i, skipping zero coefficients and multiplying by no +-1 (the transforms' many small integers)."""
    total: ir.Value | None = None
    for coefficient, term in zip(coefficients, terms):
        if coefficient == 0.0:
            continue
        negative = coefficient < 0
        if abs(coefficient) != 1.0:
            term = arith.mulf(term, arith.constant(element_type, abs(coefficient)))
        if total is None:
            total = arith.negf(term) if negative else term
        else:
            total = arith.subf(total, term) if negative else arith.addf(total, term)
    if total is None:
        return arith.constant(element_type, 0.0)
    return total


@dataclass(frozen=True)
class _Slot:
    """Where a result goes in output ``output`` of :func:`_per_plane`: its plane, and along ``dim`` from ``first`` every ``step``."""

    output: int
    dim: int = 1
    first: int = 0
    step: int = 1


def _slice(value: ir.Value, plane: ir.Value, plane_dim: int, slot: _Slot, size: int | None = None) -> ir.Value:
    """Plane ``plane`` of ``value`` along ``plane_dim``; along ``slot.dim`` (if not the plane dim) ``size`` from ``slot.first`` every ``slot.step``."""
    source = ir.RankedTensorType(value.type)
    shape, offsets, strides = list(source.shape), [0] * source.rank, [1] * source.rank
    shape[plane_dim] = 1
    offsets[plane_dim] = ir.ShapedType.get_dynamic_size()
    if slot.dim != plane_dim:
        shape[slot.dim], offsets[slot.dim], strides[slot.dim] = size, slot.first, slot.step
    return tensor.ExtractSliceOp(_tensor_type(shape, source.element_type), value, [plane], [], [], offsets, shape,
                                 strides).result


def _per_plane(planes: int, split: Sequence[tuple[ir.Value, int]], output_shapes: Sequence[Sequence[int]],
               slots: Sequence[_Slot], slot_size: int | None, element_type: ir.Type,
               build: Callable[[list[ir.Value], list[ir.Value]], Sequence[ir.Value]]) -> list[ir.Value]:
    """Outputs (dim 1 of size ``planes``) computed one plane at a time in an ``scf.forall``, so the cores share them.

    ``split``: (value, dim) pairs, sliced to plane i along dim for iteration i. ``build(slices,
    destinations)`` returns one result per slot, written in place into its destination (the
    slot's part of plane i of its output).
    """
    forall = scf.ForallOp([0], [planes], [1], [_empty(shape, element_type) for shape in output_shapes])
    in_parallel = forall.terminator()
    (plane,) = forall.induction_variables
    shared = list(forall.inner_iter_args)
    with ir.InsertionPoint(in_parallel):
        destinations = [_slice(shared[slot.output], plane, 1, slot, slot_size) for slot in slots]
        results = build([_slice(value, plane, dim, _Slot(0, dim)) for value, dim in split], destinations)
    with ir.InsertionPoint(in_parallel.block):
        for result, destination, slot in zip(results, destinations, slots):
            extract = destination.owner
            tensor.ParallelInsertSliceOp(result, shared[slot.output], [plane], [], [],
                                         ir.DenseI64ArrayAttr(extract.attributes["static_offsets"]),
                                         ir.RankedTensorType(result.type).shape,
                                         ir.DenseI64ArrayAttr(extract.attributes["static_strides"]))
    return list(forall.results)


def _every(value: ir.Value, dim: int, first: int, step: int, count: int) -> ir.Value:
    """``count`` elements of ``value`` along ``dim`` from ``first`` every ``step`` (whole along the other dims)."""
    source = ir.RankedTensorType(value.type)
    shape, offsets, strides = list(source.shape), [0] * source.rank, [1] * source.rank
    shape[dim], offsets[dim], strides[dim] = count, first, step
    return tensor.ExtractSliceOp(_tensor_type(shape, source.element_type), value, [], [], [], offsets, shape,
                                 strides).result


def zero_pad(value: ir.Value, low: Sequence[int], high: Sequence[int]) -> ir.Value:
    """``value`` (rank 5) inside zeros: ``low[d]`` before and ``high[d]`` after it along each dim ``d``."""
    source = ir.RankedTensorType(value.type)
    if not any(low) and not any(high):
        return value
    shape = [size + lo + hi for size, lo, hi in zip(source.shape, low, high)]
    empty = tensor.EmptyOp(shape, source.element_type).result
    zeros = linalg.fill(arith.constant(source.element_type, 0.0), outs=[empty])
    return tensor.InsertSliceOp(value, zeros, [], [], [], list(low), list(source.shape), [1] * source.rank).result


def input_transform(value: ir.Value, dim: int, input_transform_matrix: np.ndarray, tile: int,
                    low: Sequence[int] = (0,) * 5, high: Sequence[int] = (0,) * 5) -> list[ir.Value]:
    """The alpha transformed tensors of ``value`` along ``dim`` (size T*tile + 2 there once padded, T afterwards).

    ``low``/``high``: zeros before and after ``value`` along each dim but the channel dim, added plane by
    plane inside the loop over channel planes: each core pads the planes it transforms, and a padded
    plane is read while it is still in its cache.
    """
    source = ir.RankedTensorType(value.type)
    alpha = input_transform_matrix.shape[0]
    shape = [size + lo + hi for size, lo, hi in zip(source.shape, low, high)]
    tiles = (shape[dim] - alpha) // tile + 1
    shape[dim] = tiles
    identity = ir.AffineMap.get_identity(source.rank)

    def transform(planes: list[ir.Value], destinations: list[ir.Value]) -> list[ir.Value]:
        padded = zero_pad(planes[0], low, high)
        slices = [_every(padded, dim, i, tile, tiles) for i in range(alpha)]  # d[i] of every tile
        op = _generic(slices, destinations, [identity] * (2 * alpha), source.rank, source.element_type)
        body = op.regions[0].blocks[0]
        with ir.InsertionPoint(body):
            terms = list(body.arguments)[:alpha]
            linalg.YieldOp([_linear_combination(row, terms, source.element_type) for row in input_transform_matrix])
        return list(op.results)

    return _per_plane(shape[1], [(value, 1)], [shape] * alpha, [_Slot(k) for k in range(alpha)],
                      None, source.element_type, transform)


def output_transform(taps: Sequence[ir.Value], dim: int, output_transform_matrix: np.ndarray,
                     epilogue: Epilogue | None = None) -> ir.Value:
    """The outputs along ``dim`` (T per-tile sums there -> T*tile outputs) from alpha tap tensors.

    Per tile, one loop iteration reads the alpha taps once and writes its ``tile`` outputs, each
    into a strided view of the result (from position s every ``tile``). With ``epilogue``, the
    init is added and the activation applied in the same loop; the caller passes one only when
    T*tile is the conv's output size along every axis (the init's shape).
    """
    source = ir.RankedTensorType(taps[0].type)
    element_type = source.element_type
    tile, alpha = output_transform_matrix.shape
    rank, tiles = source.rank, source.shape[dim]
    out_shape = [*source.shape[:dim], tiles * tile, *source.shape[dim + 1:]]
    slots = [_Slot(0, dim, s, tile) for s in range(tile)]
    identity = ir.AffineMap.get_identity(rank)
    scalar, tensor_reads, biases = None, [], []
    if epilogue is not None:
        for role, value in _epilogue_operands(epilogue):
            if role == "scalar":
                scalar = value
            elif role == "tensor":  # read where each output is written: from s every tile along dim
                tensor_reads = [_every(value, dim, s, tile, tiles) for s in range(tile)]
            else:  # bias, by output channel
                biases.append(value)
    split = [(value, 1) for value in [*taps, *tensor_reads]] + [(bias, 0) for bias in biases]
    bias_map = ir.AffineMap.get(rank, 0, [ir.AffineDimExpr.get(1)])
    maps = [identity] * (alpha + len(tensor_reads)) + [bias_map] * len(biases)

    def transform(planes: list[ir.Value], destinations: list[ir.Value]) -> list[ir.Value]:
        op = _generic(planes, destinations, [*maps, *[identity] * tile], rank, element_type)
        body = op.regions[0].blocks[0]
        with ir.InsertionPoint(body):
            arguments = list(body.arguments)
            terms = arguments[:alpha]
            read = arguments[alpha : alpha + len(tensor_reads)]  # one per output position s, if any
            bias = arguments[alpha + len(tensor_reads) : len(arguments) - tile]
            results = []
            for s, row in enumerate(output_transform_matrix):
                result = _linear_combination(row, terms, element_type)
                if epilogue is not None:
                    result = _apply_epilogue(result, scalar, [*read[s : s + 1], *bias], epilogue.relu)
                results.append(result)
            linalg.YieldOp(results)
        return list(op.results)

    (result,) = _per_plane(source.shape[1], split, [out_shape], slots, tiles, element_type, transform)
    return result


def _epilogue_operands(epilogue: Epilogue) -> list[tuple[str, ir.Value]]:
    """(role, value) of each init value: "scalar", "tensor" (full size) or "bias" (per output channel)."""
    roles = {
        InitKind.SCALAR: ("scalar",),
        InitKind.BIAS: ("bias",),
        InitKind.TENSOR: ("tensor",),
        InitKind.TENSOR_PLUS_BIAS: ("tensor", "bias"),
    }[epilogue.kind]
    return list(zip(roles, epilogue.values))


def _apply_epilogue(result: ir.Value, scalar: ir.Value | None, read: Sequence[ir.Value], relu: bool) -> ir.Value:
    if scalar is not None:
        result = arith.addf(result, scalar)
    for value in read:
        result = arith.addf(result, value)
    if relu:
        result = arith.maximumf(result, arith.constant(result.type, 0.0))
    return result


def crop_and_finish(value: ir.Value, out_shape: Sequence[int], epilogue: Epilogue) -> ir.Value:
    """The first ``out_shape`` outputs of ``value`` with the epilogue applied (for tiles past the output's end)."""
    source = ir.RankedTensorType(value.type)
    element_type = source.element_type
    cropped = value
    if list(source.shape) != list(out_shape):
        cropped = tensor.ExtractSliceOp(_tensor_type(out_shape, element_type), value, [], [], [],
                                        [0] * source.rank, list(out_shape), [1] * source.rank).result
    identity = ir.AffineMap.get_identity(source.rank)
    inputs, maps, scalar = [cropped], [identity], None
    for role, init_value in _epilogue_operands(epilogue):
        if role == "scalar":
            scalar = init_value
        else:
            inputs.append(init_value)
            maps.append(identity if role == "tensor" else ir.AffineMap.get(source.rank, 0, [ir.AffineDimExpr.get(1)]))
    op = _generic(inputs, [_empty(out_shape, element_type)], [*maps, identity], source.rank, element_type)
    body = op.regions[0].blocks[0]
    with ir.InsertionPoint(body):
        arguments = list(body.arguments)
        linalg.YieldOp([_apply_epilogue(arguments[0], scalar, arguments[1:-1], epilogue.relu)])
    return op.result
