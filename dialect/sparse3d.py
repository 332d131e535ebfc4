"""The ``sparse3d`` dialect, defined in Python on IRDL.

Its one op, ``sparse3d.kgs_conv3d``, is a 3D convolution whose weight is
stored in compact kernel-group-structured (KGS) form. docs/sparse3d-dialect.md
is the full spec; in short::

  %out = "sparse3d.kgs_conv3d"(%input, %values, %group_offsets, %positions, %init) {
      group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>,
      strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>,
      dilations = array<i64: 1, 1, 1>}
    : (tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>,
       tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>

computes ``init + conv3d(zero_pad(input), W)`` where W is what
:func:`rt3d_mlir.kgs.expand` rebuilds from the compact operands.
"""

# No "from __future__ import annotations": ext reads the field annotations as live types.

from dataclasses import dataclass
from collections.abc import Callable

from torch_mlir import ir
from torch_mlir.dialects import irdl
from torch_mlir.dialects.ext import Dialect, Operand, Result

from rt3d_mlir.attributes import UnreadableAttribute, lookup
from rt3d_mlir.dialect.algorithm import Algorithm
from rt3d_mlir.groups import GroupShape


class _I64ArrayAttr(ir.DenseI64ArrayAttr):
    # ext lowers an attribute constraint through ``attr_name``, which the builtin
    # class lacks; the element type (i64) is checked by the verifier.
    attr_name = "builtin.dense_array"


# The bindings' Dialect and Operation take class keywords and create Sparse3D.Operation in
# __init_subclass__; mypy sees them as Any and knows neither.
class Sparse3D(Dialect, name="sparse3d"):  # type: ignore[call-arg]
    """KGS-sparse 3D convolutions."""


OPERATION_NAME = "sparse3d.kgs_conv3d"
OPERAND_NAMES = ("input", "values", "group_offsets", "positions", "init")
# Attribute name -> number of entries the verifier requires.
ARRAY_ATTRIBUTE_SIZES = {"group_shape": 2, "kernel_size": 3, "strides": 3, "padding": 6, "dilations": 3}
FILTER_PERMUTATION = "filter_permutation"  # array<i64>: compact filter i is output channel perm[i]
ACTIVATION = "activation"  # "relu": out = max(init + conv, 0)
ACTIVATIONS = ("relu",)
ALGORITHM = "algorithm"  # "direct" or "winograd<AXES, M>" (rt3d_mlir.dialect.algorithm)


class KgsConv3dOp(Sparse3D.Operation, name="kgs_conv3d"):  # type: ignore[call-arg, name-defined]
    """A 3D convolution (NCDHW input, weight in compact KGS form) accumulated into ``init``."""

    input: Operand[ir.RankedTensorType]
    values: Operand[ir.RankedTensorType]
    group_offsets: Operand[ir.RankedTensorType]
    positions: Operand[ir.RankedTensorType]
    init: Operand[ir.RankedTensorType]
    group_shape: _I64ArrayAttr
    kernel_size: _I64ArrayAttr
    strides: _I64ArrayAttr
    padding: _I64ArrayAttr
    dilations: _I64ArrayAttr
    result: Result[ir.RankedTensorType]

    @staticmethod
    def verify_invariants(op) -> bool:
        # MLIR calls this through C++: it must return a bool and never raise.
        try:
            problem = _first_problem(op)
        except Exception as error:  # a verifier bug must still surface as a diagnostic
            problem = f"internal verifier error: {type(error).__name__}: {error}"
        if problem is None:
            return True
        op.location.emit_error(f"'{OPERATION_NAME}' op {problem}")
        return False


def array_attribute(op: ir.OpView, name: str) -> list[int]:
    """The integers of one of the op's dense-array attributes."""
    return list(ir.DenseI64ArrayAttr(op.attributes[name]))


def filter_permutation(op: ir.OpView | ir.Operation) -> list[int] | None:
    """The op's ``filter_permutation`` (compact filter i writes output channel perm[i]), or None for the identity."""
    if FILTER_PERMUTATION not in op.attributes:
        return None
    return list(ir.DenseI64ArrayAttr(op.attributes[FILTER_PERMUTATION]))


def activation(op: ir.OpView | ir.Operation) -> str | None:
    """The op's fused ``activation`` ("relu"), or None."""
    if ACTIVATION not in op.attributes:
        return None
    return ir.StringAttr(op.attributes[ACTIVATION]).value


