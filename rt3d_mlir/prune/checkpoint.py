"""Model checkpoints (what ``rt3d train``/``rt3d prune`` write and ``rt3d compile`` reads) and profiles.

A model checkpoint is a ``torch.save`` dict that loads with ``weights_only=True``:

    format        "rt3d-model-v1"
    model         zoo name ("c3d", "r2plus1d_18", "s3d")
    model_kwargs  {"num_classes": int, "width": float, "input_size": [frames, height, width]}
    state_dict    the weights; pruned weights are exact zeros
    profile       see :func:`build_profile`
    metrics       {"accuracy": float | None, ...} plain numbers
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rt3d_mlir.errors import UserError
from rt3d_mlir.kgs import GroupShape
from rt3d_mlir.models import build_model
from rt3d_mlir.prune.flops import LayerCost, kept_macs, measure_layers
from rt3d_mlir.prune.schemes import PrunableLayer

MODEL_FORMAT = "rt3d-model-v1"
PROFILE_FORMAT = "rt3d-prune-profile-v1"


def model_kwargs(num_classes: int, width: float, input_size: tuple[int, int, int]) -> dict[str, Any]:
    """The zoo arguments as plain Python types (so the checkpoint loads with weights_only=True)."""
    return {"num_classes": int(num_classes), "width": float(width), "input_size": [int(n) for n in input_size]}


def build_from_kwargs(model_name: str, kwargs: dict[str, Any]) -> nn.Module:
    return build_model(
        model_name, num_classes=kwargs["num_classes"], width=kwargs["width"], input_size=tuple(kwargs["input_size"])
    )


def pruned_layer_schemes(layers: list[PrunableLayer]) -> dict[str, tuple[str, GroupShape]]:
    return {layer.name: (layer.profile_scheme, layer.group_shape) for layer in layers}


def build_profile(
    model_name: str,
    input_size: tuple[int, int, int],
    costs: list[LayerCost],
    schemes: dict[str, tuple[str, GroupShape]],
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """Per-layer kept fraction and MACs of the model's current weights (plain types, JSON-ready).

    ``schemes`` maps each pruned conv to its scheme name and group shape; such a
    conv is costed as KGS code at that group shape, like the compiler does. Every
    other layer (scheme "dense") is costed dense. ``notes``: lines the report prints
    under the table (e.g. the layers a row scheme left dense, and why).
    """
    layers = []
    kept = 0
    for cost in costs:
        scheme, group_shape = schemes.get(cost.name, ("dense", None))
        macs = kept_macs(cost, group_shape)
        kept += macs
        weight = cost.module.weight.detach()
        layers.append(
            {
                "name": cost.name,
                "kind": cost.kind,
                "weight_shape": list(weight.shape),
                "scheme": scheme,
                "group_shape": str(group_shape) if group_shape else None,
                "kept_fraction": macs / cost.macs_dense,
                "weight_density": float((weight != 0).float().mean()),
                "macs_dense": cost.macs_dense,
                "macs_kept": macs,
            }
        )
    dense = sum(cost.macs_dense for cost in costs)
    return {
        "format": PROFILE_FORMAT,
        "model": model_name,
        "input_size": [int(n) for n in input_size],
        "macs_dense": dense,
        "macs_kept": kept,
        "flops_rate": dense / kept,
        "layers": layers,
        "notes": list(notes or []),
    }


def dense_profile(model_name: str, model: nn.Module, input_size: tuple[int, int, int]) -> dict[str, Any]:
    return build_profile(model_name, input_size, measure_layers(model, input_size), {})


def format_profile(profile: dict[str, Any]) -> str:
    """The per-layer sparsity/FLOPs table of a profile, as text."""
    rows = [f"{'layer':<28} {'scheme':<13} {'group':>7} {'kept':>7} {'density':>8} {'MACs dense':>14} {'MACs kept':>14}"]
    for layer in profile["layers"]:
        rows.append(
            f"{layer['name']:<28} {layer['scheme']:<13} {layer['group_shape'] or '-':>7} "
            f"{layer['kept_fraction']:>7.3f} {layer['weight_density']:>8.3f} "
            f"{layer['macs_dense']:>14,} {layer['macs_kept']:>14,}"
        )
    rows.append(
        f"total: {profile['macs_dense']:,} -> {profile['macs_kept']:,} MACs per clip, "
        f"FLOPs pruning rate {profile['flops_rate']:.2f}x"
    )
    rows += [f"note: {note}" for note in profile.get("notes", [])]
    return "\n".join(rows)


def save_atomically(payload: dict[str, Any], path: Path) -> None:
    """torch.save through a temporary file, so an interruption never leaves a half-written checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def read_checkpoint(path: str | os.PathLike, expected_format: str) -> dict[str, Any]:
    """Loads a checkpoint with weights_only=True; any unreadable or foreign file is a UserError."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"checkpoint {path} is a directory: name the .pt file")
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle's protocol before refusing it
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as error:
        raise UserError(f"cannot read checkpoint {path}: {error.strerror}") from None
    except Exception as error:  # torch raises many types for truncated or foreign files
        raise UserError(f"{path} is not a readable rt3d checkpoint ({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise UserError(f"{path} is not an {expected_format} checkpoint (found format {found!r})")
    return payload


def save_model_checkpoint(
    path: str | os.PathLike,
    model_name: str,
    kwargs: dict[str, Any],
    model: nn.Module,
    profile: dict[str, Any],
    metrics: dict[str, Any],
) -> None:
    state = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
    save_atomically(
        {
            "format": MODEL_FORMAT,
            "model": model_name,
            "model_kwargs": kwargs,
            "state_dict": state,
            "profile": profile,
            "metrics": metrics,
        },
        Path(path),
    )


def load_model_checkpoint(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuilds the zoo model of a model checkpoint, in eval mode, and returns it with the whole payload."""
    payload = read_checkpoint(path, MODEL_FORMAT)
    try:
        model = build_from_kwargs(payload["model"], payload["model_kwargs"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"{path} does not match its model description: {first_line}") from None
    return model.eval(), payload


def load_pruned_model(path: str | os.PathLike) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a checkpoint written by ``rt3d train`` or ``rt3d prune`` (eval mode) and its profile."""
    model, payload = load_model_checkpoint(path)
    profile = payload.get("profile")
    if not isinstance(profile, dict) or profile.get("format") != PROFILE_FORMAT:
        raise UserError(f"{path} has no valid pruning profile")
    return model, profile


def recompute_profile(model_name: str, model: nn.Module, profile: dict[str, Any]) -> dict[str, Any]:
    """The profile of ``model``'s weights at the schemes and group shapes ``profile`` names."""
    input_size = tuple(profile["input_size"])
    costs = measure_layers(model, input_size)
    described = {layer["name"]: layer for layer in profile["layers"]}
    if set(described) != {cost.name for cost in costs}:
        raise UserError("the profile does not describe the model's conv and linear layers")
    schemes = {
        name: (layer["scheme"], GroupShape.parse(layer["group_shape"]))
        for name, layer in described.items()
        if layer["group_shape"] is not None
    }
    return build_profile(model_name, input_size, costs, schemes, profile.get("notes"))
