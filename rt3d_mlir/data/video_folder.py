"""UCF101 and HMDB51 from disk, with their official train/test split files.

Layout (``root`` holds the data, ``splits_root`` the unpacked official split files):

- UCF101: ``splits_root/classInd.txt`` ("1 ApplyEyeMakeup"), ``trainlist0{k}.txt``
  ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1") and ``testlist0{k}.txt``.
- HMDB51: ``splits_root/<class>_test_split{k}.txt`` ("<video>.avi 1"; 1 train,
  2 test, 0 unused); classes are numbered in sorted name order.

Each listed video ``<class>/<name>.avi`` is found under ``root`` either as a
folder of frames, ``root/<class>/<name>/`` (or ``root/<name>/``), or as the video
file itself. PNG frames are decoded in Python; JPEG frames and video files are
decoded by the ``ffmpeg`` program, which must then be on PATH.

A clip is ``frames`` consecutive frames from the middle of the video (looped
when the video is shorter), resized to height x width, scaled to [-1, 1]. The
choice is deterministic, so a resumed training run sees exactly the same data.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rt3d_mlir.data.clips import ClipDataset
from rt3d_mlir.data.png import read_png
from rt3d_mlir.errors import UserError

OFFICIAL_SETS = ("ucf101", "hmdb51")
_FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
_HMDB_SUBSETS = {"train": "1", "test": "2"}


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise UserError(f"split file {path} does not exist (is --splits-root the unpacked official split folder?)")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot read split file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"split file {path} is not text (is --splits-root the unpacked official split folder?)") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _fields(path: Path, line: str, expected: str) -> list[str]:
    """The two fields of a split file's line, else a UserError quoting it."""
    fields = line.split()
    if len(fields) != 2:
        raise UserError(f"split file {path} has the line '{line[:60]}', expected '{expected}'")
    return fields


def _ucf101_split(splits_root: Path, split: int, subset: str) -> tuple[list[str], list[tuple[str, int]]]:
    classes: list[str] = []
    for line in _read_lines(splits_root / "classInd.txt"):
        number, name = _fields(splits_root / "classInd.txt", line, "NUMBER CLASS")
        if number != str(len(classes) + 1):
            raise UserError(f"{splits_root / 'classInd.txt'} must number its classes 1, 2, ... in order")
        classes.append(name)
    index = {name: number for number, name in enumerate(classes)}
    videos = []
    for line in _read_lines(splits_root / f"{subset}list0{split}.txt"):
        relative = line.split()[0]
        class_name = relative.split("/")[0]
        if class_name not in index:
            raise UserError(f"split file lists {relative}, whose class is not in classInd.txt")
        videos.append((relative, index[class_name]))
    return classes, videos


def _hmdb51_split(splits_root: Path, split: int, subset: str) -> tuple[list[str], list[tuple[str, int]]]:
    suffix = f"_test_split{split}.txt"
    files = sorted(splits_root.glob(f"*{suffix}"))
    if not files:
        raise UserError(f"no HMDB51 split files *{suffix} in {splits_root}")
    classes = [path.name[: -len(suffix)] for path in files]
    videos = []
    for label, (class_name, path) in enumerate(zip(classes, files)):
        for line in _read_lines(path):
            name, membership = _fields(path, line, "VIDEO 0|1|2")
            if membership == _HMDB_SUBSETS[subset]:
                videos.append((f"{class_name}/{name}", label))
    return classes, videos


def _ffmpeg_frames(path: Path, height: int, width: int) -> np.ndarray:
    """Every frame of a video or image file, resized by ffmpeg, as uint8 (n, height, width, 3)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise UserError(f"decoding {path.suffix} files needs the ffmpeg program on PATH (PNG frames need nothing)")
    command = [ffmpeg, "-v", "error", "-i", str(path), "-vf", f"scale={width}:{height}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    result = subprocess.run(command, capture_output=True, check=False)
    frame_bytes = height * width * 3
    if result.returncode != 0 or not result.stdout or len(result.stdout) % frame_bytes:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise UserError(f"ffmpeg cannot decode {path}: {message[-1] if message else 'no frames'}")
    return np.frombuffer(result.stdout, dtype=np.uint8).reshape(-1, height, width, 3)


class VideoFolder(ClipDataset):
    """One subset ('train' or 'test') of one official split of UCF101 or HMDB51."""

    def __init__(
        self,
        name: str,
        root: str | Path,
        splits_root: str | Path,
        split: int,
        subset: str,
        input_size: tuple[int, int, int],
    ) -> None:
        if name not in OFFICIAL_SETS:
            raise UserError(f"unknown data set '{name}'; choose one of: {', '.join(OFFICIAL_SETS)}")
        if split not in (1, 2, 3):
            raise UserError(f"{name} has official splits 1, 2 and 3, got {split}")
        if subset not in _HMDB_SUBSETS:
            raise UserError(f"subset must be train or test, got '{subset}'")
        self.root = Path(root)
        if not self.root.is_dir():
            raise UserError(f"data root {self.root} is not a directory")
        read_split = _ucf101_split if name == "ucf101" else _hmdb51_split
        self.classes, self.videos = read_split(Path(splits_root), split, subset)
        if not self.videos:
            raise UserError(f"split {split} of {name} lists no {subset} videos")
        self.input_size = tuple(input_size)

    def __len__(self) -> int:
        return len(self.videos)

    def _locate(self, relative: str) -> Path:
        video = Path(relative)
        for candidate in (self.root / video.with_suffix(""), self.root / video.stem, self.root / video):
            if candidate.exists():
                return candidate
        raise UserError(f"video {relative} is listed in the split but found neither as frames nor as a file under {self.root}")

    def _frames(self, location: Path, indices_for) -> np.ndarray:
        frames, height, width = self.input_size
        if location.is_file():
            decoded = _ffmpeg_frames(location, height, width)
            return decoded[indices_for(len(decoded))]
        files = sorted(path for path in location.iterdir() if path.suffix.lower() in _FRAME_SUFFIXES)
        if not files:
            raise UserError(f"frame folder {location} holds no .png or .jpg frames")
        chosen = [files[i] for i in indices_for(len(files))]
        images = [read_png(path) if path.suffix.lower() == ".png" else _ffmpeg_frames(path, height, width)[0] for path in chosen]
        return np.stack([self._resize(image) for image in images])

    def _resize(self, image: np.ndarray) -> np.ndarray:
        _, height, width = self.input_size
        if image.shape[:2] == (height, width):
            return image
        tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float()
        resized = F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
        return resized[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()

    def _clip_indices(self, available: int) -> np.ndarray:
        frames = self.input_size[0]
        start = max(0, (available - frames) // 2)
        return (start + np.arange(frames)) % available

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        relative, label = self.videos[index]
        frames = self._frames(self._locate(relative), self._clip_indices)
        clip = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float()
        return clip / 127.5 - 1.0, label
