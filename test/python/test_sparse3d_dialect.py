"""The sparse3d verifier is local, the table analysis reads constant tables, the IRDL export declares every attribute."""

import re

import pytest
from torch_mlir import ir
from torch_mlir.dialects import irdl

from rt3d_mlir.diagnostics import PassError
from rt3d_mlir.dialect import make_context, verified_attributes
from rt3d_mlir.dialect.sparse3d import IRDL_OPTIONAL_ATTRIBUTE, OPERATION_NAME
from rt3d_mlir.dialect.tables import check_tables, table_problem
from rt3d_mlir.ir_walk import ops_named
from rt3d_mlir.tools import rt3d_opt

ATTRIBUTES = ("group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, "
              "padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>")
CONV_TYPES = "(tensor<1x4x8x8x8xf32>, tensor<432xf32>, tensor<2xi64>, tensor<27xi64>, tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32>"
ALL_POSITIONS = ", ".join(str(p) for p in range(27))


def conv_with_constant_tables(offsets: str, positions: str) -> str:
    return f"""
func.func @conv(%in: tensor<1x4x8x8x8xf32>, %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {{
  %v = arith.constant dense<1.0> : tensor<432xf32>
  %o = arith.constant dense<[{offsets}]> : tensor<2xi64>
  %p = arith.constant dense<[{positions}]> : tensor<27xi64>
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {{{ATTRIBUTES}}} : {CONV_TYPES}
  return %0 : tensor<1x4x8x8x8xf32>
}}"""


def only_conv(module: ir.Module) -> ir.Operation:
    [conv] = ops_named(module.operation, OPERATION_NAME)
    return conv


def test_an_op_whose_tables_are_function_arguments_verifies() -> None:
    with make_context():
        module = ir.Module.parse(f"""
func.func @conv(%in: tensor<1x4x8x8x8xf32>, %v: tensor<432xf32>, %o: tensor<2xi64>, %p: tensor<27xi64>,
                %init: tensor<1x4x8x8x8xf32>) -> tensor<1x4x8x8x8xf32> {{
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {{{ATTRIBUTES}}} : {CONV_TYPES}
  return %0 : tensor<1x4x8x8x8xf32>
}}""")
        assert module.operation.verify()
        assert table_problem(only_conv(module)) is None  # nothing to read


@pytest.mark.parametrize(
    "offsets, positions, message",
    [
        ("1, 27", ALL_POSITIONS, "group_offsets must start at 0, never decrease and end at P = 27 (the positions size), got 1 ... 27"),
        ("0, 27", ALL_POSITIONS.replace("6,", "5,"), "positions of group 0 must be strictly ascending, got 5 then 5"),
        ("0, 27", ", ".join(str(p) for p in range(1, 28)), "positions must lie in [0, 27) for kernel [3, 3, 3], got 1 ... 27"),
    ],
)
def test_wrong_constant_tables_verify_locally_and_the_table_analysis_names_the_problem(offsets, positions, message) -> None:
    with make_context():
        module = ir.Module.parse(conv_with_constant_tables(offsets, positions))
        assert module.operation.verify()  # what the tables hold is not the verifier's business
        conv = only_conv(module)
        assert table_problem(conv) == message
        with pytest.raises(PassError, match=re.escape(f"'{OPERATION_NAME}' op {message}")) as raised:
            check_tables(conv)
        assert raised.value.location.line == 6  # at the op


