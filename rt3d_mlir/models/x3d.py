"""X3D (Feichtenhofer, CVPR 2020): X3D-XS, X3D-S and X3D-M, one network at three clip sizes.

The three share the expanded network (width 24/48/96/192 over stages res2-res5
with 3, 5, 11 and 7 blocks, bottleneck expansion 2.25) and differ in the clip
they take: XS 4x160x160, S 13x160x160, M 16x224x224. Each block is a 1x1x1
expansion, a depthwise 3x3x3 conv (groups = channels), squeeze-excitation
(every other block, ratio 1/16), swish, a 1x1x1 projection and a residual;
the stem is a 1x3x3 conv followed by a depthwise 5x1x1 one; the head is a
1x1x1 conv, global pooling and two fully connected layers (2048, classes),
as in the paper's Table 1 and its released code.
"""

from __future__ import annotations

import torch
from torch import nn

STAGE_WIDTHS = (24, 48, 96, 192)
STAGE_DEPTHS = (3, 5, 11, 7)
EXPANSION = 2.25
SE_RATIO = 0.0625
HEAD_WIDTH = 2048
# A KGS pruning profile (no paper gives one for X3D): the 1x1x1 expansions and projections, 70% of
# their kernel groups each; the depthwise convs, one weight per channel and position, stay dense.
KGS_PRUNING = {"conv_a": 0.7, "conv_c": 0.7}


def block_layer(module_path: str) -> str:
    """``stages.3.conv_a.0`` -> ``conv_a``: the layer of a block that a KGS_PRUNING key names."""
    return next((part for part in module_path.split(".") if part.startswith("conv_")), module_path)


def round_width(width: float, divisor: int = 8) -> int:
    """The paper's channel rounding: to a multiple of 8, at least 8, never below 90% of ``width``."""
    rounded = max(divisor, int(width + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * width else rounded


def conv_norm(in_channels: int, out_channels: int, kernel: tuple[int, int, int], stride: tuple[int, int, int] = (1, 1, 1),
              groups: int = 1) -> list[nn.Module]:
    depth, height, width = kernel
    padding = (depth // 2, height // 2, width // 2)
    return [nn.Conv3d(in_channels, out_channels, kernel, stride, padding, groups=groups, bias=False), nn.BatchNorm3d(out_channels)]


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        reduced = round_width(channels * SE_RATIO)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.reduce = nn.Conv3d(channels, reduced, 1)
        self.expand = nn.Conv3d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.expand(torch.relu(self.reduce(self.pool(x)))))


class X3DBlock(nn.Module):
    def __init__(self, in_channels: int, inner: int, out_channels: int, stride: int, squeeze: bool) -> None:
        super().__init__()
        self.conv_a = nn.Sequential(*conv_norm(in_channels, inner, (1, 1, 1)), nn.ReLU(inplace=True))
        self.conv_b = nn.Sequential(*conv_norm(inner, inner, (3, 3, 3), (1, stride, stride), groups=inner))
        self.se = SqueezeExcitation(inner) if squeeze else nn.Identity()
        self.swish = nn.SiLU()
        self.conv_c = nn.Sequential(*conv_norm(inner, out_channels, (1, 1, 1)))
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(*conv_norm(in_channels, out_channels, (1, 1, 1), (1, stride, stride)))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.shortcut is None else self.shortcut(x)
        return self.relu(self.conv_c(self.swish(self.se(self.conv_b(self.conv_a(x))))) + residual)


class X3D(nn.Module):
    """X3D-XS/S/M with multipliers on every channel count and on every stage's depth (1.0 is the paper's network)."""

    def __init__(self, num_classes: int = 101, width: float = 1.0, depth: float = 1.0) -> None:
        super().__init__()
        widths = [round_width(c * width) for c in STAGE_WIDTHS]
        self.stem = nn.Sequential(
            nn.Conv3d(3, widths[0], (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False),
            *conv_norm(widths[0], widths[0], (5, 1, 1), groups=widths[0]),
            nn.ReLU(inplace=True),
        )
        blocks = []
        in_channels = widths[0]
        for channels, blocks_in_stage in zip(widths, STAGE_DEPTHS):
            inner = int(channels * EXPANSION)  # 54, 108, 216, 432 at width 1
            for index in range(max(1, round(blocks_in_stage * depth))):
                blocks.append(X3DBlock(in_channels, inner, channels, 2 if index == 0 else 1, squeeze=index % 2 == 0))
                in_channels = channels
        self.stages = nn.Sequential(*blocks)
        head_in = int(in_channels * EXPANSION)
        head_width = round_width(HEAD_WIDTH * width)
        self.conv5 = nn.Sequential(*conv_norm(in_channels, head_in, (1, 1, 1)), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.lin5 = nn.Sequential(nn.Conv3d(head_in, head_width, 1, bias=False), nn.ReLU(inplace=True))
        self.fc = nn.Linear(head_width, num_classes)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = self.lin5(self.pool(self.conv5(self.stages(self.stem(clip)))))
        return self.fc(torch.flatten(x, 1))
