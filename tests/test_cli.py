"""Every CLI command, and every bad input: one line, exit status 2, nothing written."""

import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from catalogue import bad_files
from conftest import ROOT, run_cli

from core import media
from core.checkpoints import load_checkpoint, read_checkpoint_info, save_checkpoint
from core.cli import EXIT_INTERRUPTED, main
from core.data import moving_mnist, to_unit_float
from core.forecasting import forecast
from core.metrics import mse
from core.model import build_model


def _npy(path, array, allow_pickle=False):
    np.save(path, array, allow_pickle=allow_pickle)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    good = _npy(folder / "good.npy", moving_mnist("test", 3))
    catalogue = bad_files()
    (folder / "pickled.npy").write_bytes(catalogue["pickled objects"][0])
    (folder / "nan.npy").write_bytes(catalogue["NaN"][0])
    (folder / "corrupted.keras").write_bytes(b"PK\x03\x04" + bytes(500))
    return folder, good


def _refused(capsys, argv, message, *unwritten):
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err, err
    for path in unwritten:
        assert not path.exists()
        assert not list(path.parent.glob(f".{path.name}*"))


def test_a_file_name_that_is_not_utf8_is_printed_escaped(tmp_path):
    # Its bytes arrive as surrogates; a strict stdout raised a traceback after the file was written.
    out = tmp_path / os.fsdecode(b"\xfd.npy")
    result = run_cli("data", "export", "--count", 1, "--out", out, env={"PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.startswith(f"wrote {tmp_path}/\\udcfd.npy: (1, 20, 64, 64)") and out.is_file()


def test_data_export(tmp_path):
    out = tmp_path / "test.npy"
    assert main(["data", "export", "--split", "test", "--count", "4", "--out", str(out)]) == 0
    frames = np.load(out)
    assert frames.shape == (4, 20, 64, 64) and frames.dtype == np.uint8
    assert np.array_equal(frames, moving_mnist("test", 4))


def test_a_path_given_as_dash_dash_out_equals_tilde_goes_home(tmp_path, monkeypatch, capsys):
    # The shell expands ~ only at a word's start: --out=~/one.npy made a folder named "~" here.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["data", "export", "--count", "1", "--out=~/one.npy"]) == 0
    assert (tmp_path / "home" / "one.npy").is_file() and not (tmp_path / "~").exists()
    assert str(tmp_path / "home" / "one.npy") in capsys.readouterr().out


def test_data_export_bad_input(tmp_path, capsys):
    _refused(capsys, ["data", "export", "--count", 0, "--out", tmp_path / "a.npy"], "--count", tmp_path / "a.npy")
    _refused(capsys, ["data", "export", "--count", 10**9, "--out", tmp_path / "a.npy"], "10,000", tmp_path / "a.npy")
    _refused(capsys, ["data", "export", "--seed", -1, "--out", tmp_path / "a.npy"], "--seed", tmp_path / "a.npy")
    _refused(capsys, ["data", "export", "--count", 2, "--out", tmp_path / "a.txt"], ".npy", tmp_path / "a.txt")
    # Named by what is missing, not argparse's "argument action".
    for argv, message in ((["data", "--count", "2", "--out", str(tmp_path / "a.npy")], "argument export: invalid choice"),
                          (["data"], "the following arguments are required: export")):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2 and message in capsys.readouterr().err


def test_unknown_commands_and_missing_options_get_one_line(capsys):
    for argv, message in [(["frobnicate"], "invalid choice"), (["data", "exprt"], "invalid choice"),
                          (["forecast", "--checkpoint", "x.keras"], "--input, --output")]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and message in err and "--help" in err, err


def test_an_unknown_option_points_to_its_commands_help(capsys):
    # argparse's root parser tells of extra arguments; its --help lists commands, not the options meant.
    for argv, told in [(["evaluate", "--checkpoint", "c.keras", "--cuont", "5"],
                        "--cuont 5 (see python -m core evaluate --help)"),
                       (["data", "export", "--out", "x.npy", "-z"], "-z (see python -m core data export --help)")]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
        assert capsys.readouterr().err == f"error: unrecognized arguments: {told}\n"


def test_the_help_gives_the_ranges_the_configs_check(capsys):
    # The help's ranges are typed out (reading them from core.model would load Keras
    # for --help, seconds); this keeps them the bounds the configs enforce.
    from core.cli import MAX_SEQUENCES
    from core.data import MAX_CONTEXT
    from core.forecasting import MAX_HORIZON
    from core.model import MAX_FILTERS, MAX_KERNEL, MAX_LAYERS
    from core.refiner import MAX_REFINER_SEQUENCES, MAX_REFINER_VAL_SEQUENCES
    from core.training import MAX_BATCH_SIZE

    def help_of(command):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        return " ".join(capsys.readouterr().out.split())  # argparse wraps its lines anywhere

    for command, words in [("train", f"cells, 1-{MAX_LAYERS} ("), ("train", f"channels per cell, 1-{MAX_FILTERS} ("),
                           ("train", f"convolution kernel, 1-{MAX_KERNEL} ("),
                           ("train", f"sequences per step, 1-{MAX_BATCH_SIZE} ("),
                           ("refine", f"width, 1-{MAX_FILTERS} ("), ("refine", f"forecast once, 1-{MAX_REFINER_SEQUENCES} ("),
                           ("refine", f"after each epoch, 1-{MAX_REFINER_VAL_SEQUENCES} ("),
                           ("forecast", f"frames to predict, 1-{MAX_HORIZON} ("),
                           ("forecast", f"reads first, 2-{MAX_CONTEXT} ("), ("evaluate", f"frames the model reads, 2-{MAX_CONTEXT};"),
                           ("evaluate", f"sequences scored, 1-{MAX_SEQUENCES}:")]:
        assert words in help_of(command), (command, words)


def test_outputs_that_cannot_be_written_are_refused_before_the_work(tiny_checkpoint, inputs, tmp_path, capsys):
    _, good = inputs
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    folder = tmp_path / "taken.npy"
    folder.mkdir()
    out = tmp_path / "out.npy"
    for argv, path in [
        (["data", "export", "--count", 2, "--out"], blocker / "x.npy"),
        (["data", "export", "--count", 2, "--out"], folder),
        (["data", "export", "--count", 2, "--out"], tmp_path / ".npy"),  # np.save would write "..npy.partial.npy"
        (["train", "--epochs", 1, "--out"], blocker / "sub" / "m.keras"),
        (["export", "--checkpoint", tiny_checkpoint, "--out"], blocker / "m.keras"),
        (["evaluate", "--checkpoint", tiny_checkpoint, "--count", 2, "--card"], blocker / "card.json"),
        (["forecast", "--checkpoint", tiny_checkpoint, "--input", good, "--output"], blocker / "p.npy"),
        (["forecast", "--checkpoint", tiny_checkpoint, "--input", good, "--output", out, "--gif"], blocker / "p.gif"),
    ]:
        _refused(capsys, argv + [path], str(path), out)
    assert blocker.read_text() == "not a folder" and not any(folder.iterdir())
    # /proc takes no new file, even from root, whom os.access tells otherwise.
    _refused(capsys, ["data", "export", "--count", 2, "--out", "/proc/convlstm/x.npy"],
             "cannot write /proc/convlstm/x.npy: /proc is not a folder this user can write to")
    # A valid name whose hidden ".NAME.partial" is not: it failed after the work, naming that file.
    long = tmp_path / "new" / ("a" * 248 + ".npy")
    _refused(capsys, ["data", "export", "--count", 2, "--out", long], "--out's file name is too long: 252 bytes", long)
    assert not (tmp_path / "new").exists()
    # A folder name too long: refused after the work, naming the hidden file, with new/ left behind.
    deep = tmp_path / "new" / ("d" * 300) / "m.keras"
    _refused(capsys, ["export", "--checkpoint", tiny_checkpoint, "--out", deep], "a folder name in --out is too long: 300 bytes")
    assert not (tmp_path / "new").exists()


def test_an_output_name_that_is_not_utf8_is_written(tmp_path):
    # A Latin-1 terminal's "prévision": Python hands it over with a surrogate, which .encode() refused in a traceback.
    out = tmp_path / "pr\udce9vision.npy"
    assert main(["data", "export", "--count", "2", "--out", str(out)]) == 0
    assert os.listdir(os.fsencode(tmp_path)) == [b"pr\xe9vision.npy"]
    assert np.array_equal(np.load(out), moving_mnist("test", 2))


def test_an_output_that_is_a_symlink_stays_one_and_its_target_is_written(tiny_checkpoint, tmp_path):
    # A link into a shared folder (or a dangling one, as a shell's ">" would create) was replaced by a plain file.
    shared, links = tmp_path / "shared", tmp_path / "links"
    shared.mkdir(), links.mkdir()
    (links / "test.npy").symlink_to(shared / "test.npy")
    (links / "model.keras").symlink_to(shared / "model.keras")
    assert main(["data", "export", "--count", "2", "--out", str(links / "test.npy")]) == 0
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--out", str(links / "model.keras")]) == 0
    assert (links / "test.npy").is_symlink() and (links / "model.keras").is_symlink()
    assert np.array_equal(np.load(shared / "test.npy"), moving_mnist("test", 2))
    assert read_checkpoint_info(shared / "model.keras")[0] == read_checkpoint_info(tiny_checkpoint)[0]
    assert sorted(os.listdir(links)) == ["model.keras", "test.npy"]  # nothing partial left beside the links


def test_a_write_that_fails_midway_changes_neither_output(tiny_checkpoint, inputs, tmp_path, capsys, monkeypatch):
    # The disk fills up while the GIF is written, after the forecast itself was written:
    # the earlier forecast in the same file must survive (it used to be deleted).
    _, good = inputs

    def full_disk(self, content):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pathlib.Path.write_bytes", full_disk)
    out, gif = tmp_path / "p.npy", tmp_path / "p.gif"
    out.write_text("an earlier forecast")
    argv = ["forecast", "--checkpoint", tiny_checkpoint, "--input", good, "--output", out, "--gif", gif]
    assert main([str(a) for a in argv]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert last == f"error: cannot write {gif}: No space left on device"
    assert list(tmp_path.iterdir()) == [out] and out.read_text() == "an earlier forecast"
    # Folders made for the outputs go too: a failed forecast left empty new/deeper/ behind.
    new = tmp_path / "new"
    argv = ["forecast", "--checkpoint", tiny_checkpoint, "--input", good,
            "--output", new / "deeper" / "p.npy", "--gif", new / "p.gif"]
    assert main([str(a) for a in argv]) == 2
    assert list(tmp_path.iterdir()) == [out]


def test_a_file_that_vanishes_mid_run_is_one_line_and_status_2(tmp_path, capsys, monkeypatch):
    # Not a write (those are named above) but any other OSError, e.g. a read from a folder removed meanwhile.
    def vanished(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "/mnt/usb/digits.npz")

    monkeypatch.setattr("core.data.moving_mnist", vanished)
    out = tmp_path / "x.npy"
    assert main(["data", "export", "--count", "2", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: /mnt/usb/digits.npz: No such file or directory"
    assert not out.exists()


def test_a_full_disk_under_numpy_is_named(tmp_path, capsys, monkeypatch):
    def short_write(handle, array, allow_pickle):  # what np.save raised on a 1 MB tmpfs
        handle.write(b"\x93NUMPY" + bytes(1000))
        raise OSError("8192000 requested and 1048448 written")

    monkeypatch.setattr("numpy.save", short_write)
    out = tmp_path / "x.npy"
    assert main(["data", "export", "--count", "2", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: cannot write {out}: No space left on device (or over quota)"
    assert list(tmp_path.iterdir()) == []  # the partial file went too


def test_export_drops_the_optimizer_and_can_set_an_output_floor(tiny_checkpoint, inputs, tmp_path, capsys):
    _, good = inputs
    source = load_checkpoint(tiny_checkpoint, compile=False)
    raw = forecast(source, np.load(good)[:, :10], 10)
    floor = round(float(np.median(raw)), 3)
    out = tmp_path / "shipped.keras"
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--output-floor", str(floor)]) == 0
    assert out.stat().st_size < tiny_checkpoint.stat().st_size  # no Adam moments
    config, info = read_checkpoint_info(out)
    assert config.output_floor == floor and info == source.studio_info
    exported = forecast(load_checkpoint(out, compile=False), np.load(good)[:, :10], 10)
    np.testing.assert_array_equal(exported, np.where(raw < floor, 0, raw))
    _refused(capsys, ["export", "--checkpoint", tiny_checkpoint, "--out", tmp_path / "x.keras", "--output-floor", 1],
             "--output-floor must be at least 0 and below 1", tmp_path / "x.keras")
    # Exporting a training state over itself would drop its optimizer, and resuming it would start Adam afresh.
    state = tmp_path / "state.keras"
    state.write_bytes(tiny_checkpoint.read_bytes())
    _refused(capsys, ["export", "--checkpoint", state, "--out", state], "--out is the --checkpoint file")
    assert state.read_bytes() == tiny_checkpoint.read_bytes()
    # Nor over another run's state: its optimizer was dropped without a word. Over an export it writes, as the
    # shipped model is made.
    _refused(capsys, ["export", "--checkpoint", out, "--out", state], f"{state} is a training state, saved with its "
             "optimizer to resume from, which export would replace with a model without one; give another --out")
    assert state.read_bytes() == tiny_checkpoint.read_bytes()
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out)]) == 0


def test_train_json_in_a_real_process(tmp_path):
    out = tmp_path / "m.keras"
    run = ("train", "--epochs", 1, "--epoch-sequences", 24, "--batch-size", 8, "--layers", 1,
           "--filters", 4, "--precision", "float32", "--out", out, "--json", "--resume")
    result = run_cli(*run)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["sequences_seen"] == 24 and report["sequences_per_second"] > 0
    assert report["device"].startswith("CPU") and report["val_mse"] > 0
    assert out.is_file()
    # A --resume with nothing to resume says so (a mistyped path started over without a word).
    assert f"note: {out} does not exist yet, so --resume starts a new run there" in result.stderr
    again = run_cli(*run)
    assert again.returncode == 0 and "does not exist" not in again.stderr, again.stderr
    assert json.loads(again.stdout.strip().splitlines()[-1])["sequences_seen"] == 48


def test_fine_tuning_takes_the_sources_sizes_small_steps_and_closed_loop(tiny_checkpoint, tmp_path):
    out = tmp_path / "tuned.keras"
    result = run_cli("train", "--init-from", tiny_checkpoint, "--epochs", 1, "--epoch-sequences", 8,
                     "--batch-size", 8, "--out", out)
    assert result.returncode == 0, result.stderr
    config, info = read_checkpoint_info(out)
    assert (config.num_layers, config.filters) == (1, 8)
    assert info["learning_rate"] == 1e-4 and info["sampling_sequences"] == 0
    # Whether the run helped, as refine says it: the model it started from, scored first.
    assert re.search(r"validation MSE \d+\.\d -> \d+\.\d$", result.stdout.strip()), result.stdout



def test_fine_tuning_takes_the_sources_preset(tmp_path, capsys):
    # Without --preset, a keras.io file was refused as "a 'keras-io' model; preset 'convlstm'
    # asks for another", a preset nobody asked for; and with it, training failed with a traceback.
    from core.model import preset

    source = save_checkpoint(build_model(preset("keras-io", filters=2)), tmp_path / "kio.keras")
    run = ["train", "--init-from", str(source), "--epochs", "1", "--epoch-sequences", "2", "--batch-size", "2",
           "--val-sequences", "1"]
    assert main([*run, "--out", str(tmp_path / "tuned.keras")]) == 0
    assert read_checkpoint_info(tmp_path / "tuned.keras")[0].preset == "keras-io"
    assert main([*run, "--preset", "convlstm", "--out", str(tmp_path / "other.keras")]) == 2
    assert "is a 'keras-io' model; preset 'convlstm' asks for another" in capsys.readouterr().err
    # A missing source is named as given: its read went through the words-to-flags rewrite once.
    assert main(["train", "--init-from", "out/precision.keras", "--out", str(tmp_path / "x.keras")]) == 2
    assert capsys.readouterr().err.strip() == "error: no checkpoint at out/precision.keras"


SLOW_SAVE = """
import os, pathlib, time, zipfile
_open = zipfile.ZipFile.__init__
def _slow(self, file, mode="r", *args, **kwargs):  # a checkpoint's record, appended once its weights are written
    if mode == "a":
        pathlib.Path(os.environ["SAVING"]).touch()
        time.sleep(60)
    _open(self, file, mode, *args, **kwargs)
zipfile.ZipFile.__init__ = _slow
"""


def test_a_second_ctrl_c_while_saving_leaves_no_hidden_file(tmp_path):
    # The second Ctrl-C quits at once; the training thread dies mid-save with the process, and its
    # half-written .NAME.partial.keras stayed beside --out (8 runs in 8, with this slowed save).
    (tmp_path / "sitecustomize.py").write_text(SLOW_SAVE)
    saving, out = tmp_path / "saving", tmp_path / "run" / "m.keras"
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "train", "--epochs", "1000", "--epoch-sequences", "8", "--batch-size", "8",
         "--layers", "1", "--filters", "4", "--precision", "float32", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path), "SAVING": str(saving)})
    deadline = time.time() + 120
    while not saving.exists() and time.time() < deadline:  # the first epoch's checkpoint is being written
        time.sleep(0.1)
    assert saving.exists() and list(out.parent.glob(".m.partial.keras"))
    process.send_signal(signal.SIGINT)  # stop after this batch...
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)  # ...no: at once
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Ctrl-C again quits at once" in stderr, stderr[-500:]
    assert not out.parent.exists()  # nor the folder made for --out, empty, as a failed save takes it away


