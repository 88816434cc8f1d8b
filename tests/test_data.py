"""The generator follows the standard Moving MNIST rules; users' files are validated."""

import io
import os
import re
import threading

import numpy as np
import pytest

from core import data
from core.errors import InputError


def test_shape_dtype_and_range():
    frames = data.moving_mnist("test", 5)
    assert frames.shape == (5, 20, 64, 64) and frames.dtype == np.uint8
    assert frames.max() > 200  # real digits, not an empty canvas


def test_seeds_fix_the_sets():
    assert np.array_equal(data.moving_mnist("test", 3), data.moving_mnist("test", 3))
    assert np.array_equal(data.moving_mnist("val", 3, seed=7), data.moving_mnist("val", 3, seed=7))
    assert not np.array_equal(data.moving_mnist("val", 3), data.moving_mnist("test", 3))
    assert not np.array_equal(data.moving_mnist("test", 3, seed=5), data.moving_mnist("test", 3, seed=6))


def test_digit_split_is_per_class_and_disjoint():
    train_images, train_labels = data.mnist_digits("train")
    test_images, test_labels = data.mnist_digits("test")
    assert np.bincount(train_labels).tolist() == [400] * 10
    assert np.bincount(test_labels).tolist() == [100] * 10
    train_rows = {image.tobytes() for image in train_images}
    assert not any(image.tobytes() in train_rows for image in test_images)


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_sequences_draw_their_own_splits_digits_under_their_labels(split):
    # Validation scores a model on digits it never trained on: the test split's.
    own = "train" if split == "train" else "test"
    images, labels = data.mnist_digits(split)
    assert np.array_equal(images, data.mnist_digits(own)[0])
    label_of = {image.tobytes(): label for image, label in zip(images, labels)}
    others = {image.tobytes() for image in data.mnist_digits("test" if own == "train" else "train")[0]}
    sequences = data.generate(split, 100, np.random.default_rng(0))
    checked = 0
    for i in range(100):
        (r0, c0), (r1, c1) = sequences.positions[i, 0]
        if abs(r0 - r1) < 28 and abs(c0 - c1) < 28:
            continue  # overlapping digits cannot be cut out exactly
        for d, (r, c) in enumerate(((r0, c0), (r1, c1))):
            window = sequences.frames[i, 0, r : r + 28, c : c + 28].tobytes()
            assert window in label_of and window not in others
            assert label_of[window] == sequences.labels[i, d]
            checked += 1
    assert checked >= 20


def test_digits_stay_inside_the_canvas_and_are_drawn_whole():
    sequences = data.generate("train", 30, np.random.default_rng(1))
    assert sequences.positions.min() >= 0 and sequences.positions.max() <= 36
    # Wherever the two digits do not overlap, a frame holds all the ink of both:
    # as much as its first frame where they did not overlap either.
    rows, cols = sequences.positions[..., 0], sequences.positions[..., 1]
    apart = (np.abs(rows[..., 0] - rows[..., 1]) >= 28) | (np.abs(cols[..., 0] - cols[..., 1]) >= 28)
    ink = sequences.frames.astype(int).sum(axis=(2, 3))
    compared = 0
    for i in range(30):
        frames = np.flatnonzero(apart[i])
        assert (ink[i, frames] == ink[i, frames[:1]]).all()
        compared += max(0, len(frames) - 1)
    assert compared >= 50
    assert (ink > 0).all()


def test_bounce_clamps_and_flips():
    # Start 0.95 of the range, moving +0.1 per frame: 1.05 -> clamped to 1 (36 px),
    # then back 0.9 (32.4 -> 32 px), 0.8 (28.8 -> 28 px).
    path, bounces = data.bounce_path(np.array([0.95, 0.5]), np.array([0.1, 0.0]), 3)
    assert path[:, 0].tolist() == [36, 32, 28]
    assert path[:, 1].tolist() == [18, 18, 18]
    assert bounces.tolist() == [[True, False], [False, False], [False, False]]
    path, bounces = data.bounce_path(np.array([0.05, 0.5]), np.array([-0.1, 0.0]), 2)
    assert path[:, 0].tolist() == [0, 3]
    assert bounces[:, 0].tolist() == [True, False]


