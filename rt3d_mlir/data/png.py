"""A small PNG decoder (8-bit, non-interlaced), so frame folders load with no imaging library."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from rt3d_mlir.errors import UserError

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def _unfilter_sequential(kind: int, line: list[int], prior: list[int], bpp: int) -> np.ndarray:
    """Average (3) or Paeth (4) on one row, on Python ints (much faster than numpy element access)."""
    row = [0] * len(line)
    for x, value in enumerate(line):
        left = row[x - bpp] if x >= bpp else 0
        up = prior[x]
        if kind == 3:
            predictor = (left + up) >> 1
        else:
            upper_left = prior[x - bpp] if x >= bpp else 0
            estimate = left + up - upper_left
            to_left, to_up, to_upper_left = abs(estimate - left), abs(estimate - up), abs(estimate - upper_left)
            if to_left <= to_up and to_left <= to_upper_left:
                predictor = left
            elif to_up <= to_upper_left:
                predictor = up
            else:
                predictor = upper_left
        row[x] = (value + predictor) & 0xFF
    return np.array(row, dtype=np.int32)


def _unfilter(raw: np.ndarray, height: int, stride: int, bpp: int) -> np.ndarray:
    """Undoes the per-row PNG filters (None, Sub, Up, Average, Paeth)."""
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prior = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: a running sum per byte lane, modulo 256
            row = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) % 256
        elif kind == 2:
            row = (line + prior) % 256
        elif kind in (3, 4):  # Average and Paeth depend on the byte just decoded: go byte by byte
            row = _unfilter_sequential(kind, line.tolist(), prior.tolist(), bpp)
        else:
            raise ValueError(f"unknown PNG filter type {kind}")
        out[y] = row
        prior = row.astype(np.int32)
    return out


def read_png(path: str | Path) -> np.ndarray:
    """The image as uint8 (height, width, 3) RGB (grey is replicated, alpha dropped)."""
    data = Path(path).read_bytes()
    try:
        if not data.startswith(_SIGNATURE):
            raise ValueError("no PNG signature")
        offset, header, compressed = len(_SIGNATURE), None, []
        while offset < len(data):
            length, kind = struct.unpack(">I4s", data[offset : offset + 8])
            body = data[offset + 8 : offset + 8 + length]
            offset += 12 + length
            if kind == b"IHDR":
                header = struct.unpack(">IIBBBBB", body)
            elif kind == b"IDAT":
                compressed.append(body)
            elif kind == b"IEND":
                break
        if header is None:
            raise ValueError("no IHDR chunk")
        width, height, depth, colour, _, _, interlace = header
        if depth != 8 or colour not in _CHANNELS or interlace:
            raise ValueError(f"only 8-bit non-interlaced PNGs are supported (depth {depth}, interlace {interlace})")
        channels = _CHANNELS[colour]
        raw = np.frombuffer(zlib.decompress(b"".join(compressed)), dtype=np.uint8)
        pixels = _unfilter(raw, height, width * channels, channels).reshape(height, width, channels)
    except (ValueError, struct.error, zlib.error) as error:
        raise UserError(f"cannot decode frame {path}: {error}") from None
    if channels <= 2:
        return np.repeat(pixels[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])