def test_forecast_writes_npy_and_gif(tiny_checkpoint, inputs, tmp_path):
    _, good = inputs
    out, gif = tmp_path / "out.npy", tmp_path / "out.gif"
    argv = ["forecast", "--checkpoint", tiny_checkpoint, "--input", good, "--output", out, "--horizon", 12, "--gif", gif]
    assert main([str(a) for a in argv]) == 0
    predicted = np.load(out)
    assert predicted.shape == (3, 12, 64, 64) and predicted.dtype == np.float32
    assert 0 <= predicted.min() and predicted.max() <= 1
    assert gif.read_bytes()[:6] == b"GIF89a"


def test_forecast_from_all_frames_of_a_short_input(tiny_checkpoint, inputs, tmp_path):
    _, good = inputs
    out = tmp_path / "out.npy"
    argv = ["forecast", "--checkpoint", tiny_checkpoint, "--input", good, "--output", out, "--context", 25, "--horizon", 4]
    assert main([str(a) for a in argv]) == 0  # 20 frames given: all 20 are the context
    assert np.load(out).shape == (3, 4, 64, 64)


def test_official_file(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    official = tmp_path / "mnist_test_seq.npy"
    np.save(official, moving_mnist("test", 30).swapaxes(0, 1))  # the official layout: time first
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--official", str(official), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sequences"] == 30
    # A file named "cache" is that file: it was taken for --official alone, the file in Keras' (empty) cache.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.chdir(tmp_path)
    Path("cache").write_bytes(official.read_bytes())
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--official", "cache", "--count", "5", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sequences"] == 5
    out = tmp_path / "out.npy"
    # Each command says what it takes instead: forecast was sent to an --official it has not.
    _refused(capsys, ["forecast", "--checkpoint", tiny_checkpoint, "--input", official, "--output", out],
             f"stored time first (20, N, 64, 64); open it with the Dataset page's Official file source or "
             f"core.data.load_official; to forecast it here, save it sequence first: numpy.save('sequences.npy', "
             f"numpy.load('{official}').swapaxes(0, 1))", out)
    _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--input", official],
             "core.data.load_official; here, give it with --official")


