"""Malformed inputs, each with the words its one-line message must contain.

Shared by the CLI tests (written to files) and the app tests (uploaded).
"""

import io

import numpy as np


def _npy(array, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _header_only(shape: tuple) -> bytes:
    """A valid header that promises `shape`, then 1,000 bytes of data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buffer.getvalue() + bytes(1000)


def _damaged(content: bytes, position: int) -> bytes:
    damaged = bytearray(content)
    damaged[position] ^= 0xFF
    return bytes(damaged)


def _version_9() -> bytes:
    """A version 2.0 file whose magic claims 9.0, a version NumPy does not know."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros((1, 2, 64, 64), np.float32), version=(2, 0))
    return buffer.getvalue().replace(b"\x93NUMPY\x02\x00", b"\x93NUMPY\x09\x00", 1)


def bad_files() -> dict:
    """{name: (file bytes, words the message must contain)}."""
    good = _npy(np.zeros((3, 20, 64, 64), np.uint8))
    return {
        "pickled objects": (_npy(np.array([{"a": 1}, None], dtype=object), allow_pickle=True), "Python objects"),
        "header claims a huge shape": (_header_only((10**9, 20, 64, 64)), "truncated"),
        "header claims a negative size": (_header_only((-2, 20, 64, 64)), "damaged header"),
        "truncated": (good[:50_000], "truncated"),
        "text renamed .npy": (b"time,x,y\n1,2,3\n", "not a .npy file"),
        "image renamed .npy": (b"\x89PNG\r\n\x1a\n" + bytes(300), "not a .npy file"),
        "zero bytes": (b"", "not a .npy file"),
        "an .npz archive": (_npz(frames=np.zeros((1, 20, 64, 64), np.uint8)), "zip archive (an .npz?)"),
        "empty array": (_npy(np.zeros((0, 20, 64, 64), np.uint8)), "empty"),
        "rank 2": (_npy(np.zeros((64, 64), np.uint8)), "shape"),
        "rank 5": (_npy(np.zeros((1, 2, 3, 64, 64), np.uint8)), "shape"),
        "frames 32x32": (_npy(np.zeros((2, 20, 32, 32), np.uint8)), "64x64"),
        "floats above 1": (_npy(np.full((1, 20, 64, 64), 2.0, np.float32)), "[0, 1]"),
        "negative floats": (_npy(np.full((1, 20, 64, 64), -0.5)), "[0, 1]"),
        "NaN": (_npy(np.full((1, 20, 64, 64), np.nan, np.float32)), "NaN"),
        "inf": (_npy(np.full((1, 20, 64, 64), np.inf, np.float32)), "infinite"),
        "integers above 255": (_npy(np.full((1, 20, 64, 64), 300, np.int32)), "0-255"),
        "a single frame": (_npy(np.zeros((2, 1, 64, 64), np.uint8)), "at least 2 frames"),
        "strings": (_npy(np.array(["a"] * 4)), "dtype"),
        "booleans": (_npy(np.zeros((1, 20, 64, 64), bool)), "dtype bool"),
        "complex numbers": (_npy(np.zeros((1, 20, 64, 64), complex)), "dtype complex"),
        "structured records": (_npy(np.zeros(3, dtype=[("x", "i4"), ("y", "f4")])), "dtype"),
        "dates": (_npy(np.zeros((1, 20, 64, 64), "M8[D]")), "dtype"),
        # Found by the fuzzer: a flipped byte inside the header's shape makes
        # NumPy's header parser raise tokenize.TokenError.
        "header with a damaged byte": (_damaged(_npy(np.zeros((1, 2, 64, 64), np.float32)), 76), "not a .npy file"),
        # Its header passed, then np.load refused the version with a traceback.
        "unknown format version": (_version_9(), "not a .npy file"),
    }
