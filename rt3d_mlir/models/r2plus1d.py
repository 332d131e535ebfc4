"""R(2+1)D-18 (Tran et al., CVPR 2018): every 3x3x3 conv factored into 1x3x3 spatial + 3x1x1 temporal.

The mid-channel counts follow the paper's parameter-matching rule, which gives
the odd widths 144, 230, 288, 460, 576, 921 and 1152.
"""

from __future__ import annotations

import torch
from torch import nn


def mid_channels(in_channels: int, out_channels: int) -> int:
    """Channels between the spatial and the temporal conv, matching a full 3x3x3 conv's parameters."""
    return (in_channels * out_channels * 27) // (in_channels * 9 + 3 * out_channels)


def conv2plus1d(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    mid = mid_channels(in_channels, out_channels)
    return nn.Sequential(
        nn.Conv3d(in_channels, mid, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, out_channels, (3, 1, 1), (stride, 1, 1), (1, 0, 0), bias=False),
    )


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(conv2plus1d(in_channels, out_channels, stride), nn.BatchNorm3d(out_channels), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv2plus1d(out_channels, out_channels), nn.BatchNorm3d(out_channels))
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm3d(out_channels)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)


class R2Plus1D18(nn.Module):
    """R(2+1)D-18 with a width multiplier (1.0 is the paper's network)."""

    def __init__(self, num_classes: int = 101, width: float = 1.0) -> None:
        super().__init__()
        widths = [max(1, int(round(c * width))) for c in (64, 128, 256, 512)]
        stem_mid = max(1, int(round(45 * width)))
        self.stem = nn.Sequential(
            nn.Conv3d(3, stem_mid, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
            nn.BatchNorm3d(stem_mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(stem_mid, widths[0], (3, 1, 1), 1, (1, 0, 0), bias=False),
            nn.BatchNorm3d(widths[0]),
            nn.ReLU(inplace=True),
        )
        stages = []
        in_channels = widths[0]
        for index, channels in enumerate(widths):
            stride = 1 if index == 0 else 2
            stages.append(nn.Sequential(BasicBlock(in_channels, channels, stride), BasicBlock(channels, channels)))
            in_channels = channels
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(clip)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