def test_forecast_warns_when_time_may_be_the_first_axis(tiny_checkpoint, tmp_path, capsys):
    # 2 sequences of 150 frames, or 150 of 2 frames stored time first: forecast cut it to 10 frames in silence.
    stored = _npy(tmp_path / "long.npy", moving_mnist("test", 150, length=2).swapaxes(0, 1))
    out = tmp_path / "out.npy"
    assert main(["forecast", "--checkpoint", str(tiny_checkpoint), "--input", str(stored), "--output", str(out)]) == 0
    assert "2 sequences of 150 frames" in capsys.readouterr().err and np.load(out).shape == (2, 10, 64, 64)


def test_forecast_refuses_a_foreign_keras_model(inputs, tmp_path, capsys):
    import keras

    foreign = tmp_path / "foreign.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(foreign)
    _, good = inputs
    out = tmp_path / "out.npy"
    _refused(capsys, ["forecast", "--checkpoint", foreign, "--input", good, "--output", out], "not a ConvLSTM Studio", out)


def test_forecast_with_another_context(tiny_checkpoint, inputs, tmp_path):
    _, good = inputs
    out, gif = tmp_path / "out.npy", tmp_path / "out.gif"
    argv = ["forecast", "--checkpoint", tiny_checkpoint, "--input", good, "--output", out, "--context", 4, "--horizon", 3,
            "--gif", gif]
    assert main([str(a) for a in argv]) == 0
    # From the first 4 frames alone, as the notebook's forecast of them.
    frames = np.load(good)
    expected = forecast(load_checkpoint(tiny_checkpoint, compile=False, precision="auto"), frames[:, :4], 3)
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    # The GIF's ground truth goes on with frame 5 (index 4) where the forecast starts.
    played = iio.imread(gif, index=None)
    top, side = media.BANNER + media.BORDER, media.BORDER
    shown = played[4, top : top + 256 : 4, side : side + 256 : 4, 0].astype(int)
    assert np.abs(shown - frames[0, 4]).max() <= 16 < np.abs(shown - frames[0, 3]).max()


def test_evaluate_scores_as_many_sequences_as_asked_from_a_file(tiny_checkpoint, inputs, capsys):
    _, good = inputs
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--input", str(good), "--count", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sequences"] == 2


BAD_FILES = bad_files()