def test_a_slow_bounce_is_found_in_the_frame_it_turns_not_where_whole_pixels_stand_still():
    # Rows 15/16 of the range, then 1/32 a frame down: 0.97 (34 px), exactly 1 (36 px, not past it,
    # so no turn), 1.03 clamped to 1 (36 px again, the turn), 0.97 (34 px). Whole pixels show the
    # digit at the bottom for two frames; the turn is in the second. The column, alike, reaches 0
    # and turns one frame later.
    positions, bounces = data.bounce_path(np.array([[0.9375, 0.0625]]), np.array([[0.03125, -0.0625]]), 4)
    assert positions[:, 0, 0].tolist() == [34, 36, 36, 34] and positions[:, 0, 1].tolist() == [0, 0, 2, 4]
    made = data.Sequences(np.zeros((1, 4, 64, 64), np.uint8), np.array([[7]]), positions[None], bounces[None])
    assert data.walls_hit(made) == [(1, 0, "left"), (2, 0, "bottom")]


def test_walls_hit_are_where_the_generator_turned_each_digit():
    sequences = data.generate("test", 200, np.random.default_rng(5), length=30)
    # Past the last was an IndexError, -1 the last sequence's; an array has no bounces to read.
    for call, message in ((lambda: data.walls_hit(sequences, 200), "index must be from 0 to 199; received 200"),
                          (lambda: data.walls_hit(sequences, -1), "index must be from 0 to 199; received -1"),
                          (lambda: data.walls_hit(sequences.frames), "sequences must be a core.data.Sequences, from "
                                                                     "sequence.. or generate..; received ndarray")):
        with pytest.raises(InputError, match=f"^{message}$"):
            call()
    found = 0
    for i in range(200):
        hits = data.walls_hit(sequences, i)
        found += len(hits)
        centre = sequences.positions[i] + data.DIGIT_SIZE / 2
        for t, d, wall in hits:
            axis, edge = {"top": (0, 0), "bottom": (0, 36), "left": (1, 0), "right": (1, 36)}[wall]
            assert sequences.positions[i, t, d, axis] == edge
            # Moving towards the wall before the frame, away from it after.
            before, after = np.sign(centre[t, d, axis] - centre[t - 1, d, axis]) if t else None, \
                np.sign(centre[t + 1, d, axis] - centre[t, d, axis]) if t + 1 < 30 else None
            towards = 1 if edge else -1
            assert before in (None, towards, 0) and after in (None, -towards, 0)
        # Every turn of direction along a coordinate is one of them.
        steps = np.sign(np.diff(centre, axis=0))  # (T-1, D, 2)
        for t, d, axis in zip(*np.nonzero(steps[1:] * steps[:-1] < 0)):
            assert any(abs(t + 1 - frame) <= 1 and digit == d for frame, digit, _ in hits)
    assert found > 200  # about two a sequence of 30 frames


def test_standard_speed():
    positions = data.generate("test", 50, np.random.default_rng(2)).positions
    step = np.abs(np.diff(positions, axis=1)).max()
    assert step <= 4  # 3.6 px per frame at most on each axis
    speeds = np.linalg.norm(np.diff(positions, axis=1), axis=-1)
    assert 2.5 < np.median(speeds) < 4.5


def test_digits_combine_by_maximum():
    digits = np.zeros((1, 2, 28, 28), np.uint8)
    digits[0, 0, :, :] = 100
    digits[0, 1, 10:20, 10:20] = 200
    positions = np.zeros((1, 1, 2, 2), int)
    frame = data.render(digits, positions)[0, 0]
    assert frame[0, 0] == 100 and frame[15, 15] == 200 and frame[40, 40] == 0


