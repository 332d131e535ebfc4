"""The synthetic motion set: deterministic from its seed, balanced, and its classes live in the motion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rt3d_mlir.data import MOTION_CLASSES, SyntheticMotion, build_datasets
from rt3d_mlir.errors import UserError

SIZE = (16, 24, 24)


def test_same_seed_same_clips_other_seed_or_split_other_clips() -> None:
    first = SyntheticMotion(20, SIZE, seed=7)
    again = SyntheticMotion(20, SIZE, seed=7)
    assert torch.equal(first.clips, again.clips) and torch.equal(first.labels, again.labels)
    assert not torch.equal(first.clips, SyntheticMotion(20, SIZE, seed=8).clips)
    assert not torch.equal(first.clips, SyntheticMotion(20, SIZE, seed=7, split="test").clips)
    # Clip i does not depend on how many clips were asked for.
    longer = SyntheticMotion(30, SIZE, seed=7)
    assert torch.equal(longer.clips[:20], first.clips) and torch.equal(longer.labels[:20], first.labels)
    clip, label = first[3]
    assert clip.shape == (3, *SIZE) and clip.dtype == torch.float32 and isinstance(label, int)


def test_classes_are_balanced() -> None:
    data = SyntheticMotion(100, SIZE, seed=1)
    assert torch.bincount(data.labels, minlength=len(MOTION_CLASSES)).tolist() == [10] * len(MOTION_CLASSES)


def _motion_energy(clip: torch.Tensor) -> np.ndarray:
    """Per frame, |frame - temporal mean| summed over colours: static background and distractors cancel."""
    frames = clip.numpy()
    energy = np.abs(frames - frames.mean(axis=1, keepdims=True)).sum(axis=0)
    return energy * (energy > 0.6)  # drop the pixel noise


def _centroid(energy: np.ndarray) -> np.ndarray:
    ys, xs = np.mgrid[: energy.shape[1], : energy.shape[2]]
    weights = energy.sum(axis=(1, 2))
    return np.stack([(energy * ys).sum(axis=(1, 2)) / weights, (energy * xs).sum(axis=(1, 2)) / weights], axis=1)


def test_the_class_is_the_motion_not_the_frame() -> None:
    data = SyntheticMotion(200, SIZE, seed=2)
    displacement = {label: [] for label in range(len(MOTION_CLASSES))}
    spread = {label: [] for label in range(len(MOTION_CLASSES))}
    for clip, label in data:
        energy = _motion_energy(clip)
        centroid = _centroid(energy)
        displacement[label].append(centroid[-3:].mean(0) - centroid[:3].mean(0))
        spread[label].append(float((energy[-3:] > 0).sum() - (energy[:3] > 0).sum()))
    mean = {label: np.mean(values, axis=0) for label, values in displacement.items()}
    for label, (dy, dx) in enumerate([(0, 1), (0, -1), (1, 0), (-1, 0)]):
        slow, fast = mean[label], mean[label + 4]
        assert np.dot(slow, (dy, dx)) > 1.0  # moves the declared way ...
        assert np.dot(fast, (dy, dx)) > 1.5 * np.dot(slow, (dy, dx))  # ... and fast moves farther
    assert np.mean(spread[8]) > 0 > np.mean(spread[9])  # grow, shrink
    # Single frames carry no class: the mean first frame is the same for opposite motions.
    first_frames = {label: data.clips[data.labels == label][:, :, 0].mean().item() for label in (0, 1)}
    assert abs(first_frames[0] - first_frames[1]) < 0.05


def test_bad_sizes_and_names_are_user_errors() -> None:
    with pytest.raises(UserError, match="at least 2 frames"):
        SyntheticMotion(4, (1, 16, 16))
    with pytest.raises(UserError, match="unknown split"):
        SyntheticMotion(4, SIZE, split="val")
    with pytest.raises(UserError, match="unknown data set 'kinetics'"):
        build_datasets("kinetics", SIZE)
    with pytest.raises(UserError, match="needs --data-root"):
        build_datasets("ucf101", SIZE)