@pytest.mark.parametrize("name", [*BAD_FILES, "missing file"])
def test_forecast_refuses_bad_input(name, tiny_checkpoint, tmp_path, capsys):
    source = tmp_path / "input.npy"
    if name in BAD_FILES:
        source.write_bytes(BAD_FILES[name][0])
    out = tmp_path / "out.npy"
    argv = ["forecast", "--checkpoint", tiny_checkpoint, "--input", source, "--output", out]
    _refused(capsys, argv, BAD_FILES[name][1] if name in BAD_FILES else "cannot read", out)


@pytest.mark.parametrize(
    "checkpoint,message",
    [("missing.keras", "no checkpoint"), ("corrupted.keras", "not a Keras checkpoint"), ("good.npy", "not a Keras checkpoint")],
)
def test_forecast_refuses_bad_checkpoints(checkpoint, message, inputs, tmp_path, capsys):
    folder, good = inputs
    out = tmp_path / "out.npy"
    _refused(capsys, ["forecast", "--checkpoint", folder / checkpoint, "--input", good, "--output", out], message, out)


def test_a_checkpoint_missing_a_weight_is_refused_with_the_cause(tiny_checkpoint, inputs, tmp_path, capsys):
    # The message used to stop at Keras' "... for object <Conv2D name=head>:".
    import h5py

    _, good = inputs
    with zipfile.ZipFile(tiny_checkpoint) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    weights = tmp_path / "model.weights.h5"
    weights.write_bytes(parts["model.weights.h5"])
    with h5py.File(weights, "r+") as file:
        del file["head/vars/1"]  # the output layer's bias
    damaged = tmp_path / "damaged.keras"
    with zipfile.ZipFile(damaged, "w") as archive:
        for name, content in parts.items():
            archive.writestr(name, weights.read_bytes() if name == "model.weights.h5" else content)
    out = tmp_path / "out.npy"
    _refused(capsys, ["forecast", "--checkpoint", damaged, "--input", good, "--output", out],
             "Layer 'head' expected 2 variables, but received 0", out)


def test_forecast_refuses_bad_options(tiny_checkpoint, inputs, tmp_path, capsys, monkeypatch):
    _, good = inputs
    out = tmp_path / "out.npy"
    base = ["forecast", "--checkpoint", tiny_checkpoint, "--input", good, "--output", out]
    _refused(capsys, base + ["--horizon", 0], "horizon", out)
    _refused(capsys, base + ["--context", 1], "--context", out)
    _refused(capsys, base[:-1] + [tmp_path / "out.csv"], ".npy", tmp_path / "out.csv")
    _refused(capsys, base + ["--gif", tmp_path / "x.png"], ".gif", out, tmp_path / "x.png")
    # 10,000 sequences x 100 frames filled 16 GB and met the OOM killer; the limit is lowered to fit the 3 sequences here.
    monkeypatch.setattr("core.cli.MAX_FORECAST_FRAMES", 29)
    _refused(capsys, base + ["--horizon", 10], "at least 3 sequences x 10 predicted frames is more than 29 frames", out)
    # The input written over with its own forecast was gone for good.
    before = good.read_bytes()
    _refused(capsys, base[:-1] + [good], "--output is the --input file, which this command would replace; give another path")
    assert good.read_bytes() == before
    # Nor the GIF, the checkpoint or a link to either: each was replaced, and the command said it had worked.
    copy = tmp_path / "copy.npy"
    copy.write_bytes(before)
    (tmp_path / "frames.gif").symlink_to(copy)
    _refused(capsys, base[:4] + [copy] + base[5:] + ["--gif", tmp_path / "frames.gif"],
             "--gif is the --input file, which this command would replace", out)
    (tmp_path / "model.npy").symlink_to(tiny_checkpoint)
    model = tiny_checkpoint.read_bytes()
    _refused(capsys, base[:-1] + [tmp_path / "model.npy"], "--output is the --checkpoint file")
    assert copy.read_bytes() == before and tiny_checkpoint.read_bytes() == model
    (tmp_path / "both.gif").symlink_to(out)  # two outputs, one file
    _refused(capsys, base + ["--gif", tmp_path / "both.gif"], "--gif is the --output file", out)


def test_evaluate_table_and_json(tiny_checkpoint, capsys):
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--count", "6", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["sequences"] == 6
    assert set(report) >= {"model", "black frames", "repeat last frame"}
    truth = to_unit_float(moving_mnist("test", 6)[:, 10:])  # the first 6 test sequences, scored after their context
    assert report["black frames"]["mse"] == pytest.approx(mse(np.zeros_like(truth), truth))
    # Frame by frame (the model card quotes the curve): black frames' error at each frame is that frame's ink.
    curve = report["black frames"]["mse_per_frame"]
    assert curve == pytest.approx([(truth[:, t] ** 2).sum(axis=(1, 2)).mean() for t in range(10)], rel=1e-5)
    assert np.mean(report["model"]["mse_per_frame"]) == pytest.approx(report["model"]["mse"], rel=1e-5)
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--count", "4"]) == 0
    table = capsys.readouterr().out
    assert "MSE" in table and "repeat last frame" in table
    assert table.splitlines()[-1].count(", ") == 9  # the model's 10 frames, one by one
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--count", "1", "--context", "19"]) == 0
    assert capsys.readouterr().out.startswith("1 sequence, 19 context -> 1 predicted frame\n")
    # Scored after the context asked for, not the default 10 (the header above said 19 either way).
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--count", "2", "--context", "15", "--json"]) == 0
    report, frames = json.loads(capsys.readouterr().out.splitlines()[-1]), to_unit_float(moving_mnist("test", 2))
    assert len(report["model"]["mse_per_frame"]) == 5
    assert report["repeat last frame"]["mse"] == pytest.approx(mse(np.repeat(frames[:, 14:15], 5, 1), frames[:, 15:]))
    _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--count", 2, "--context", 1],
             "--context must be at least 2 frames")  # as forecast says, not a message about "frames"
    # core's message told a command-line user to swap an array's axes.
    _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--context", 101],
             "--context must be at most 100 frames; received 101")
    _refused(capsys, ["forecast", "--checkpoint", tiny_checkpoint, "--input", tiny_checkpoint, "--output",
                      tiny_checkpoint.parent / "never.npy", "--context", 101], "--context must be at most 100 frames")


def test_evaluate_on_a_file(tiny_checkpoint, inputs, capsys):
    _, good = inputs
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--input", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sequences"] == 3