def test_render_draws_every_digit_where_its_path_says():
    # render writes all frames at once through overlapping windows; drawing
    # them one by one, as the definition reads, must give the same frames.
    rng = np.random.default_rng(3)
    digits = rng.integers(0, 256, (5, 3, 28, 28), dtype=np.uint8)
    positions = rng.integers(0, 37, (5, 7, 3, 2))
    expected = np.zeros((5, 7, 64, 64), np.uint8)
    for i, t, d in np.ndindex(5, 7, 3):
        row, col = positions[i, t, d]
        window = expected[i, t, row : row + 28, col : col + 28]
        np.maximum(window, digits[i, d], out=window)
    assert np.array_equal(data.render(digits, positions), expected)
    for corner in (-1, 37):
        positions[2, 4, 1, 0] = corner
        with pytest.raises(ValueError, match="0..36"):
            data.render(digits, positions)


def test_baselines_match_published_scale():
    # On 2-digit 10 -> 10 sequences from held-out digits the field reports about
    # 179 (black frames) and 296 (repeat the last frame): our generator agrees.
    from core.metrics import black_frames, mse, repeat_last

    frames = data.to_unit_float(data.moving_mnist("test", 300))
    context, truth = data.split_context(frames)
    assert 160 < mse(black_frames(context, 10), truth) < 200
    assert 270 < mse(repeat_last(context, 10), truth) < 320


def test_preprocessing():
    frames = data.moving_mnist("test", 2)
    unit = data.to_unit_float(frames)
    assert unit.dtype == np.float32 and unit.max() <= 1 and np.isclose(unit.max(), frames.max() / 255)
    context, target = data.split_context(unit, 10)
    assert context.shape[1] == 10 and target.shape[1] == 10
    padded = data.pad_context(unit[:, :3], 10)
    assert padded.shape[1] == 10
    assert np.array_equal(padded[:, :8], np.repeat(unit[:, :1], 8, axis=1))
    assert np.array_equal(padded[:, 7:], unit[:, :3])
    with pytest.raises(InputError, match="context must be"):
        data.split_context(unit, 20)


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_load_npy_accepts_valid_files(tmp_path):
    frames = data.moving_mnist("test", 2)
    path = tmp_path / "ok.npy"
    np.save(path, frames)
    assert np.array_equal(data.load_npy(path), frames)
    assert data.load_npy(_npy_bytes(frames[0])).shape == (1, 20, 64, 64)
    floats = data.load_npy(_npy_bytes(frames / 255.0))
    assert floats.dtype == np.float64
    # From a pipe (`cat x.npy | python -m core forecast --input /dev/stdin`), which cannot seek:
    # it failed with "a file: Illegal seek".
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    writer = threading.Thread(target=lambda: pipe.write_bytes(_npy_bytes(frames)))
    writer.start()
    assert np.array_equal(data.load_npy(pipe), frames)
    writer.join()


BAD_ARRAYS = {
    "object": (np.array([None, 1], dtype=object), "Python objects"),
    "rank": (np.zeros((64, 64), np.uint8), "shape"),
    "frame size": (np.zeros((1, 5, 32, 32), np.uint8), "must hold 64x64 frames; received 32x32"),
    # A file is named by its path: "x.npy[..., 0]" was no advice one could follow.
    "channel axis": (np.zeros((5, 64, 64, 1), np.uint8),
                     r"has a channel axis \(shape \(5, 64, 64, 1\)\); drop it, e\.g\. array\[\.\.\., 0\] before saving"),
    # An RGB export read "must hold 64x64 frames; received 64x3".
    "colour": (np.zeros((20, 64, 64, 3), np.uint8),
               r"holds colour frames \(shape \(20, 64, 64, 3\)\); the model reads grey ones: keep one channel, "
               r"e\.g\. array\[\.\.\., 0\] before saving$"),
    "colour with alpha": (np.zeros((1, 5, 64, 64, 4), np.uint8), "holds colour frames"),
    "empty": (np.zeros((0, 5, 64, 64), np.uint8), "empty"),
    "one frame": (np.zeros((2, 1, 64, 64), np.uint8), "at least 2 frames"),
    "nan": (np.full((1, 3, 64, 64), np.nan, np.float32), "NaN"),
    "inf": (np.full((1, 3, 64, 64), np.inf), "NaN or infinite"),
    "float range": (np.full((1, 3, 64, 64), 3.0), r"\[0, 1\]"),
    "int range": (np.full((1, 3, 64, 64), 300, np.int32), "0-255"),
    "negative int": (np.full((1, 3, 64, 64), -1, np.int16), "found -1 to -1"),
    "0 and 1 as integers": ((np.arange(3 * 64 * 64).reshape(1, 3, 64, 64) % 2), "holds only 0 and 1.*multiply by 255"),
    "0 and 1 as uint8": ((np.arange(3 * 64 * 64).reshape(1, 3, 64, 64) % 2).astype(np.uint8), "holds only 0 and 1"),
    "0 and 1 after a blank sequence": (np.concatenate([np.zeros((1, 3, 64, 64), np.uint8),
                                                        (np.arange(3 * 64 * 64).reshape(1, 3, 64, 64) % 2).astype(np.uint8)]),
                                        "holds only 0 and 1"),
    "bool": (np.zeros((1, 3, 64, 64), bool), "dtype bool"),
    "complex": (np.zeros((1, 3, 64, 64), complex), "dtype complex"),
    "strings": (np.array(["a", "b"]), "dtype <U1"),
}


