"""Property-based: whatever bytes or array arrive, the validator accepts a valid
array or raises the project's own InputError, never anything else."""

import io
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from core.data import load_npy
from core.errors import InputError

DTYPES = st.sampled_from(["u1", "i1", "u2", "i4", "i8", "f2", "f4", "f8", "?", "c8", "U3", "S2", "m8[s]", "M8[D]"])
SIZES = st.sampled_from([0, 1, 2, 3, 64])
# At most about a million elements: five sides of 64 would be 10^9 elements, 13 GB
# as "U3", which hypothesis drew once and the CI machine's memory did not survive.
SHAPES = st.lists(SIZES, min_size=0, max_size=5).map(tuple).filter(lambda shape: math.prod(shape) <= 4 * 64**3)


def _check(content: bytes):
    try:
        frames = load_npy(content)
    except InputError as error:
        assert str(error) and "\n" not in str(error)
        return
    # Accepted: a real (N, T, 64, 64) array with valid values.
    assert frames.ndim == 4 and frames.shape[2:] == (64, 64) and frames.shape[0] >= 1 and frames.shape[1] >= 2
    if frames.dtype.kind == "f":
        assert np.isfinite(frames).all() and frames.min() >= 0 and frames.max() <= 1
    else:
        assert frames.dtype.kind in "ui" and frames.min() >= 0 and frames.max() <= 255


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes(content):
    _check(content)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(DTYPES.flatmap(lambda dtype: hnp.arrays(dtype, SHAPES)))
def test_random_arrays(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    _check(buffer.getvalue())


@settings(max_examples=60, deadline=None)
@given(hnp.arrays("f4", st.sampled_from([(1, 2, 64, 64), (2, 3, 64, 64)]), elements=st.floats(-2, 2, width=32)),
       st.integers(0, 200))
def test_truncated_or_damaged_valid_files(array, cut):
    buffer = io.BytesIO()
    np.save(buffer, array)
    content = buffer.getvalue()
    _check(content[: len(content) - cut])
    damaged = bytearray(content)
    damaged[min(cut, len(damaged) - 1)] ^= 0xFF
    _check(bytes(damaged))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers() | st.text(max_size=3) | st.none(), min_size=1, max_size=4))
def test_pickled_objects_are_refused(values):
    buffer = io.BytesIO()
    np.save(buffer, np.array(values + [object()], dtype=object), allow_pickle=True)
    try:
        load_npy(buffer.getvalue())
    except InputError as error:
        assert "Python objects" in str(error)
    else:
        raise AssertionError("a pickled array was loaded")
