"""The base of our data sets: (clip, label) pairs and a known size (torch's Dataset declares no ``__len__``)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch.utils.data import Dataset


class ClipDataset(Dataset[tuple[torch.Tensor, int]], ABC):
    """Clips as float32 (3, frames, height, width) tensors with their class numbers."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]: ...