@pytest.mark.parametrize("name", BAD_ARRAYS)
def test_load_npy_refuses_bad_arrays(name):
    array, message = BAD_ARRAYS[name]
    with pytest.raises(InputError, match=message):
        data.load_npy(_npy_bytes(array))


def test_load_npy_checks_only_the_sequences_asked_for(tmp_path):
    # evaluate --count 2 on a 13 GB file checked every pixel of it first (35 s), then used two sequences.
    frames = data.to_unit_float(data.moving_mnist("test", 3))
    frames[2, 5, 10, 10] = np.nan
    path = tmp_path / "third-broken.npy"
    np.save(path, frames)
    np.testing.assert_array_equal(data.load_npy(path, first=2), frames[:2])
    with pytest.raises(InputError, match="NaN"):
        data.load_npy(path)
    # One sequence, (T, 64, 64), is not cut to its first frame.
    assert data.load_npy(_npy_bytes(data.moving_mnist("test", 1)[0]), first=1).shape == (1, 20, 64, 64)
    # 2.0 and "2" failed as slices, -1 dropped the last sequence without a word.
    for first in (2.0, "2", -1, 0, True):
        with pytest.raises(InputError, match=rf"^first must be a whole number of sequences from 1 up, or None; "
                                             rf"received {re.escape(repr(first))}$"):
            data.load_npy(path, first=first)
    assert len(data.load_npy(path, first=np.int64(1))) == 1
    # os.fspath's TypeErrors; and 3 would have opened file descriptor 3.
    for source in (None, 3):
        with pytest.raises(InputError, match=f"^source must be a path or the file's bytes; received {type(source).__name__}$"):
            data.load_npy(source)


def test_drawing_sequences_refuses_a_progress_that_is_no_function():
    with pytest.raises(InputError, match="^progress must be a function or None; received bool$"):  # after 100 drawn
        data.moving_mnist("test", 2, progress=True)
    with pytest.raises(InputError, match=r"^progress is called as progress\(done, count\); received a function of \(\)$"):
        data.moving_mnist("test", 2, progress=lambda: None)


def test_the_official_file_uploaded_as_an_array_is_sent_where_it_opens():
    # Uploaded on the Dataset page, it read 20 sequences of N frames, or was told to use a notebook.
    official = _npy_bytes(data.moving_mnist("test", 21).swapaxes(0, 1))  # (20, 21, 64, 64)
    with pytest.raises(InputError, match="^mnist_test_seq.npy is the official file, stored time first .*Dataset page's "
                                         "Official file source or core.data.load_official$"):
        data.load_npy(official, name="mnist_test_seq.npy")


