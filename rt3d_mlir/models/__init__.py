"""The model zoo: faithful C3D, R(2+1)D-18, S3D and X3D definitions, built by name.

>>> model = build_model("c3d", input_size=(8, 56, 56))
>>> example = example_input("c3d", input_size=(8, 56, 56))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from rt3d_mlir.errors import UserError
from rt3d_mlir.models.c3d import C3D
from rt3d_mlir.models.r2plus1d import R2Plus1D18
from rt3d_mlir.models.s3d import S3D
from rt3d_mlir.models.x3d import X3D


@dataclass(frozen=True)
class ModelSpec:
    """How to build one zoo model and the clip size its paper uses."""

    build: Callable[..., nn.Module]
    input_size: tuple[int, int, int]  # frames, height, width
    input_size_matters: bool  # C3D's fc6 is sized by the clip; the others pool globally
    summary: str


MODELS: dict[str, ModelSpec] = {
    "c3d": ModelSpec(C3D, (16, 112, 112), True, "C3D, 8 3x3x3 convs (38.5 GMAC at 16x112x112)"),
    "r2plus1d_18": ModelSpec(R2Plus1D18, (16, 112, 112), False, "R(2+1)D-18, factored 1x3x3 + 3x1x1 convs"),
    "s3d": ModelSpec(S3D, (16, 224, 224), False, "S3D, separable Inception-v1"),
    # one network, three clip sizes (the paper's X3D-XS, -S and -M)
    "x3d_xs": ModelSpec(X3D, (4, 160, 160), False, "X3D-XS, depthwise 3x3x3 bottlenecks with squeeze-excitation and swish"),
    "x3d_s": ModelSpec(X3D, (13, 160, 160), False, "X3D-S, X3D-XS's network on 13-frame clips"),
    "x3d_m": ModelSpec(X3D, (16, 224, 224), False, "X3D-M, X3D-XS's network on 16x224x224 clips"),
}


MAX_WIDTH = 8.0  # channel counts up to 8x the paper's (C3D: 4096 filters in conv5)
MAX_CLIP_VALUES = 2**31 - 1  # 3 x frames x height x width of one clip


def check_width(width: float) -> float:
    """``width`` if it is a usable channel width multiplier, else a UserError."""
    if not (math.isfinite(width) and 0 < width <= MAX_WIDTH):
        raise UserError(f"width multiplier must be positive and at most {MAX_WIDTH:g}, got {width}")
    return width


def check_input_size(input_size: Sequence[int]) -> tuple[int, int, int]:
    """``input_size`` as a (frames, height, width) tuple if each is positive and the clip is not too large, else a UserError."""
    clip = "x".join(map(str, input_size))
    if len(input_size) != 3 or min(input_size) < 1:
        raise UserError(f"a clip is FRAMESxHEIGHTxWIDTH with each size at least 1, got {clip}")
    if 3 * math.prod(input_size) > MAX_CLIP_VALUES:
        raise UserError(f"a {clip} clip is too large: 3 x frames x height x width must be at most 2^31 - 1 values")
    frames, height, width = input_size
    return frames, height, width


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UserError(f"unknown model '{name}'; the zoo has: {', '.join(MODELS)}")
    return MODELS[name]


def build_model(
    name: str,
    num_classes: int = 101,
    width: float = 1.0,
    input_size: tuple[int, int, int] | None = None,
) -> nn.Module:
    """Builds a zoo model in eval mode with PyTorch's default (random) initialisation."""
    spec = _spec(name)
    kwargs: dict = {"num_classes": num_classes, "width": check_width(width)}
    if spec.input_size_matters:
        kwargs["input_size"] = check_input_size(input_size or spec.input_size)
    return spec.build(**kwargs).eval()


def example_input(
    name: str, batch: int = 1, input_size: tuple[int, int, int] | None = None, seed: int = 0
) -> torch.Tensor:
    """A random clip of the model's paper size (or input_size), NCDHW."""
    frames, height, width = check_input_size(input_size or _spec(name).input_size)
    if batch * 3 * frames * height * width > MAX_CLIP_VALUES:  # checked before torch tries to allocate it
        raise UserError(f"a batch of {batch} {frames}x{height}x{width} clips is too large: "
                        "batch x 3 x frames x height x width must be at most 2^31 - 1 values")
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, frames, height, width, generator=generator)


__all__ = ["MODELS", "ModelSpec", "build_model", "check_input_size", "check_width", "example_input", "C3D", "R2Plus1D18", "S3D", "X3D"]
