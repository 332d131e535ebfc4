"""torch.nn.Module (or a saved torch.export program, or an ONNX model) -> linalg-on-tensors MLIR, in a sparse3d-ready Context."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch_mlir import fx, ir
from torch_mlir.dialects import torch as torch_dialect
from torch_mlir.extras.fx_importer import FxImporter, FxImporterHooks, GraphNodeImporter, InputInfo, create_mlir_tensor_type

from rt3d_mlir.diagnostics import capturing_errors, failure_cause, without_operation
from rt3d_mlir.dialect import make_context
from rt3d_mlir.errors import UserError, first_line
from rt3d_mlir.onnx_import import OnnxModel, import_onnx
from rt3d_mlir.pipeline import run_pipeline


class _WeightsWithoutCopies(FxImporterHooks):
    """Imports weight tensors through numpy views.

    torch-mlir's default path goes through ``tensor.tolist()``: 24 of the 30
    seconds that importing C3D took. A real (non-fake) tensor can hand its buffer
    to the resource blob directly; anything else takes the default path.
    """

    def resolve_literal(self, gni: GraphNodeImporter, literal: object, info: InputInfo | None) -> ir.Value | None:
        if not isinstance(literal, torch.Tensor) or literal.numel() <= 1 or literal.dtype != torch.float32:
            return None
        try:
            with torch._subclasses.fake_tensor.unset_fake_temporarily():
                array = literal.detach().cpu().contiguous().numpy()
        except (RuntimeError, TypeError):
            return None
        shape = "_".join(str(d) for d in literal.shape)
        value = ir.DenseResourceElementsAttr.get_from_buffer(
            array, f"torch_tensor_{shape}_{literal.dtype}", create_mlir_tensor_type(literal)
        )
        return ir.Operation.create(
            "torch.vtensor.literal", results=[gni._cc.tensor_to_vtensor_type(literal)], attributes={"value": value}
        ).result


def load_exported_program(path: str | Path) -> torch.export.ExportedProgram:
    """Loads a program saved with ``torch.export.save`` (a ``.pt2`` file)."""
    if Path(path).is_dir():
        raise UserError(f"'{path}' is a directory, not a saved torch.export program (.pt2 file)")
    try:
        # torch logs the traceback of a failed load before it tries the old format; the error below says it in one line
        logging.disable(logging.ERROR)
        return torch.export.load(str(path))
    except FileNotFoundError:
        raise UserError(f"no such file: '{path}'") from None
    except OSError as error:
        raise UserError(f"cannot read '{path}': {error.strerror}") from None
    except Exception as error:
        raise UserError(f"'{path}' is not a saved torch.export program: {first_line(error)}") from None
    finally:
        logging.disable(logging.NOTSET)


def import_model(
    model: torch.nn.Module | torch.export.ExportedProgram | OnnxModel,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
    context: ir.Context | None = None,
) -> ir.Module:
    """Imports ``model`` as linalg-on-tensors MLIR (weights as constants) into a Context with sparse3d loaded.

    ``example_input`` fixes the static shapes; it may be omitted for an ExportedProgram or an
    :class:`~rt3d_mlir.onnx_import.OnnxModel` (``load_onnx``), whose shapes are static already.
    """
    if context is None:
        context = make_context()
    if not context.is_dialect_loaded("torch"):
        torch_dialect.register_dialect(context)
    if isinstance(model, OnnxModel):
        return lower_to_linalg(import_onnx(model, context), "ONNX model")
    if isinstance(model, torch.export.ExportedProgram):
        program = model
    else:
        if example_input is None:
            raise UserError("import_model needs an example input to trace a torch.nn.Module")
        args = example_input if isinstance(example_input, tuple) else (example_input,)
        try:
            # torch logs its own traceback for a failed trace; the error below says it in one line
            logging.disable(logging.ERROR)
            program = torch.export.export(model.eval(), args)
        except Exception as error:
            raise UserError(f"torch.export cannot trace {type(model).__name__}: {first_line(error)}") from None
        finally:
            logging.disable(logging.NOTSET)
    with capturing_errors(context) as errors:
        try:
            with warnings.catch_warnings():
                # torch 2.13's own pytree code trips its LeafSpec deprecation while copying the program
                warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning)
                module = fx.export_and_import(program, output_type="torch", fx_importer=FxImporter(context=context, hooks=_WeightsWithoutCopies()))
        except Exception as error:
            cause = without_operation(errors[0]) if errors else first_line(error)
            raise UserError(f"torch-mlir cannot lower the model to linalg: {cause}") from None
    return lower_to_linalg(module, "model")


# torch-mlir's own lowering, after our rewrite of what it refuses (grouped 3D convs)
TORCH_TO_LINALG = "ungroup-convolution, torch-backend-to-linalg-on-tensors-backend-pipeline{allow-non-finites=true}"


def lower_to_linalg(module: ir.Module, what: str) -> ir.Module:
    """Torch backend-contract IR -> linalg on tensors, in place; a failure is a one-line UserError about ``what``."""
    with capturing_errors(module.context) as errors:
        try:
            run_pipeline(module, TORCH_TO_LINALG)
        except ir.MLIRError as error:
            raise UserError(f"torch-mlir cannot lower the {what} to linalg: {failure_cause(error, errors)}") from None
    return module