def test_load_npy_refuses_bad_files(tmp_path):
    text = tmp_path / "text.npy"
    text.write_text("hello, this is not an array\n")
    with pytest.raises(InputError, match="not a .npy file"):
        data.load_npy(text)
    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes(_npy_bytes(data.moving_mnist("test", 1))[:-1000])
    with pytest.raises(InputError, match="truncated"):
        data.load_npy(truncated)
    huge = io.BytesIO()
    np.lib.format.write_array_header_1_0(huge, {"descr": "|u1", "fortran_order": False, "shape": (10**9, 20, 64, 64)})
    with pytest.raises(InputError, match="truncated"):
        data.load_npy(huge.getvalue())
    with pytest.raises(InputError, match="cannot read"):
        data.load_npy(tmp_path / "missing.npy")
    with pytest.raises(InputError, match="not a .npy file"):
        data.load_npy(b"")


def test_official_file_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(InputError, match="bundled Moving MNIST"):
        data.load_official()
    with pytest.raises(InputError, match="no official"):
        data.load_official(tmp_path / "nope.npy")
    with pytest.raises(InputError, match="cannot use"):
        data.load_official("~no-such-user-here/mnist_test_seq.npy")  # a typo for ~/...


def test_a_download_the_server_refuses_says_what_it_answered(tmp_path, monkeypatch):
    # A local web server without the file stands in for a moved URL.
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
        monkeypatch.setattr(data, "OFFICIAL_URL", f"http://127.0.0.1:{server.server_port}/mnist_test_seq.npy")
        with pytest.raises(InputError, match="could not download the official file from .*: 127.0.0.1 answered 404 "):
            data.official_path(download=True)
        server.shutdown()

