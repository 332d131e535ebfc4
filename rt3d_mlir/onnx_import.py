""".onnx files in: torch-mlir's ONNX importer, then the same linalg-on-tensors module as a torch model gives.

>>> model = load_onnx("c3d.onnx")            # parsed, checked, shapes inferred (one-line UserError otherwise)
>>> module = import_model(model)             # rt3d_mlir.importer.import_model: linalg, as for a torch model
>>> reference = model(*model.example_inputs())  # ONNX Runtime's output, to check ours against

The ONNX ops become ``torch.operator "onnx.<Op>"`` ops; torch-mlir's
``convert-torch-onnx-to-torch`` rewrites those it knows into aten ops, and an
op left over is reported by op type and node name before anything else runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch_mlir import ir, passmanager

from rt3d_mlir.diagnostics import capturing_errors, failure_cause, location_name
from rt3d_mlir.entry_point import ENTRY_POINT
from rt3d_mlir.errors import UserError, first_line
from rt3d_mlir.ir_walk import ops_named

if TYPE_CHECKING:
    import onnx  # imported when a model is loaded: rt3d_mlir.importer imports this module
    import onnxruntime

_TO_TORCH = "builtin.module(func.func(convert-torch-onnx-to-torch))"
_TO_BACKEND_CONTRACT = "builtin.module(torch-onnx-to-torch-backend-pipeline)"


@dataclass
class OnnxModel:
    """A checked, shape-inferred ONNX model with static input shapes; calling it runs ONNX Runtime."""

    path: Path
    proto: onnx.ModelProto
    input_names: list[str]
    input_shapes: list[tuple[int, ...]]
    _session: onnxruntime.InferenceSession | None = field(default=None, init=False, repr=False)

    def example_inputs(self, seed: int = 0) -> tuple[torch.Tensor, ...]:
        generator = torch.Generator().manual_seed(seed)
        return tuple(torch.randn(shape, generator=generator) for shape in self.input_shapes)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The first output as ONNX Runtime computes it (the reference our compiled code is checked against)."""
        if self._session is None:
            try:
                import onnxruntime
            except ImportError:
                raise UserError("checking an ONNX model needs ONNX Runtime: pip install 'rt3d-mlir[onnx]'") from None
            self._session = onnxruntime.InferenceSession(self.proto.SerializeToString(), providers=["CPUExecutionProvider"])
        feeds = {name: tensor.detach().numpy() for name, tensor in zip(self.input_names, inputs)}
        return torch.from_numpy(np.asarray(self._session.run(None, feeds)[0]))


def load_onnx(path: str | Path) -> OnnxModel:
    """Parses, checks and shape-infers an .onnx file; any problem is a one-line UserError."""
    try:
        import onnx
        from google.protobuf.message import DecodeError
    except ImportError:
        raise UserError("ONNX models need the onnx package: pip install 'rt3d-mlir[onnx]'") from None

    path = Path(path)
    if path.is_dir():
        raise UserError(f"'{path}' is a directory, not an ONNX model (.onnx file)")
    if not path.is_file():
        raise UserError(f"no such file: '{path}'")
    try:
        proto = onnx.load(str(path))
    except OSError as error:
        raise UserError(f"cannot read '{path}': {error.strerror}") from None
    except (DecodeError, ValueError, RuntimeError) as error:
        raise UserError(f"'{path}' is not an ONNX model: {first_line(error)}") from None
    if not proto.ir_version:  # every exporter sets it; an empty file parses as an empty ModelProto
        raise UserError(f"'{path}' is not an ONNX model: it has no IR version (an empty or foreign file)")
    opsets = {entry.domain: entry.version for entry in proto.opset_import}
    newest = onnx.defs.onnx_opset_version()
    if "" not in opsets and "ai.onnx" not in opsets:
        raise UserError(f"'{path}' imports no opset of the default ONNX domain: re-export it with an opset (7 to {newest})")
    opset = opsets[""] if "" in opsets else opsets["ai.onnx"]
    if opset > newest:
        raise UserError(f"'{path}' uses ONNX opset {opset}; the importer knows opsets up to {newest}")
    try:
        onnx.checker.check_model(proto)
        proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise UserError(f"'{path}' is not a valid ONNX model: {first_line(error)}") from None
    initializers = {tensor.name for tensor in proto.graph.initializer}
    names, shapes = [], []
    for value in proto.graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        symbolic = [d.dim_param or "?" for d in dims if not d.HasField("dim_value")]
        if symbolic:
            raise UserError(f"input '{value.name}' of '{path}' has a symbolic dimension '{symbolic[0]}': "
                            "rt3d compiles static shapes, export the model with fixed input sizes")
        names.append(value.name)
        shapes.append(tuple(d.dim_value for d in dims))
    proto.graph.name = ENTRY_POINT  # the importer names the function after the graph
    return OnnxModel(path, proto, names, shapes)


def _reject_unconverted_ops(module: ir.Module) -> None:
    for operation in ops_named(module.operation, "torch.operator"):
        name = ir.StringAttr(operation.attributes["name"]).value
        if name.startswith("onnx."):
            raise UserError(f"ONNX op '{name.removeprefix('onnx.')}' (node '{location_name(operation.location)}') "
                            "is not supported by torch-mlir's ONNX importer")


def import_onnx(model: OnnxModel, context: ir.Context) -> ir.Module:
    """``model`` as torch backend-contract IR in ``context`` (which has the torch dialect registered).

    ``rt3d_mlir.importer.import_model`` lowers it on to linalg, like a torch model.
    """
    from torch_mlir.extras import onnx_importer

    info = onnx_importer.ModelInfo(model.proto)
    module = info.create_module(context=context)
    try:
        onnx_importer.NodeImporter.define_function(info.main_graph, module.operation).import_all()
    except onnx_importer.OnnxImportError as error:
        raise UserError(f"torch-mlir's ONNX importer cannot read '{model.path}': {first_line(error)}") from None
    with context, capturing_errors(context) as errors:
        try:
            passmanager.PassManager.parse(_TO_TORCH).run(module.operation)
            _reject_unconverted_ops(module)
            passmanager.PassManager.parse(_TO_BACKEND_CONTRACT).run(module.operation)
        except ir.MLIRError as error:
            raise UserError(f"torch-mlir cannot lower the ONNX model to linalg: {failure_cause(error, errors)}") from None
    return module
