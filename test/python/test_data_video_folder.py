"""UCF101/HMDB51 loading on small generated fixtures laid out like the official releases."""

from __future__ import annotations

import os
import stat
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from rt3d_mlir.data import VideoFolder, build_datasets
from rt3d_mlir.data.png import read_png
from rt3d_mlir.errors import UserError


def _paeth(left: int, up: int, upper_left: int) -> int:
    estimate = left + up - upper_left
    distances = [abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)]
    return (left, up, upper_left)[distances.index(min(distances))]


def write_png(path: Path, image: np.ndarray, filter_type: int = 0) -> None:
    """A reference PNG encoder: every row with ``filter_type`` (written from the PNG specification)."""
    height, width, channels = image.shape
    colour = {1: 0, 3: 2, 4: 6}[channels]
    bpp, rows, prior = channels, [], np.zeros(width * channels, dtype=np.int64)
    for y in range(height):
        line = image[y].reshape(-1).astype(np.int64)
        left = np.concatenate([np.zeros(bpp, dtype=np.int64), line[:-bpp]])
        upper_left = np.concatenate([np.zeros(bpp, dtype=np.int64), prior[:-bpp]])
        predictor = {
            0: np.zeros_like(line),
            1: left,
            2: prior,
            3: (left + prior) // 2,
            4: np.array([_paeth(a, b, c) for a, b, c in zip(left, prior, upper_left)], dtype=np.int64),
        }[filter_type]
        rows.append(bytes([filter_type]) + ((line - predictor) % 256).astype(np.uint8).tobytes())
        prior = line

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("filter_type", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_decoder_undoes_every_filter(tmp_path: Path, filter_type: int, channels: int) -> None:
    image = np.random.default_rng(filter_type).integers(0, 256, size=(5, 7, channels), dtype=np.uint8)
    write_png(tmp_path / "frame.png", image, filter_type)
    decoded = read_png(tmp_path / "frame.png")
    expected = np.repeat(image, 3, axis=2) if channels == 1 else image[:, :, :3]
    assert decoded.dtype == np.uint8 and np.array_equal(decoded, expected)


def test_corrupt_png_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnonsense")
    with pytest.raises(UserError, match="cannot decode frame"):
        read_png(tmp_path / "bad.png")


def _frames(root: Path, relative: str, count: int, value_of_frame) -> None:
    folder = root / Path(relative).with_suffix("")
    folder.mkdir(parents=True)
    for index in range(count):
        image = np.full((6, 8, 3), value_of_frame(index), dtype=np.uint8)
        write_png(folder / f"img_{index + 1:05d}.png", image, filter_type=index % 5)


@pytest.fixture()
def ucf101(tmp_path: Path) -> tuple[Path, Path]:
    root, splits = tmp_path / "UCF-101", tmp_path / "ucfTrainTestlist"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 ApplyEyeMakeup\n2 Archery\n")
    (splits / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\nArchery/v_Archery_g08_c01.avi 2\n"
    )
    (splits / "testlist01.txt").write_text("Archery/v_Archery_g01_c01.avi\n")
    _frames(root, "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi", 10, lambda i: 10 * i)
    _frames(root, "Archery/v_Archery_g08_c01.avi", 3, lambda i: 100 + i)
    _frames(root, "Archery/v_Archery_g01_c01.avi", 4, lambda i: 200)
    return root, splits


def test_ucf101_frames_with_the_official_split(ucf101) -> None:
    root, splits = ucf101
    train, test, classes = build_datasets("ucf101", (4, 6, 8), root=root, splits_root=splits, split=1)
    assert classes == 2 and train.classes == ["ApplyEyeMakeup", "Archery"]
    assert len(train) == 2 and len(test) == 1
    clip, label = train[0]
    assert clip.shape == (3, 4, 6, 8) and label == 0
    # The middle 4 of 10 frames (3..6), each a flat grey of 10 * index, scaled to [-1, 1].
    values = ((clip[0, :, 0, 0] + 1) * 127.5).round()
    assert values.tolist() == [30.0, 40.0, 50.0, 60.0]
    short, label = train[1]  # 3 frames, looped to 4
    assert label == 1 and ((short[0, :, 0, 0] + 1) * 127.5).round().tolist() == [100.0, 101.0, 102.0, 100.0]


def test_frames_are_resized_to_the_clip_size(ucf101) -> None:
    root, splits = ucf101
    clip, _ = VideoFolder("ucf101", root, splits, 1, "test", (2, 3, 4))[0]
    assert clip.shape == (3, 2, 3, 4)
    assert torch.allclose(clip, torch.full_like(clip, 200 / 127.5 - 1), atol=1 / 127.5)


def test_hmdb51_split_files_select_train_and_test(tmp_path: Path) -> None:
    root, splits = tmp_path / "hmdb51", tmp_path / "splits"
    splits.mkdir()
    (splits / "wave_test_split1.txt").write_text("a.avi 1\nb.avi 2\nc.avi 0\n")
    (splits / "clap_test_split1.txt").write_text("d.avi 2\ne.avi 1\n")
    for relative in ("wave/a.avi", "wave/b.avi", "clap/d.avi", "clap/e.avi"):
        _frames(root, relative, 2, lambda i: 50)
    train = VideoFolder("hmdb51", root, splits, 1, "train", (2, 6, 8))
    test = VideoFolder("hmdb51", root, splits, 1, "test", (2, 6, 8))
    assert train.classes == ["clap", "wave"]  # sorted names
    assert sorted(train.videos) == [("clap/e.avi", 0), ("wave/a.avi", 1)]
    assert sorted(test.videos) == [("clap/d.avi", 0), ("wave/b.avi", 1)]
    assert train[0][0].shape == (3, 2, 6, 8)


def test_video_files_are_decoded_by_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in ffmpeg on PATH checks the command line the loader builds and the way it reads frames."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "ffmpeg"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "args = sys.argv[1:]\n"
        "assert args[args.index('-pix_fmt') + 1] == 'rgb24' and args[-1] == '-'\n"
        "width, height = map(int, args[args.index('-vf') + 1].removeprefix('scale=').split(':'))\n"
        "for frame in range(6):\n"
        "    sys.stdout.buffer.write(bytes([frame * 20]) * (width * height * 3))\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    root, splits = tmp_path / "UCF-101", tmp_path / "lists"
    splits.mkdir()
    (splits / "classInd.txt").write_text("1 Bowling\n")
    (splits / "trainlist01.txt").write_text("Bowling/v_Bowling_g01_c01.avi 1\n")
    (root / "Bowling").mkdir(parents=True)
    (root / "Bowling" / "v_Bowling_g01_c01.avi").write_bytes(b"not decoded here")
    clip, label = VideoFolder("ucf101", root, splits, 1, "train", (2, 5, 7))[0]
    assert label == 0 and clip.shape == (3, 2, 5, 7)
    assert ((clip[0, :, 0, 0] + 1) * 127.5).round().tolist() == [40.0, 60.0]  # the middle two of six frames


def test_missing_pieces_are_user_errors(ucf101, monkeypatch: pytest.MonkeyPatch) -> None:
    root, splits = ucf101
    with pytest.raises(UserError, match="split file .*testlist02.txt does not exist"):
        VideoFolder("ucf101", root, splits, 2, "test", (2, 6, 8))
    with pytest.raises(UserError, match="official splits 1, 2 and 3"):
        VideoFolder("ucf101", root, splits, 4, "test", (2, 6, 8))
    (splits / "testlist01.txt").write_text("Archery/v_Archery_g99_c01.avi\n")
    with pytest.raises(UserError, match="found neither as frames nor as a file"):
        VideoFolder("ucf101", root, splits, 1, "test", (2, 6, 8))[0]
    (splits / "testlist01.txt").write_text("Archery/v_Archery_g02_c01.avi\n")
    (root / "Archery" / "v_Archery_g02_c01.avi").write_bytes(b"")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(UserError, match="needs the ffmpeg program"):
        VideoFolder("ucf101", root, splits, 1, "test", (2, 6, 8))[0]