def test_refine_trains_a_refiner_and_refuses_bad_input(tiny_checkpoint, inputs, tmp_path, capsys, monkeypatch):
    out = tmp_path / "refined.keras"
    result = run_cli("refine", "--checkpoint", tiny_checkpoint, "--out", out, "--filters", 4, "--sequences", 16,
                     "--epochs", 1, "--val-sequences", 8, "--seed", 0, "--ssim-weight", 20, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["val_mse"] < summary["val_mse_before"]
    assert "training, epoch 1/1: 100%" in result.stderr  # the epoch's progress bar, finished
    config, info = read_checkpoint_info(out)
    assert config.refiner_filters == 4 and info["refiner"]["sequences"] == 16 and info["refiner"]["ssim_weight"] == 20
    # A second round on other sequences starts from the first round's refiner, as it scored, and records both.
    resumed = tmp_path / "resumed.keras"
    result = run_cli("refine", "--checkpoint", out, "--out", resumed, "--resume", "--sequences", 16, "--epochs", 1,
                     "--val-sequences", 8, "--seed", 3, "--lr", 1e-4, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["val_mse_before"] == pytest.approx(summary["val_mse"],
                                                                                                 rel=1e-3)
    config, again = read_checkpoint_info(resumed)
    assert config.refiner_filters == 4 and again["refiner"]["resume"] and again["refiner"]["seed"] == 3
    assert again["refiner"]["ssim_weight"] == 20  # the first round's loss, not the default squared error alone
    assert again["refiner"]["continues"] == info["refiner"]
    folder, _ = inputs
    for option, message in [
        (["--filters", 0], "--filters must be from 1 to 512; received 0"),
        (["--sequences", 10**6], "--sequences must be from 1 to 20,000"),
        (["--lr", 2], "--lr must be between 0 and 1"),
        (["--val-sequences", 0], "--val-sequences must be from 1 to 5,000"),
        (["--seed", -1], "--seed must be from 0 to 4,294,967,295; received -1"),
        (["--seed", 2**32], "--seed must be from 0 to 4,294,967,295"),  # was Keras' traceback
        (["--seed", 1], "--seed 1 draws the motions of the validation set (seed 1) or the test set (2)"),
        (["--seed", 2], "--seed 2 draws the motions"),
        (["--ssim-weight", "nan"], "--ssim-weight must be from 0 to 10,000; received nan"),
    ]:
        _refused(capsys, ["refine", "--checkpoint", tiny_checkpoint, "--out", tmp_path / "r.keras", *option], message,
                 tmp_path / "r.keras")
    _refused(capsys, ["refine", "--checkpoint", folder / "corrupted.keras", "--out", tmp_path / "r.keras"],
             "not a Keras checkpoint", tmp_path / "r.keras")
    _refused(capsys, ["refine", "--checkpoint", tiny_checkpoint, "--out", Path(tiny_checkpoint).parent / "." /
                      Path(tiny_checkpoint).name], "--out is the --checkpoint file")
    before = resumed.read_bytes()  # an hour's round, where the next round's --out was mistyped
    _refused(capsys, ["refine", "--checkpoint", out, "--out", resumed], f"{resumed} already exists; give another --out")
    assert resumed.read_bytes() == before
    keras_io = save_checkpoint(build_model("keras-io"), tmp_path / "keras-io.keras")
    _refused(capsys, ["refine", "--checkpoint", keras_io, "--out", tmp_path / "r.keras"],
             "is a keras-io model; only a convlstm model takes a refiner", tmp_path / "r.keras")
    _refused(capsys, ["refine", "--checkpoint", tiny_checkpoint, "--out", tmp_path / "r.keras", "--resume"],
             "has no refiner to resume; drop --resume to train a new one", tmp_path / "r.keras")
    _refused(capsys, ["refine", "--checkpoint", out, "--out", tmp_path / "r.keras", "--resume", "--filters", 8],
             f"--filters 8 does not match the 4 filters of {out}'s refiner", tmp_path / "r.keras")
    _refused(capsys, ["refine", "--checkpoint", keras_io, "--out", tmp_path / "r.keras", "--resume"],
             "is a keras-io model", tmp_path / "r.keras")
    for seed, said in (([], "seed 0 (the default) draws"), (["--seed", 0], "seed 0 draws"), (["--seed", 3], "seed 3 draws")):
        # The rounds so far drew seeds 0 and 3.
        _refused(capsys, ["refine", "--checkpoint", resumed, "--out", tmp_path / "r.keras", "--resume", *seed],
                 f"{said} the sequences an earlier round of this refiner trained on (seeds used: 0, 3); pick another",
                 tmp_path / "r.keras")
    # Without --resume its refiner is replaced, and "before" is the forecaster alone: the shipped model's
    # "50.52 -> 50.16" read as a gain, where its own refiner had scored 49.31.
    monkeypatch.setattr("core.refiner.train_refiner", lambda *args: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["refine", "--checkpoint", str(out), "--out", str(tmp_path / "r.keras")]) == EXIT_INTERRUPTED
    assert (f"note: {out}'s refiner (4 filters) is replaced by a new one, and 'before' is the forecaster without a "
            "refiner; --resume trains the refiner it has further") in capsys.readouterr().err


def test_ctrl_c_in_refine_exits_130_at_once_and_writes_nothing(tiny_checkpoint, tmp_path):
    import subprocess
    import sys
    import time

    out = tmp_path / "r.keras"
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "refine", "--checkpoint", str(tiny_checkpoint), "--out", str(out),
         "--filters", "4", "--sequences", "2000", "--epochs", "1000"],  # never done before the Ctrl-C
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's background job ignores it
    )
    try:
        for line in process.stderr:
            if line.startswith("epoch 0/"):  # the fit starts: a Ctrl-C a few steps in left TensorFlow hung at exit
                break
        time.sleep(4)
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
        assert process.returncode == 130 and rest.strip().endswith("stopped by Ctrl-C before the end")
    finally:
        process.kill()
    assert not list(tmp_path.iterdir())


def test_a_ctrl_c_lost_in_a_garbage_collection_callback_still_stops_refine(tiny_checkpoint, tmp_path, capsys,
                                                                          monkeypatch):
    # JAX (which TensorFlow imports where it is installed) runs Python in a garbage-collection callback,
    # and a KeyboardInterrupt raised there is printed as "Exception ignored" and lost: refine went on to
    # its last epoch, and CI's Ctrl-C test timed out. Here a Ctrl-C lands in such a callback.
    import gc

    lost = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: lost.append(unraisable.exc_type))

    def in_collection(phase, info):
        # Once the command is at work (its handler set): its handler runs here, inside the callback.
        if phase == "start" and not lost and signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            signal.raise_signal(signal.SIGINT)

    out = tmp_path / "r.keras"
    gc.callbacks.append(in_collection)
    try:
        code = main(["refine", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--filters", "4",
                     "--sequences", "64", "--epochs", "3"])
    finally:
        gc.callbacks.remove(in_collection)
    assert lost == [KeyboardInterrupt]  # it was lost, as JAX's callback lost it
    assert code == EXIT_INTERRUPTED and capsys.readouterr().err.strip().endswith("stopped by Ctrl-C before the end")
    assert not out.exists()


