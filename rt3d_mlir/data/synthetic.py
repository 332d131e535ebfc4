"""A synthetic video-classification set that needs temporal reasoning, generated from a seed.

Every clip shows one moving object (a disc, a square or a ring in a random
colour) over static distractor shapes and pixel noise. The class is *how* the
object moves: its direction (right, left, down, up) at a slow or a fast speed,
or whether it grows or shrinks in place. The object's shape, colour, start
point and the distractors are nuisances, so any single frame is uninformative:
a model has to compare frames. Clip ``i`` of a split depends only on
``(seed, split, i)``, so the set is the same on every machine and process.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from rt3d_mlir.data.clips import ClipDataset
from rt3d_mlir.errors import UserError

MOTION_CLASSES: tuple[str, ...] = (
    "slow right", "slow left", "slow down", "slow up",
    "fast right", "fast left", "fast down", "fast up",
    "grow", "shrink",
)  # fmt: skip
_DIRECTIONS = np.array([(0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (-1.0, 0.0)])  # (dy, dx)
_SPLIT_CODES = {"train": 0, "test": 1}
_NOISE_STD = 0.1
# Distance travelled over the clip, as a fraction of the frame side: the two speed
# ranges leave a gap so the speed classes are separable but not trivially so.
_SLOW_TRAVEL = (0.15, 0.3)
_FAST_TRAVEL = (0.45, 0.55)


def _shape_alpha(kind: int, yy: np.ndarray, xx: np.ndarray, cy, cx, radius) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a disc (0), square (1) or ring (2); broadcasts over frames."""
    dy, dx = yy - cy, xx - cx
    if kind == 1:
        distance = np.maximum(np.abs(dy), np.abs(dx))
    else:
        distance = np.sqrt(dy * dy + dx * dx)
    if kind == 2:
        return np.clip(0.5 + 0.35 * radius - np.abs(distance - 0.7 * radius), 0.0, 1.0)
    return np.clip(radius - distance + 0.5, 0.0, 1.0)


def render_clip(label: int, rng: np.random.Generator, input_size: tuple[int, int, int]) -> np.ndarray:
    """One clip of class ``label`` as float32 (3, frames, height, width)."""
    frames, height, width = input_size
    side = min(height, width)
    yy = np.arange(height, dtype=np.float64)[None, :, None]
    xx = np.arange(width, dtype=np.float64)[None, None, :]
    progress = np.linspace(0.0, 1.0, frames)[:, None, None]

    clip = np.broadcast_to(rng.uniform(-0.3, 0.3, size=(3, 1, 1, 1)), (3, frames, height, width)).copy()
    # A static distractor, fainter than the moving object.
    alpha = _shape_alpha(
        int(rng.integers(3)), yy, xx, rng.uniform(0, height), rng.uniform(0, width), rng.uniform(0.08, 0.15) * side
    )
    clip += (rng.uniform(-1, 1, size=3)[:, None, None, None] - clip) * alpha[None] * 0.5

    kind = int(rng.integers(3))
    if label < 8:
        travel_range = _SLOW_TRAVEL if label < 4 else _FAST_TRAVEL
        travel = rng.uniform(*travel_range) * side
        radius = np.full_like(progress, rng.uniform(0.14, 0.2) * side)
        dy, dx = _DIRECTIONS[label % 4]
        # Start where the object's centre half stays inside the frame along the whole path.
        margin = 0.5 * radius[0, 0, 0]
        start_y = rng.uniform(margin + max(0.0, -dy) * travel, height - margin - max(0.0, dy) * travel)
        start_x = rng.uniform(margin + max(0.0, -dx) * travel, width - margin - max(0.0, dx) * travel)
        cy, cx = start_y + dy * travel * progress, start_x + dx * travel * progress
    else:
        small, large = rng.uniform(0.06, 0.1) * side, rng.uniform(0.25, 0.33) * side
        radius = small + (large - small) * (progress if label == 8 else 1.0 - progress)
        cy, cx = rng.uniform(0.35, 0.65) * height, rng.uniform(0.35, 0.65) * width
    alpha = _shape_alpha(kind, yy, xx, cy, cx, radius)
    color = rng.uniform(-1, 1, size=3)
    color[rng.integers(3)] = rng.choice([-1.0, 1.0])  # keep the object visible against any background
    clip += (color[:, None, None, None] - clip) * alpha[None]
    clip += rng.normal(0.0, _NOISE_STD, size=clip.shape)
    return clip.astype(np.float32)


def _physical_memory() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


class SyntheticMotion(ClipDataset):
    """``num_clips`` clips of ``input_size`` (frames, height, width), classes balanced, held in memory."""

    def __init__(self, num_clips: int, input_size: tuple[int, int, int], seed: int = 0, split: str = "train") -> None:
        if split not in _SPLIT_CODES:
            raise UserError(f"unknown split '{split}'; use one of: {', '.join(_SPLIT_CODES)}")
        if num_clips < 1:
            raise UserError(f"a data set needs at least one clip, got {num_clips}")
        frames, height, width = input_size
        if frames < 2 or min(height, width) < 8:
            raise UserError(f"synthetic clips need at least 2 frames of 8x8 pixels, got {frames}x{height}x{width}")
        # the clips are held in memory: more than the machine has would be an hour of swapping or an OOM kill
        needed, available = num_clips * 3 * frames * height * width * 4, _physical_memory()
        if needed > available:
            raise UserError(f"{num_clips} synthetic clips of {frames}x{height}x{width} need {needed / 2**30:.1f} GiB "
                            f"of memory, more than this machine's {available / 2**30:.1f} GiB: use fewer or smaller clips")
        self.classes = MOTION_CLASSES
        self.input_size = (frames, height, width)
        split_code = _SPLIT_CODES[split]
        # Clip i has class i mod 10, so any prefix of a set is a smaller balanced set.
        self.labels = torch.arange(num_clips) % len(MOTION_CLASSES)
        self.clips = torch.from_numpy(
            np.stack(
                [
                    render_clip(int(label), np.random.default_rng([seed, split_code, index]), self.input_size)
                    for index, label in enumerate(self.labels)
                ]
            )
        )

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.clips[index], int(self.labels[index])