def test_an_interrupted_download_is_fetched_again(tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    partial = data.official_cache_path()
    partial.parent.mkdir(parents=True)
    partial.write_bytes(bytes(5_000_000))  # 5 MB of 819, left by a server restart mid-download
    with pytest.raises(InputError, match="incomplete"):
        data.load_official()
    fetched = []

    def get_file(name, url, cache_dir):  # no network in tests: see what a download would start from
        fetched.append(partial.exists())
        raise OSError("offline")

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    with pytest.raises(InputError, match="could not download"):
        data.official_path(download=True)
    assert fetched == [False]  # the partial file was removed, so Keras fetches the whole file again


def test_the_official_file_is_not_read_as_a_users_array(tmp_path):
    path = tmp_path / "mnist_test_seq.npy"
    np.save(path, data.moving_mnist("test", 30).swapaxes(0, 1))
    with pytest.raises(InputError, match="time first"):
        data.load_npy(path)


def test_official_layout_is_time_first(tmp_path, monkeypatch):
    frames = data.moving_mnist("test", 3)
    path = tmp_path / "mnist_test_seq.npy"
    np.save(path, frames.swapaxes(0, 1))  # the official file stores (20, N, 64, 64)
    assert np.array_equal(data.load_official(path), frames)
    # People type the folder, or a path from their home folder.
    monkeypatch.setenv("HOME", str(tmp_path))
    assert np.array_equal(data.load_official(tmp_path), frames)
    assert np.array_equal(data.load_official("~/mnist_test_seq.npy"), frames)
    # One sequence under the official name: its shape as stored, not with load_npy's sequence axis.
    np.save(path, frames[0])
    with pytest.raises(InputError, match=r"time first; received \(20, 64, 64\)$"):
        data.load_official(path)


def test_one_sequence_matches_the_set():
    frames = data.moving_mnist("test", 6)
    picked = data.sequence("test", 4)
    assert np.array_equal(picked.frames[0], frames[4])
    assert picked.labels.shape == (1, 2) and picked.positions.shape == (1, 20, 2, 2)


def test_one_sequence_is_split_in_time_and_slips_are_named():
    sequence = data.moving_mnist("test", 1)[0]
    context, target = data.split_context(sequence)  # was cut along its rows: (20, 10, 64) and (20, 54, 64)
    assert context.shape == target.shape == (1, 10, 64, 64)
    assert np.array_equal(np.concatenate([context, target], axis=1)[0], sequence)
    with pytest.raises(InputError, match="frames must be a numpy array; received list"):
        data.split_context(list(sequence))
    with pytest.raises(InputError, match="count must be a whole number; received 2.0"):
        data.moving_mnist("test", 2.0)
    with pytest.raises(InputError, match="context must be between 1 and 19 frames; received 0"):
        data.split_context(sequence, 0)
    # These failed inside NumPy: as a slice index, a seed, an allocation of 763 GiB.
    for call, message in [(lambda: data.split_context(sequence, 10.0), "context must be a whole number; received 10.0"),
                          (lambda: data.moving_mnist("test", 2, seed=-1), "seed must not be negative; received -1"),
                          (lambda: data.moving_mnist("test", 2, seed=1.5), "seed must be a whole number; received 1.5"),
                          (lambda: data.moving_mnist("test", 10**7), "count x length must be at most 2,000,000 frames "
                                                                     r"\(8 GiB\); received 10,000,000 x 20"),
                          # One sequence of no digits or no frames was drawn, which moving_mnist refused.
                          (lambda: data.sequence("test", 0, num_digits=0), "num_digits must be at least 1; received 0"),
                          (lambda: data.sequence("test", 0, length=0), "length must be from 1 to 2,000,000; received 0")]:
        with pytest.raises(InputError, match=f"^{message}$"):
            call()
    assert data.split_context(sequence, np.array(4))[0].shape[1] == 4  # a 0-d integer array, as NumPy indexes


def test_seed_0_is_a_seed_not_the_standard_set():
    # 0 is falsy: "seed or the split's" would give the standard test set for seed 0.
    standard, seeded = data.moving_mnist("test", 2), data.moving_mnist("test", 2, seed=0)
    assert not np.array_equal(standard, seeded)
    assert np.array_equal(seeded, data.moving_mnist("test", 2, seed=0))


def test_float_frames_outside_0_to_1_are_refused_not_passed_through():
    # 0-255 floats passed through "scaled" and scored 65,025 times the MSE.
    frames = data.moving_mnist("test", 1)
    with pytest.raises(InputError, match=r"frames: floats must lie in \[0, 1\]; found 0 to 255 \(divide"):
        data.to_unit_float(frames.astype(np.float32))
    with pytest.raises(InputError, match="NaN or infinite values in frames"):
        data.to_unit_float(np.full((1, 2, 64, 64), np.nan, np.float32))
    assert np.array_equal(data.to_unit_float(frames / 255), data.to_unit_float(frames))
    # The bounds themselves: a hair outside on either side is refused, exactly 0 and 1 are not.
    for outside in (1 + 1e-3, -1e-3):
        with pytest.raises(InputError, match=rf"floats must lie in \[0, 1\]; found {outside:g} to {outside:g} "):
            data.to_unit_float(np.full((1, 2, 64, 64), outside, np.float32))
    assert data.to_unit_float(np.stack([np.zeros((2, 64, 64)), np.ones((2, 64, 64))])).max() == 1.0
    for odd in (frames.astype(np.complex64), None):  # NumPy's UFuncTypeError
        with pytest.raises(InputError, match="frames have dtype (complex64|object); use uint8"):
            data.to_unit_float(odd)
    # Integers outside 0-255 gave floats outside [0, 1] from a function that promises them.
    with pytest.raises(InputError, match="^frames is integer, so values must lie in 0-255; found -5 to 300$"):
        data.to_unit_float(np.array([-5, 300]))
    assert data.to_unit_float(frames.astype(np.int64)).max() == 1.0


def test_a_notebook_finds_the_modules_and_names_after_a_bare_import():
    # In a fresh interpreter: `core.data` raised AttributeError until something
    # else imported it, and dir(core) listed none of the lazily loaded names.
    import subprocess
    import sys
    from pathlib import Path

    # The modules without a model load no TensorFlow (23 s): `core.files` did, through the lazy attribute.
    script = ("import sys, core; frames = core.data.moving_mnist('test', 1); "
              "light = core.files, core.cli, core.media, core.metrics, core.errors; "
              "print(frames.shape, 'forecast' in dir(core), 'metrics' in dir(core), 'tensorflow' in sys.modules); "
              "print(core.inspection.__name__, core.Scores.__name__)")  # Scores: what evaluate returns
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[1], capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split("\n")[:2] == ["(1, 20, 64, 64) True True False", "core.inspection Scores"], \
        result.stderr[-2000:]
