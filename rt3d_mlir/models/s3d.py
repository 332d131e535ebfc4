"""S3D (Xie et al., ECCV 2018): Inception-v1 with separable (1xkxk then kx1x1) 3D convolutions."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int, kernel, stride=1, padding=0) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel, stride, padding, bias=False),
        nn.BatchNorm3d(out_channels, eps=1e-3, momentum=1e-3),
        nn.ReLU(inplace=True),
    )


def separable_conv(in_channels: int, out_channels: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    """A kxkxk conv factored into a 1xkxk spatial and a kx1x1 temporal conv, each with BN and ReLU."""
    return nn.Sequential(
        conv_bn_relu(in_channels, out_channels, (1, kernel, kernel), (1, stride, stride), (0, padding, padding)),
        conv_bn_relu(out_channels, out_channels, (kernel, 1, 1), (stride, 1, 1), (padding, 0, 0)),
    )


class SepInception(nn.Module):
    def __init__(self, in_channels: int, b0: int, b1_mid: int, b1: int, b2_mid: int, b2: int, b3: int) -> None:
        super().__init__()
        self.branch0 = conv_bn_relu(in_channels, b0, 1)
        self.branch1 = nn.Sequential(conv_bn_relu(in_channels, b1_mid, 1), separable_conv(b1_mid, b1, 3, 1, 1))
        self.branch2 = nn.Sequential(conv_bn_relu(in_channels, b2_mid, 1), separable_conv(b2_mid, b2, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, 1, 1), conv_bn_relu(in_channels, b3, 1))
        self.out_channels = b0 + b1 + b2 + b3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


# Mixed_3b ... Mixed_5c: (b0, b1_mid, b1, b2_mid, b2, b3); a max pooling precedes 4b and 5b.
S3D_INCEPTIONS = (
    ("mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("mixed_5c", (384, 192, 384, 48, 128, 128)),
)


class S3D(nn.Module):
    """S3D with a width multiplier (1.0 is the paper's network, 16x224x224 clips)."""

    def __init__(self, num_classes: int = 101, width: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()

        def scaled(c: int) -> int:
            return max(1, int(round(c * width)))

        layers: dict[str, nn.Module] = {
            "conv1": separable_conv(3, scaled(64), 7, 2, 3),
            "pool1": nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
            "conv2": conv_bn_relu(scaled(64), scaled(64), 1),
            "conv3": separable_conv(scaled(64), scaled(192), 3, 1, 1),
            "pool2": nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
        }
        channels = scaled(192)
        for name, widths in S3D_INCEPTIONS:
            if name == "mixed_4b":
                layers["pool3"] = nn.MaxPool3d(3, 2, 1)
            if name == "mixed_5b":
                layers["pool4"] = nn.MaxPool3d(2, 2)
            block = SepInception(channels, *(scaled(c) for c in widths))
            layers[name] = block
            channels = block.out_channels
        self.features = nn.Sequential(OrderedDict(layers))
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv3d(channels, num_classes, 1)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        x = self.features(clip)
        # Global average pooling: the paper's 2x7x7 average pool at 16x224x224, any clip size here.
        x = torch.mean(x, dim=(2, 3, 4), keepdim=True)
        return torch.flatten(self.classifier(self.dropout(x)), 1)