def test_the_table_analysis_reads_narrow_tables_as_unsigned_like_the_kernels() -> None:
    # A 3x7x7 kernel's last position, 146, is -110 as a signed i8.
    types = "(tensor<1x4x3x7x7xf32>, tensor<16xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x4x3x7x7xf32>) -> tensor<1x4x3x7x7xf32>"
    with make_context():
        module = ir.Module.parse(f"""
func.func @conv(%in: tensor<1x4x3x7x7xf32>, %init: tensor<1x4x3x7x7xf32>) -> tensor<1x4x3x7x7xf32> {{
  %v = arith.constant dense<1.0> : tensor<16xf32>
  %o = arith.constant dense<[0, 1]> : tensor<2xi8>
  %p = arith.constant dense<146> : tensor<1xi8>
  %0 = "sparse3d.kgs_conv3d"(%in, %v, %o, %p, %init) {{group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 7, 7>,
    strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 3, 3, 1, 3, 3>, dilations = array<i64: 1, 1, 1>}} : {types}
  return %0 : tensor<1x4x3x7x7xf32>
}}""")
        assert table_problem(only_conv(module)) is None
        module = ir.Module.parse(str(module).replace("dense<-110> : tensor<1xi8>", "dense<-109> : tensor<1xi8>"))
        assert table_problem(only_conv(module)) == "positions must lie in [0, 147) for kernel [3, 7, 7], got 147 ... 147"


def test_right_constant_tables_have_no_problem() -> None:
    with make_context():
        module = ir.Module.parse(conv_with_constant_tables("0, 27", ALL_POSITIONS))
        assert table_problem(only_conv(module)) is None
        check_tables(only_conv(module))


def test_rt3d_opt_reports_every_op_whose_tables_disagree(tmp_path, capsys) -> None:
    source = tmp_path / "two.mlir"
    first = conv_with_constant_tables("1, 27", ALL_POSITIONS)
    second = conv_with_constant_tables("0, 27", ALL_POSITIONS.replace("6,", "5,")).replace("@conv", "@other")
    source.write_text(first + "\n" + second + "\n")
    assert rt3d_opt.main([str(source)]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        f"{source}:6:8: error: '{OPERATION_NAME}' op group_offsets must start at 0, never decrease and end at P = 27 "
        "(the positions size), got 1 ... 27",
        f"{source}:14:8: error: '{OPERATION_NAME}' op positions of group 0 must be strictly ascending, got 5 then 5",
    ]


def declared_attributes(irdl_text: str) -> list[str]:
    """The attribute names that an IRDL module's kgs_conv3d declares: required ones, then the tagged optional ones."""
    with ir.Context():
        module = ir.Module.parse(irdl_text)
        [operation] = ops_named(module.operation, "irdl.operation")
        body = operation.regions[0].blocks[0].operations
        [required] = [op for op in body if op.name == "irdl.attributes"]
        names = [ir.StringAttr(name).value for name in ir.ArrayAttr(required.attributes["attributeValueNames"])]
        names += [ir.StringAttr(op.attributes[IRDL_OPTIONAL_ATTRIBUTE]).value for op in body
                  if IRDL_OPTIONAL_ATTRIBUTE in op.attributes]
    return names


@pytest.fixture(scope="module")
def emitted_irdl(tmp_path_factory) -> str:
    output = tmp_path_factory.mktemp("irdl") / "sparse3d.irdl.mlir"
    assert rt3d_opt.main(["--emit-irdl", "-o", str(output)]) == 0
    return output.read_text()


def test_the_irdl_export_declares_every_attribute_the_verifier_checks(emitted_irdl) -> None:
    declared = declared_attributes(emitted_irdl)
    assert sorted(declared) == sorted(verified_attributes())
    assert {"filter_permutation", "activation"} <= set(declared)
    assert len(declared) == len(set(declared))


def test_a_tool_that_loads_the_irdl_export_takes_the_op_with_and_without_its_optional_attributes(emitted_irdl) -> None:
    with ir.Context():  # no Python dialect: only what the IRDL says
        irdl.load_dialects(ir.Module.parse(emitted_irdl))
        bare = conv_with_constant_tables("0, 27", ALL_POSITIONS)
        for text in (bare, bare.replace("dilations = array<i64: 1, 1, 1>",
                                        'dilations = array<i64: 1, 1, 1>, activation = "relu", '
                                        "filter_permutation = array<i64: 3, 2, 1, 0>")):
            assert ir.Module.parse(text).operation.verify()
        with pytest.raises(ir.MLIRError, match="attribute \"dilations\" is expected but not provided"):
            ir.Module.parse(bare.replace(", dilations = array<i64: 1, 1, 1>", ""))