def test_a_reader_that_leaves_early_ends_the_command_quietly(tmp_path):
    # "python -m core data export ... | head" ended "error: a file: Broken pipe", exit status 2,
    # with the file written whole.
    import subprocess
    import sys

    from conftest import ROOT

    out = tmp_path / "three.npy"
    process = subprocess.Popen([sys.executable, "-m", "core", "data", "export", "--split", "test", "--count", "3",
                                "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # the reader leaves before the command's summary line
    errors = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert "error" not in errors and "Exception" not in errors
    assert np.load(out).shape == (3, 20, 64, 64)


@pytest.mark.parametrize("stand_in", [
    # A Ctrl-C in a command's first seconds printed TensorFlow's hidden log and a traceback.
    "import os\nos.write(2, b'oneDNN notice\\n')\nraise KeyboardInterrupt\n",
    # With JAX installed TensorFlow imports it, and a Ctrl-C that landed in JAX's garbage-collection
    # callback was lost: the forecast ran to its end and exited 0.
    "import gc, os, signal, types\n"
    "gc.callbacks.append(lambda *_: gc.callbacks.clear() or os.kill(os.getpid(), signal.SIGINT))\n"
    "gc.collect()\n"
    "config = types.SimpleNamespace(list_physical_devices=lambda: [])\n",
], ids=["raised", "in a garbage collection"])
def test_ctrl_c_while_tensorflow_loads_stops_without_a_traceback(tmp_path, tiny_checkpoint, test_sequences, stand_in):
    # A stand-in for TensorFlow, stopped while it loads.
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text(stand_in)
    np.save(tmp_path / "in.npy", test_sequences[:1])
    out = tmp_path / "out.npy"
    result = run_cli("forecast", "--checkpoint", tiny_checkpoint, "--input", tmp_path / "in.npy", "--output", out,
                     env={"PYTHONPATH": str(tmp_path)})
    assert (result.returncode, result.stderr) == (130, "\nstopped by Ctrl-C before the end\n")
    assert not out.exists()


def test_ctrl_c_in_tensorflows_teardown_keeps_the_exit_status(tmp_path, tiny_checkpoint, test_sequences):
    # TensorFlow's teardown takes about a second after "wrote ...": a Ctrl-C then, by someone waiting
    # for the prompt, turned the finished forecast's exit status into 130 ("nothing written").
    np.save(tmp_path / "in.npy", test_sequences[:1])
    out = tmp_path / "out.npy"
    process = subprocess.Popen(
        [sys.executable, "-m", "core", "forecast", "--checkpoint", str(tiny_checkpoint), "--input",
         str(tmp_path / "in.npy"), "--output", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert process.stdout.readline().startswith(f"wrote {out}")
    time.sleep(0.2)  # past main(): a press before it returns is a Ctrl-C in the command, as it should be
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and "Traceback" not in stderr, (process.returncode, stderr)
    assert np.load(out).shape == (1, 10, 64, 64)


def test_refine_keeps_the_precision_the_file_was_trained_in(tmp_path):
    # On a CPU without bfloat16 the model runs in float32, which was saved as if
    # the file had been trained so: a resumed GPU run then trained at half speed.
    from core.model import ModelConfig

    source = save_checkpoint(build_model(ModelConfig(num_layers=1, filters=8, precision="mixed_bfloat16")),
                             tmp_path / "bf16.keras")
    out = tmp_path / "refined.keras"
    result = run_cli("refine", "--checkpoint", source, "--out", out, "--filters", 4, "--sequences", 8, "--epochs", 1,
                     "--val-sequences", 4)
    assert result.returncode == 0, result.stderr
    config = read_checkpoint_info(out)[0]
    assert (config.precision, config.refiner_filters) == ("mixed_bfloat16", 4)


def test_evaluate_and_train_bad_input(tiny_checkpoint, inputs, tmp_path, capsys, monkeypatch):
    folder, _ = inputs
    _refused(capsys, ["evaluate", "--checkpoint", folder / "corrupted.keras"], "not a Keras checkpoint")
    _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--count", 0], "--count")
    _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--input", folder / "nan.npy"], "NaN")
    np.save(folder / "long.npy", np.zeros((1, 200, 64, 64), np.uint8))
    _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--input", folder / "long.npy"],
             "evaluation scores at most 100 frames after the context; the input has 200 frames and --context is 10 "
             "(if time is its first axis, as in mnist_test_seq.npy, give it with --official)")
    with monkeypatch.context() as patch:  # the limit lowered to fit 3 bundled sequences
        patch.setattr("core.cli.MAX_FORECAST_FRAMES", 29)
        _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--count", 3],
                 "3 sequences x 10 predicted frames is more than 29 frames to hold at once; lower --count")
    _refused(capsys, ["train", "--out", tmp_path / "m.h5"], ".keras", tmp_path / "m.h5")
    # Messages name the flags that were typed, not TrainConfig's fields.
    for option, message in [
        (["--lr", 7], "--lr must be between 0 and 1"),
        (["--batch-size", 0], "--batch-size must be from 1 to 1,024; received 0"),
        (["--batch-size", 100_000], "--batch-size must be from 1 to 1,024; received 100,000"),  # was 30 GiB, then a traceback
        (["--epoch-sequences", 4, "--batch-size", 8], "--epoch-sequences (4) must be at least --batch-size (8)"),
        (["--seed", -1], "--seed"),
        (["--sampling-sequences", -5], "--sampling-sequences"),
        (["--val-sequences", 0], "--val-sequences must be from 1 to 10,000"),
        (["--val-sequences", 10**8], "--val-sequences must be from 1 to 10,000"),  # was a MemoryError
        (["--lr-decay-start", 100], "--lr-decay-sequences"),
        (["--resume", "--init-from", tiny_checkpoint], "--resume and --init-from cannot both be given"),
        (["--init-from", tmp_path / "m.keras"], "--init-from is --out, which the run would overwrite; give --out another path"),
        (["--lr-decay-sequences", 10, "--lr-decay-start", -1], "--lr-decay-start must not be negative; received -1"),
        (["--workers", 40_000], "--workers must be from 1 to 64"),  # was "can't start new thread", 98 lines
        (["--epoch-sequences", 10**10], "--epoch-sequences must be at most 16,000,000"),  # was killed at 23 GB
        (["--preset", "keras-io", "--layers", 5], "only filters"),
        (["--preset", "keras-io", "--precision", "mixed_bfloat16"], "can change; received --precision"),  # "precision"
        # Refused at once: 100,000 layers filled 23 GB of memory before a batch ran.
        (["--layers", 100_000], "--layers must be from 1 to 8; received 100,000"),
        (["--filters", 100_000], "--filters must be from 1 to 512; received 100,000"),
    ]:
        _refused(capsys, ["train", "--out", tmp_path / "m.keras", *option], message, tmp_path / "m.keras")
    resumed = tmp_path / "resumed.keras"
    resumed.write_bytes(Path(tiny_checkpoint).read_bytes())
    _refused(capsys, ["train", "--out", resumed, "--resume", "--preset", "keras-io", "--epochs", 1],
             "a convlstm model; --preset keras-io asks for another")
    # The sizes in words, not a notebook's "num_layers=5".
    source = tmp_path / "out" / "filters.keras"
    source.parent.mkdir()
    source.write_bytes(Path(tiny_checkpoint).read_bytes())
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    _refused(capsys, ["train", "--out", tmp_path / "m.keras", "--init-from", source, "--layers", 5, "--epochs", 1],
             f"error: {source} has other sizes than asked, and a run from it keeps its own; layers: 5 asked, 1 there",
             tmp_path / "m.keras")
    _refused(capsys, ["train", "--out", resumed, "--resume", "--layer-norm", "--epochs", 1],
             "layer norm: on asked, off there")
    # A failed train in this process left SIGTERM caught, and so ignored, by its finished run.
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"garbage")
    _refused(capsys, ["train", "--out", broken, "--resume", "--epochs", 1], "not a Keras checkpoint")
    assert broken.read_bytes() == b"garbage"  # a failed resume leaves the file alone
    # Without --resume an existing model was replaced by a new one.
    _refused(capsys, ["train", "--out", resumed, "--epochs", 1], "already exists; add --resume to continue it")
    assert resumed.read_bytes() == Path(tiny_checkpoint).read_bytes()


def test_an_empty_path_is_refused_not_taken_for_no_option(tiny_checkpoint, inputs, tmp_path, capsys):
    # As an unset shell variable gives: --init-from "" trained from scratch, and
    # --input "" or --official "" scored the bundled test set instead.
    _, good = inputs
    out = tmp_path / "out.npy"
    for argv in [
        ["train", "--out", tmp_path / "m.keras", "--init-from", "", "--epochs", 1],
        ["evaluate", "--checkpoint", tiny_checkpoint, "--input", "", "--count", 2],
        ["evaluate", "--checkpoint", tiny_checkpoint, "--official", "", "--count", 2],
        ["evaluate", "--checkpoint", tiny_checkpoint, "--card", " ", "--count", 2],
        ["forecast", "--checkpoint", tiny_checkpoint, "--input", good, "--output", out, "--gif", ""],
        ["export", "--checkpoint", "", "--out", tmp_path / "e.keras"],
    ]:
        with pytest.raises(SystemExit) as stop:
            main([str(a) for a in argv])
        assert stop.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: argument --") and "needs a path; received an empty one" in err, err
        assert "\n" not in err
    assert not out.exists() and not (tmp_path / "m.keras").exists()


def test_bad_input_in_a_real_process_has_no_traceback(tiny_checkpoint, inputs, tmp_path):
    folder, _ = inputs
    out = tmp_path / "out.npy"
    result = run_cli("forecast", "--checkpoint", tiny_checkpoint, "--input", folder / "pickled.npy", "--output", out)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {folder / 'pickled.npy'} holds Python objects (pickled data), which are never loaded"
    ]
    assert not out.exists()


