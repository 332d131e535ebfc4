"""ONNX models in: torch.onnx.export'ed zoo models and an onnx.helper graph, checked against ONNX Runtime; bad files."""

import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import rt3d_mlir
from rt3d_mlir import cli
from rt3d_mlir.errors import UserError
from rt3d_mlir.models import build_model, example_input
from rt3d_mlir.onnx_import import load_onnx


def export(name: str, clip: tuple[int, int, int], path) -> torch.Tensor:
    """Writes zoo model ``name`` (width 1/8) as ONNX; returns torch eager's output on the example clip."""
    model = build_model(name, width=0.125, input_size=clip)
    example = example_input(name, input_size=clip)
    with warnings.catch_warnings():  # the TorchScript exporter warns that it is the legacy one
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (example,), str(path), dynamo=False, input_names=["clip"])
    with torch.no_grad():
        return model(example)


def test_rt3d_compile_takes_an_exported_c3d(tmp_path, capsys):
    path = tmp_path / "c3d.onnx"
    export("c3d", (16, 32, 32), path)
    assert cli.main(["compile", str(path), "--threads", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("x3x3x3 ") == 8 and "max |compiled - ONNX Runtime| = " in out


def test_exported_r2plus1d_matches_torch_and_onnx_runtime(tmp_path):
    path = tmp_path / "r2plus1d.onnx"
    expected = export("r2plus1d_18", (4, 32, 32), path)
    model = load_onnx(path)
    (clip,) = model.example_inputs()
    assert torch.equal(clip, example_input("r2plus1d_18", input_size=(4, 32, 32)))  # same seed, same clip
    compiled = rt3d_mlir.compile(model, clip)
    got = compiled(clip)
    tolerance = {"rtol": 1e-4, "atol": 1e-5 * float(expected.abs().max())}
    torch.testing.assert_close(got, expected, **tolerance)
    torch.testing.assert_close(got, model(clip), **tolerance)
    assert len(compiled.convs) == 37  # stem (2) + 8 blocks x 2 factored convs x 2 + 3 downsampling convs


ONNX_RUNTIME_IR_VERSION = 10  # onnx 1.23 writes IR version 14 by default, newer than ONNX Runtime 1.31 reads


def constant(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array.astype(np.float32), name)


def small_graph(opset: int = 17) -> onnx.ModelProto:
    """Conv (pads, strides, group 2) -> BatchNormalization -> Relu -> MaxPool, + a 1x1x1 Conv branch (Add),
    then Flatten -> Gemm and MatMul."""
    generator = np.random.default_rng(0)
    weights = [
        constant("w1", generator.normal(size=(8, 2, 3, 3, 3))),
        constant("b1", generator.normal(size=8)),
        constant("scale", generator.uniform(0.5, 1.5, 8)),
        constant("shift", generator.normal(size=8)),
        constant("mean", generator.normal(size=8)),
        constant("var", generator.uniform(0.5, 2.0, 8)),
        constant("w2", generator.normal(size=(8, 4, 1, 1, 1))),
        constant("fc", generator.normal(size=(5, 8 * 2 * 3 * 3))),
        constant("fc_bias", generator.normal(size=5)),
        constant("projection", generator.normal(size=(5, 3))),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="grouped_conv", pads=[1, 1, 1, 1, 1, 1], strides=[1, 2, 2], group=2),
        helper.make_node("BatchNormalization", ["c1", "scale", "shift", "mean", "var"], ["n1"], name="norm"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu"),
        helper.make_node("Conv", ["x", "w2"], ["c2"], name="shortcut", strides=[1, 2, 2]),
        helper.make_node("Add", ["r1", "c2"], ["sum"], name="residual"),
        helper.make_node("MaxPool", ["sum"], ["pooled"], name="pool", kernel_shape=[2, 2, 2], strides=[2, 2, 2]),
        helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc", "fc_bias"], ["logits"], name="classifier", transB=1),
        helper.make_node("MatMul", ["logits", "projection"], ["y"], name="projection_matmul"),
    ]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 11, 11])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], initializer=weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ONNX_RUNTIME_IR_VERSION)


def test_onnx_helper_graph_matches_onnx_runtime(tmp_path):
    path = tmp_path / "small.onnx"
    onnx.save(small_graph(), str(path))
    model = load_onnx(path)
    (clip,) = model.example_inputs()
    compiled = rt3d_mlir.compile(model, clip)
    expected = model(clip)
    torch.testing.assert_close(compiled(clip), expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))
    assert [conv.weight_shape[:2] for conv in compiled.convs] == [(8, 4), (8, 4)]
    assert compiled.convs[0].kept_fraction == 0.5  # the group-2 conv, dense with block-diagonal filters


def swish_graph() -> onnx.ModelProto:
    node = helper.make_node("Swish", ["x"], ["y"], name="activation_7")
    graph = helper.make_graph([node], "swish", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)])


def without_default_opset() -> onnx.ModelProto:
    model = small_graph()
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    return model


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a protobuf", "'{path}' is not an ONNX model: Error parsing message"),
        (swish_graph(), "ONNX op 'Swish' (node 'activation_7') is not supported by torch-mlir's ONNX importer"),
        (without_default_opset(), "'{path}' imports no opset of the default ONNX domain"),
        (small_graph(opset=99), f"'{{path}}' uses ONNX opset 99; the importer knows opsets up to {onnx.defs.onnx_opset_version()}"),
    ],
)
def test_bad_onnx_is_one_line_and_exit_1(content, message, tmp_path, capfd):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content if isinstance(content, bytes) else content.SerializeToString())
    assert cli.main(["compile", str(path)]) == 1
    err = capfd.readouterr().err.strip()
    assert err.startswith("rt3d: error: " + message.format(path=path)) and len(err.splitlines()) == 1


def test_missing_onnx_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_onnx(tmp_path / "missing.onnx")
