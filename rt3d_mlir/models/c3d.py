"""C3D (Tran et al., ICCV 2015): eight 3x3x3 convolutions, five poolings, three FC layers."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from rt3d_mlir.errors import UserError

# (name, output channels) per conv; a pooling follows the layers named in _POOL_AFTER.
C3D_CONVS: tuple[tuple[str, int], ...] = (
    ("conv1a", 64),
    ("conv2a", 128),
    ("conv3a", 256),
    ("conv3b", 256),
    ("conv4a", 512),
    ("conv4b", 512),
    ("conv5a", 512),
    ("conv5b", 512),
)
_POOL_AFTER = {"conv1a": "pool1", "conv2a": "pool2", "conv3b": "pool3", "conv4b": "pool4", "conv5b": "pool5"}


def _pool(name: str) -> nn.MaxPool3d:
    if name == "pool1":  # keeps early temporal information, as in the paper
        return nn.MaxPool3d((1, 2, 2), (1, 2, 2))
    if name == "pool5":
        return nn.MaxPool3d(2, 2, padding=(0, 1, 1))
    return nn.MaxPool3d(2, 2)


class C3D(nn.Module):
    """C3D with a configurable clip size, width multiplier and class count.

    The default (16x112x112 clips, width 1.0, 101 classes) is the network of the
    paper: 38.5 GMAC, of which the convolutions are 38.4 G.
    """

    def __init__(
        self,
        num_classes: int = 101,
        input_size: tuple[int, int, int] = (16, 112, 112),
        width: float = 1.0,
        fc_features: int = 4096,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        names: list[str] = []
        in_channels = 3
        for conv_name, channels in C3D_CONVS:
            out_channels = max(1, int(round(channels * width)))
            layers += [nn.Conv3d(in_channels, out_channels, 3, padding=1), nn.ReLU(inplace=True)]
            names += [conv_name, conv_name.replace("conv", "relu")]
            in_channels = out_channels
            if conv_name in _POOL_AFTER:
                layers.append(_pool(_POOL_AFTER[conv_name]))
                names.append(_POOL_AFTER[conv_name])
        self.features = nn.Sequential(OrderedDict(zip(names, layers)))
        try:
            with torch.no_grad():
                flat = self.features(torch.zeros(1, 3, *input_size)).numel()
        except RuntimeError:
            # five poolings: time and space are halved four times before pool5
            raise UserError(f"a {'x'.join(map(str, input_size))} clip is too small for C3D: it needs at least 16 frames and 16x16 pixels") from None
        fc = max(1, int(round(fc_features * width)))
        self.classifier = nn.Sequential(
            nn.Linear(flat, fc),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(fc, fc),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(fc, num_classes),
        )

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(clip), 1))