@pytest.mark.parametrize("tf_config, message", [
    ("", "needs TF_CONFIG"),  # it trained alone, without a word
    ("not json", "Expecting value"),
    # Trained alone without a word, as an unset one did; or TypeErrors with tracebacks.
    *[(text, f"received {text}") for text in ("{}", "[]", "5", '{"cluster": 5}', '{"cluster": {"worker": []}}')],
    ('{"cluster": {"worker": ["localhost:12345"]}, "task": {"type": "worker", "index": 3}}', "exceeds"),
])
def test_a_bad_tf_config_gets_one_line(tf_config, message, tmp_path):
    out = tmp_path / "m.keras"
    result = run_cli("train", "--out", out, "--strategy", "multiworker", "--epochs", 1, "--epoch-sequences", 16,
                     env={"TF_CONFIG": tf_config})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "TF_CONFIG" in errors[0] and message in errors[0], errors
    assert not out.exists()


def test_a_model_card_gives_the_files_config_and_the_precision_it_ran_in(tmp_path, capsys):
    # On a CPU without bfloat16 the model runs in float32; the card used to say so in
    # its config, as if the file were another model than the one shipped.
    from core.device import fast_precision
    from core.model import ModelConfig

    path = save_checkpoint(build_model(ModelConfig(num_layers=1, filters=8, precision="mixed_bfloat16")),
                           tmp_path / "bf16.keras")
    card = tmp_path / "card.json"
    assert main(["evaluate", "--checkpoint", str(path), "--count", "2", "--card", str(card), "--json"]) == 0
    capsys.readouterr()
    written = json.loads(card.read_text())
    assert written["config"]["precision"] == "mixed_bfloat16"
    assert written["evaluated_on"].endswith(f"running in {fast_precision()}")


def test_evaluate_writes_a_model_card(tiny_checkpoint, inputs, tmp_path, capsys):
    card = tmp_path / "card.json"
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--count", "4", "--card", str(card), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    written = json.loads(card.read_text())
    assert written["config"]["num_layers"] == 1 and written["parameters"] > 0
    assert written["training"]["sequences_seen"] == 64
    assert written["evaluation"]["model"]["mse"] == pytest.approx(printed["model"]["mse"], abs=1e-3)
    assert written["evaluation"]["model"]["mse_per_frame"] == pytest.approx(printed["model"]["mse_per_frame"], abs=1e-4)
    # The shipped card says what this command writes about the data (it hid that validation uses the test digits).
    shipped = json.loads((ROOT / "checkpoints" / "convlstm.json").read_text())
    assert written["training_data"] == shipped["training_data"] and "held-out digits as the test set" in shipped["training_data"]
    # A rewrite keeps what only a person can write (how it was trained) and renews the numbers.
    card.write_text(json.dumps({**written, "training_commands": ["python -m core train ..."], "parameters": -1}))
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--count", "4", "--card", str(card)]) == 0
    capsys.readouterr()
    rewritten = json.loads(card.read_text())
    assert rewritten["training_commands"] == ["python -m core train ..."]
    assert rewritten["parameters"] == written["parameters"]
    assert rewritten["reproduce"] == f"python -m core evaluate --checkpoint {tiny_checkpoint} --count 4"
    # The same file spelled otherwise is the same checkpoint: "./checkpoints/..." dropped the shipped card's recipe.
    respelled = f"{tiny_checkpoint.parent}/./{tiny_checkpoint.name}"  # pathlib would drop the "."
    assert main(["evaluate", "--checkpoint", respelled, "--count", "4", "--card", str(card)]) == 0
    assert json.loads(card.read_text())["training_commands"] == ["python -m core train ..."]
    assert "note:" not in capsys.readouterr().err
    # So is one the card names from the folder above its own, as the shipped card does from the project's root:
    # run from anywhere else, the recipe was dropped. Not another file of the same name.
    (tmp_path / "cards").mkdir()
    card = card.rename(tmp_path / "cards" / "card.json")
    card.write_text(json.dumps({**json.loads(card.read_text()), "checkpoint": f"{tmp_path.name}/{tiny_checkpoint.name}"}))
    copied = tmp_path / "cards" / "models" / tiny_checkpoint.name
    copied.parent.mkdir()
    copied.write_bytes(tiny_checkpoint.read_bytes())
    assert main(["evaluate", "--checkpoint", str(copied), "--count", "4", "--card", str(card)]) == 0
    assert "training_commands" not in json.loads(card.read_text()) and "note:" in capsys.readouterr().err
    card.write_text(json.dumps({**written, "training_commands": ["python -m core train ..."],
                                "checkpoint": f"{tiny_checkpoint.parent.name}/{tiny_checkpoint.name}"}))
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--count", "4", "--card", str(card)]) == 0
    assert json.loads(card.read_text())["training_commands"] == ["python -m core train ..."]
    # Another checkpoint's card lends nothing, and the command names the data and context it used.
    _, good = inputs
    other = tmp_path / "my runs" / "other.keras"  # a space: the command named two words
    other.parent.mkdir()
    other.write_bytes(tiny_checkpoint.read_bytes())
    argv = ["evaluate", "--checkpoint", other, "--input", good, "--context", 5, "--card", card]
    assert main([str(a) for a in argv]) == 0
    assert f"note: {card} was the card of {tiny_checkpoint}; its training_commands are left out of the new card" in (
        capsys.readouterr().err)
    theirs = json.loads(card.read_text())
    assert "training_commands" not in theirs
    assert shlex.split(theirs["reproduce"]) == ["python", "-m", "core", "evaluate", "--checkpoint", str(other),
                                                "--count", "3", "--input", str(good), "--context", "5"]
    _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--card", tmp_path / "c.txt"], ".json", tmp_path / "c.txt")
    # Any other JSON file there was replaced without a word, before a minute's evaluation; a model card is
    # replaced, as above.
    for content in ("[1, 2", '"a string"', '{"settings": 1}', "\udcfd"):
        other_json = tmp_path / "settings.json"
        other_json.write_text(content, errors="surrogateescape")
        _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--count", 2, "--card", other_json],
                 f"{other_json} is there already and is not a model card, which --card would replace; give another --card")
        assert other_json.read_text(errors="surrogateescape") == content
    # Not read whole, nor waited on: a FIFO there waited for ever.
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--count", 2, "--card", fifo],
             f"{fifo} is there already and is not a model card")
    # An empty file (mktemp's) holds nothing to lose.
    empty = tmp_path / "empty.json"
    empty.touch()
    assert main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--count", "2", "--card", str(empty)]) == 0
    assert json.loads(empty.read_text())["evaluation"]["sequences"] == 2 and "note:" not in capsys.readouterr().err
    # A card written over the frames it scored (an input named .json) lost them.
    frames = tmp_path / "frames.json"
    frames.write_bytes(good.read_bytes())
    _refused(capsys, ["evaluate", "--checkpoint", tiny_checkpoint, "--input", frames, "--card", frames],
             "--card is the --input file, which this command would replace")
    assert frames.read_bytes() == good.read_bytes()