def algorithm(op: ir.OpView | ir.Operation) -> Algorithm:
    """The op's ``algorithm`` (direct when absent); the op must verify."""
    if ALGORITHM not in op.attributes:
        return Algorithm()
    return Algorithm.parse(ir.StringAttr(op.attributes[ALGORITHM]).value)


def output_size(size: int, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int) -> int:
    return (size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


def _first_problem(op: KgsConv3dOp) -> str | None:
    """The first inconsistency in the op's own operands, types and attributes, as a message naming it, or None.

    Local: it never looks at what defines an operand, so an op verifies wherever its tables come
    from. What constant tables hold is the table analysis' (:mod:`rt3d_mlir.dialect.tables`).
    """
    # Structure first: the IRDL constraints have not necessarily been checked yet.
    if len(op.operation.operands) != len(OPERAND_NAMES):
        return f"expects {len(OPERAND_NAMES)} operands ({', '.join(OPERAND_NAMES)}), got {len(op.operation.operands)}"
    if len(op.operation.results) != 1:
        return f"expects 1 result, got {len(op.operation.results)}"
    attrs: dict[str, list[int]] = {}
    for name, size in ARRAY_ATTRIBUTE_SIZES.items():
        if name not in op.attributes:
            return f"requires attribute '{name}'"
        problem = _i64_array_problem(op, name)
        if problem is not None:
            return problem
        attrs[name] = array_attribute(op, name)
        if len(attrs[name]) != size:
            return f"attribute '{name}' must have {size} entries, got {len(attrs[name])}"
        lowest = 0 if name == "padding" else 1
        if min(attrs[name]) < lowest:
            return f"attribute '{name}' entries must be >= {lowest}, got {attrs[name]}"

    input_type = ir.RankedTensorType(op.input.type)
    init_type = ir.RankedTensorType(op.init.type)
    result_type = ir.RankedTensorType(op.result.type)
    for name, tensor_type in (("input", input_type), ("init", init_type)):
        if tensor_type.rank != 5 or not tensor_type.has_static_shape:
            return f"'{name}' must be a static rank-5 (N, C, D, H, W) tensor, got {tensor_type}"
    if result_type != init_type:
        return f"result type {result_type} must equal the init type {init_type}"
    element_type = input_type.element_type
    if not isinstance(element_type, ir.FloatType) or init_type.element_type != element_type:
        return f"'input' and 'init' must have the same float element type, got {input_type} and {init_type}"

    batch, channels, *spatial = input_type.shape
    init_batch, filters, *out_spatial = init_type.shape
    if init_batch != batch:
        return f"'init' batch {init_batch} must equal the input batch {batch}"
    pad = attrs["padding"]
    expected = [
        output_size(spatial[d], attrs["kernel_size"][d], attrs["strides"][d], pad[d], pad[d + 3], attrs["dilations"][d])
        for d in range(3)
    ]
    if expected != out_spatial or min(expected) < 1:
        return f"output spatial size must be {expected} for this input, kernel, stride, padding and dilation, got {out_spatial}"

    tables: dict[str, ir.RankedTensorType] = {}
    for name in ("values", "group_offsets", "positions"):
        table_type = ir.RankedTensorType(getattr(op, name).type)
        if table_type.rank != 1 or not table_type.has_static_shape:
            return f"'{name}' must be a static 1-D tensor, got {table_type}"
        tables[name] = table_type
    if tables["values"].element_type != element_type:
        return f"'values' element type must be {element_type} like the input, got {tables['values'].element_type}"
    for name in ("group_offsets", "positions"):
        if not isinstance(tables[name].element_type, ir.IntegerType) or not ir.IntegerType(
            tables[name].element_type
        ).is_signless:
            return f"'{name}' must hold signless integers, got {tables[name]}"

    for optional in OPTIONAL_ATTRIBUTES:
        if optional.name in op.attributes:
            problem = optional.problem(op, filters)
            if problem is not None:
                return problem

    group_shape = GroupShape(*attrs["group_shape"])
    grid_m, grid_n = group_shape.grid(filters, channels)
    num_groups = grid_m * grid_n
    if tables["group_offsets"].shape[0] != num_groups + 1:
        return (
            f"group_offsets must have G+1 = {num_groups + 1} entries for {filters} filters x {channels} channels "
            f"in {group_shape} groups, got {tables['group_offsets'].shape[0]}"
        )
    return None


def _attribute(op: KgsConv3dOp, name: str) -> ir.Attribute | str:
    """The op's attribute ``name``, or its text where the bindings cannot represent it (then never a valid value)."""
    try:
        return lookup(op.attributes, name)
    except UnreadableAttribute as unreadable:
        return str(unreadable)


def _i64_array_problem(op: KgsConv3dOp, name: str) -> str | None:
    """Why the op's attribute ``name`` is not an ``array<i64: ...>``, or None when it is one."""
    attribute = _attribute(op, name)
    if isinstance(attribute, ir.DenseI64ArrayAttr):
        return None
    return f"attribute '{name}' must be array<i64: ...>, got {attribute}"


def _filter_permutation_problem(op: KgsConv3dOp, filters: int) -> str | None:
    problem = _i64_array_problem(op, FILTER_PERMUTATION)
    if problem is not None:
        return problem
    permutation = array_attribute(op, FILTER_PERMUTATION)
    if sorted(permutation) != list(range(filters)):
        shown = permutation if len(permutation) <= 16 else [*permutation[:16], "..."]
        return f"attribute '{FILTER_PERMUTATION}' must be a permutation of 0..{filters - 1} (the filters), got {shown}"
    return None


def _activation_problem(op: KgsConv3dOp, filters: int) -> str | None:
    attribute = _attribute(op, ACTIVATION)
    if not isinstance(attribute, ir.StringAttr) or ir.StringAttr(attribute).value not in ACTIVATIONS:
        return f"attribute '{ACTIVATION}' must be one of {', '.join(repr(a) for a in ACTIVATIONS)}, got {attribute}"
    return None


def _algorithm_problem(op: KgsConv3dOp, filters: int) -> str | None:
    attribute = _attribute(op, ALGORITHM)
    if not isinstance(attribute, ir.StringAttr):
        return f"attribute '{ALGORITHM}' must be a string ('direct' or 'winograd<AXES, M>'), got {attribute}"
    try:
        chosen = Algorithm.parse(ir.StringAttr(attribute).value)
    except ValueError as error:
        return f"attribute '{ALGORITHM}': {error}"
    names = ("kernel_size", "strides", "dilations")
    return chosen.problem(*(array_attribute(op, name) for name in names))


@dataclass(frozen=True)
class OptionalAttribute:
    """An attribute the op may carry; absent means the identity, so IR without it keeps its meaning.

    The verifier and the IRDL export both read :data:`OPTIONAL_ATTRIBUTES`, so neither can miss one.
    """

    name: str
    problem: Callable[[ir.OpView, int], str | None]  # why the op's value is wrong (given its filter count), or None
    irdl_constraint: Callable[[], ir.Value]  # builds the value's IRDL constraint at the current insertion point


OPTIONAL_ATTRIBUTES = (
    OptionalAttribute(FILTER_PERMUTATION, _filter_permutation_problem,
                      lambda: irdl.base(base_name=f"#{_I64ArrayAttr.attr_name}")),
    OptionalAttribute(ACTIVATION, _activation_problem,
                      lambda: irdl.any_of([irdl.is_(ir.StringAttr.get(name)) for name in ACTIVATIONS])),
    OptionalAttribute(ALGORITHM, _algorithm_problem, lambda: irdl.base(base_name="#builtin.string")),
)
# Marks an optional attribute's constraint in the IRDL export (see irdl_module).
IRDL_OPTIONAL_ATTRIBUTE = "sparse3d.optional_attribute"


def verified_attributes() -> tuple[str, ...]:
    """The names of every attribute the verifier checks: the required ones, then the optional ones."""
    return (*ARRAY_ATTRIBUTE_SIZES, *(optional.name for optional in OPTIONAL_ATTRIBUTES))


def irdl_module() -> ir.Module:
    """The dialect as IRDL, in the current Context, with every attribute of the op declared.

    IRDL's ``irdl.attributes`` has no optional entries (every one listed must be present), so an
    optional attribute is declared as its constraint in the operation's body, tagged with
    ``sparse3d.optional_attribute = "<name>"``, outside ``irdl.attributes``: a tool that loads the
    module accepts the op with or without it, though it does not check the value.
    """
    module = Sparse3D._emit_module()
    operation = next(op for op in module.body.operations[0].regions[0].blocks[0].operations
                     if op.name == "irdl.operation" and ir.StringAttr(op.attributes["sym_name"]).value == KgsConv3dOp._op_name)
    attributes = next(op for op in operation.regions[0].blocks[0].operations if op.name == "irdl.attributes")
    with ir.InsertionPoint(attributes):
        for optional in OPTIONAL_ATTRIBUTES:
            constraint = optional.irdl_constraint()
            constraint.owner.attributes[IRDL_OPTIONAL_ATTRIBUTE] = ir.StringAttr.get(optional.name)
    return module
