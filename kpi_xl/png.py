"""A PNG file from an RGB array, with the standard library (zlib, struct) and numpy only.

The message's trend charts are a few lines and dots: drawing them needs no plotting
library, and keeping matplotlib out keeps the mail step's dependencies what they were
(numpy is the core's one dependency). The encoding is the plainest valid PNG (ISO/IEC
15948): 8-bit truecolour, no interlace, filter type 0 on every row, one IDAT chunk; the
same pixels always give the same bytes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (height, width, 3) uint8 array."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"encode wants an (h, w, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
    h, w, _ = rgb.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)   # 8 bit, truecolour, no interlace
    return (SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
            + _chunk(b"IEND", b""))


def decode(data: bytes) -> np.ndarray:
    """The pixels of a PNG this module wrote (8-bit RGB, filter 0): for the tests, which
    check what a chart shows."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file")
    pos, idat, size = len(SIGNATURE), b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"PNG chunk {kind!r}: bad CRC")
        if kind == b"IHDR":
            size = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    if size is None or size[2:5] != (8, 2, 0):
        raise ValueError("decode reads 8-bit RGB PNGs only")
    w, h = size[0], size[1]
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + w * 3)
    if rows[:, 0].any():
        raise ValueError("decode reads filter type 0 only")
    return rows[:, 1:].reshape(h, w, 3)