@pytest.mark.parametrize("backend, reason", [
    ("bogus", "Unable to import backend : bogus"),
    pytest.param("torch", "No module named 'torch'", marks=pytest.mark.skipif(
        importlib.util.find_spec("torch") is not None, reason="torch is installed here: Keras can load it"))])
def test_a_backend_keras_cannot_load_gets_one_line(backend, reason, tiny_checkpoint, inputs, tmp_path):
    # Keras itself stops with a traceback when it cannot load the backend named.
    out = tmp_path / "p.npy"
    result = run_cli("forecast", "--checkpoint", tiny_checkpoint, "--input", inputs[1], "--output", out,
                     env={"KERAS_BACKEND": backend})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: Keras cannot load its backend ({reason}); ConvLSTM Studio runs on "
        "KERAS_BACKEND=tensorflow (the default) or jax")
    assert not out.exists()
    # Exporting sequences needs no model, so no backend.
    result = run_cli("data", "export", "--count", 2, "--out", out, env={"KERAS_BACKEND": backend})
    assert result.returncode == 0 and np.load(out).shape == (2, 20, 64, 64), result.stderr[-2000:]


def test_a_backend_keras_loads_but_core_cannot_run_on_gets_one_line(tmp_path):
    # Keras' own numpy backend loads; train then failed deep inside fit with a traceback.
    out = tmp_path / "np.keras"
    result = run_cli("train", "--out", out, "--epochs", 1, "--epoch-sequences", 16, env={"KERAS_BACKEND": "numpy"})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "error: Keras runs on its numpy backend here; ConvLSTM Studio runs on KERAS_BACKEND=tensorflow (the "
        "default) or jax")
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_help_and_usage_errors_come_before_tensorflow_loads(tmp_path):
    # They waited the 6 s of TensorFlow's loading, and would have failed with it: a tensorflow that cannot
    # be imported stands in for it here.
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text("raise ImportError('not loaded before parsing')\n")
    hidden = {"PYTHONPATH": str(tmp_path)}
    result = run_cli("train", "--help", env=hidden)
    assert result.returncode == 0 and "--epochs" in result.stdout, result.stderr[-2000:]
    result = run_cli("evaluate", "--checkpoint", "x.keras", "--count", "many", env=hidden)
    assert result.returncode == 2 and "invalid int value: 'many'" in result.stderr and "not loaded" not in result.stderr


def test_a_train_stopped_before_its_first_step_ends_says_nothing_was_saved(tmp_path, monkeypatch, capsys):
    import core.progress

    class CtrlCAtOnce(core.progress.TrainingProgress):  # Ctrl-C while the first step compiles
        def update(self, **changes):
            super().update(**changes)
            if changes.get("status") == "training":
                os.kill(os.getpid(), signal.SIGINT)  # to the CLI's handler, in the main thread

    monkeypatch.setattr(core.progress, "TrainingProgress", CtrlCAtOnce)
    out = tmp_path / "cancelled.keras"
    argv = ["train", "--epochs", "1", "--epoch-sequences", "8", "--batch-size", "8", "--layers", "1", "--filters", "4",
            "--precision", "float32", "--val-sequences", "4", "--out", str(out)]
    assert main(argv) == 130
    captured = capsys.readouterr()
    # It promised to keep what was learned, then saved nothing.
    assert "cancelling once the first step ends: nothing is learned yet, so nothing will be saved" in captured.err
    assert captured.err.strip().splitlines()[-1] == (
        f"stopped before the first training step ended: nothing was learned, so nothing was written to {out}")
    assert "saved" not in captured.out and not out.exists()


def test_every_flag_an_error_names_is_an_option():
    # Errors of refiner_filters named a --refiner that no command has.
    from core.cli import FLAG_NAMES, parser

    commands = parser()._subparsers._group_actions[0].choices
    options = {option for command in commands.values() for action in command._actions for option in action.option_strings}
    assert set(FLAG_NAMES.values()) <= options, set(FLAG_NAMES.values()) - options


def test_a_checkpoint_path_that_is_not_a_file_says_so(tmp_path, capsys):
    _refused(capsys, ["evaluate", "--checkpoint", "/dev/null", "--count", 2, "--card", tmp_path / "card.json"],
             "error: /dev/null is not a file; give a checkpoint's .keras file", tmp_path / "card.json")


def test_the_clis_defaults_and_ranges_are_cores():
    # The command line writes them out, so that --help loads no TensorFlow: this keeps the copies true.
    from core.cli import parser
    from core.data import MAX_CONTEXT
    from core.forecasting import MAX_HORIZON
    from core.model import MAX_FILTERS, MAX_KERNEL, MAX_LAYERS
    from core.refiner import MAX_REFINER_SEQUENCES, MAX_REFINER_VAL_SEQUENCES, RefinerConfig
    from core.training import (DEFAULT_SAMPLING_SEQUENCES, DEFAULT_VAL_COUNT, FINE_TUNING_LEARNING_RATE,
                               MAX_BATCH_SIZE, TrainConfig)

    commands = parser()._subparsers._group_actions[0].choices

    def option(command, flag):
        return next(action for action in commands[command]._actions if flag in action.option_strings)

    for command, config, fields in (
            ("train", TrainConfig(), {"--epoch-sequences": "epoch_sequences", "--batch-size": "batch_size",
                                      "--lr-decay-start": "lr_decay_start", "--digits": "num_digits",
                                      "--workers": "workers"}),
            ("refine", RefinerConfig(), {"--sequences": "sequences", "--epochs": "epochs", "--batch-size": "batch_size",
                                         "--lr": "learning_rate", "--val-sequences": "val_count"})):
        for flag, field in fields.items():
            assert option(command, flag).default == getattr(config, field), (command, flag)
    for command, flag, said in (
            ("train", "--layers", f"1-{MAX_LAYERS} "), ("train", "--filters", f"1-{MAX_FILTERS} "),
            ("train", "--kernel-size", f"1-{MAX_KERNEL} "), ("train", "--batch-size", f"1-{MAX_BATCH_SIZE} "),
            ("train", "--val-sequences", f"default {DEFAULT_VAL_COUNT['convlstm']}; {DEFAULT_VAL_COUNT['keras-io']} "),
            ("train", "--sampling-sequences", f"default {DEFAULT_SAMPLING_SEQUENCES}, "),
            ("train", "--lr", f"default 1e-3; {FINE_TUNING_LEARNING_RATE:.0e} with --init-from".replace("e-0", "e-")),
            ("refine", "--filters", f"1-{MAX_FILTERS} "), ("refine", "--sequences", f"1-{MAX_REFINER_SEQUENCES} "),
            ("refine", "--val-sequences", f"1-{MAX_REFINER_VAL_SEQUENCES} "),
            ("forecast", "--horizon", f"1-{MAX_HORIZON} "), ("forecast", "--context", f"2-{MAX_CONTEXT} ")):
        assert said in option(command, flag).help, (command, flag, option(command, flag).help)
