"""Video-classification data: a synthetic motion set (no download) and UCF101/HMDB51 from disk."""

from __future__ import annotations

from pathlib import Path

from rt3d_mlir.data.clips import ClipDataset
from rt3d_mlir.data.synthetic import MOTION_CLASSES, SyntheticMotion
from rt3d_mlir.data.video_folder import OFFICIAL_SETS, VideoFolder
from rt3d_mlir.errors import UserError

DATASETS = ("synthetic", *OFFICIAL_SETS)


def build_datasets(
    name: str,
    input_size: tuple[int, int, int],
    *,
    seed: int = 0,
    train_clips: int = 1000,
    test_clips: int = 500,
    root: str | Path | None = None,
    splits_root: str | Path | None = None,
    split: int = 1,
) -> tuple[ClipDataset, ClipDataset, int]:
    """The train and test sets of ``name`` at clip size ``input_size``, and the number of classes."""
    if name == "synthetic":
        return (SyntheticMotion(train_clips, input_size, seed, "train"), SyntheticMotion(test_clips, input_size, seed, "test"),
                len(MOTION_CLASSES))
    if name not in OFFICIAL_SETS:
        raise UserError(f"unknown data set '{name}'; choose one of: {', '.join(DATASETS)}")
    if root is None or splits_root is None:
        raise UserError(f"{name} needs --data-root (the videos or frame folders) and --splits-root (the split files)")
    train = VideoFolder(name, root, splits_root, split, "train", input_size)
    test = VideoFolder(name, root, splits_root, split, "test", input_size)
    return train, test, len(train.classes)


__all__ = ["DATASETS", "MOTION_CLASSES", "ClipDataset", "SyntheticMotion", "VideoFolder", "build_datasets"]
