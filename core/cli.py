"""The command line: `python -m core {data export, train, refine, forecast, evaluate, export}`.

Every bad input ends with a one-line `error: ...` on stderr and exit status 2,
and no output file is left behind (outputs are written to a temporary file
and renamed into place). Ctrl-C stops `train` after its batch, saved (before
its first step ends: nothing saved, exit status 130); any other command at
once, with exit status 130.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import re
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from core.errors import InputError, import_keras
from core.files import check_output, partial_path, write_atomically
from core.progress import stage_bars, text_bar, training_bar

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C
EXIT_BROKEN_PIPE = 141  # the shell's code for a command whose output's reader left (SIGPIPE)
STOPPED = "\nstopped by Ctrl-C before the end"
# The commands that load a model, and so Keras with its backend; `data` needs neither.
KERAS_COMMANDS = ("train", "refine", "forecast", "evaluate", "export")
# `--official` alone: not a string, which a file named "cache" was taken for.
IN_KERAS_CACHE = object()
# The official test set's size; more would take gigabytes of memory.
MAX_SEQUENCES = 10_000
# Predicted frames that forecast or evaluate holds in memory: 3.3 GB of float32
# (evaluate holds the truth as floats too).
MAX_FORECAST_FRAMES = 200_000


class Cancelled(Exception):
    """A command stopped before it had anything to save; its message says what was kept."""


def _check_count(count: int, option: str = "--count") -> None:
    if not 1 <= count <= MAX_SEQUENCES:
        raise InputError(f"{option} must be from 1 to {MAX_SEQUENCES:,}; received {count}")


def _sequences_file(path, first: int, official: str):
    """`core.data.load_npy(path, first=first)`, whose word on the official file (time first) ends with
    `official`, what this command takes instead: it named an --official that forecast has not."""
    from core.data import TIME_FIRST, load_npy

    try:
        return load_npy(path, first=first)
    except InputError as error:
        if TIME_FIRST not in str(error):
            raise
        raise InputError(f"{error}; {official}") from None


def _check_context(context: int) -> None:
    from core.data import MAX_CONTEXT

    # Core refuses these too, in words of its own arguments: here they name the flag.
    if context < 2:
        raise InputError(f"--context must be at least 2 frames; received {context}")
    if context > MAX_CONTEXT:  # forecast's message told a command-line user to swap an array's axes
        raise InputError(f"--context must be at most {MAX_CONTEXT} frames; received {context}")


def _check_apart(outputs: dict, inputs: dict) -> None:
    """Refuses an output ({flag: path or None}) that is a file the command reads
    or another output, by any path to it (a symlink too): a forecast's --gif
    written over its --input, or its --output over the checkpoint, lost that
    file for good."""
    taken = {Path(path).resolve(): flag for flag, path in inputs.items() if path}
    for flag, path in outputs.items():
        if not path:
            continue
        if (target := Path(path).resolve()) in taken:
            raise InputError(f"{flag} is the {taken[target]} file, which this command would replace; give another path")
        taken[target] = flag


def _check_predicted_frames(sequences: int, frames: int, advice: str, at_least: bool = False) -> None:
    # 10,000 sequences x 100 frames took 16 GB, then the OOM killer. `at_least`: an input read only in part.
    if sequences * frames > MAX_FORECAST_FRAMES:
        raise InputError(f"{'at least ' * at_least}{sequences:,} sequences x {frames} predicted frames is more than "
                         f"{MAX_FORECAST_FRAMES:,} frames to hold at once; {advice}")


def _npy_writer(array):
    import numpy as np

    def write(path) -> None:
        with open(path, "wb") as handle:  # a path would get ".npy" added where it lacks one
            np.save(handle, array, allow_pickle=False)

    return write


def _redraws() -> float:
    # A log file gets a line every 30 s instead of a redraw every 0.1 s.
    return 0.1 if sys.stderr.isatty() else 30


def _bar(total: int, unit: str, desc: str):
    return text_bar(total, desc, unit, mininterval=_redraws())


def _training_bar():
    return training_bar(mininterval=_redraws())


def _progress(bar):
    def update(done: int, total: int) -> None:
        _raise_if_interrupted()
        bar.update(done - bar.n)

    return update


# A Ctrl-C is noted as well as raised: with JAX installed (TensorFlow imports it), one whose
# KeyboardInterrupt landed in JAX's garbage-collection callback was printed as "Exception
# ignored" and lost, and refine went on to its last epoch. Each progress report raises it again.
_INTERRUPTED = threading.Event()


def _noted_interrupt(signum, frame) -> None:
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def _raise_if_interrupted() -> None:
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


def cmd_data_export(args) -> None:
    from core.data import moving_mnist

    _check_count(args.count)
    if args.seed is not None and args.seed < 0:
        raise InputError(f"--seed must not be negative; received {args.seed}")
    check_output(args.out, ".npy", "--out")
    with _bar(args.count, "seq", "generating") as bar:
        frames = moving_mnist(args.split, args.count, args.seed, args.digits, progress=_progress(bar))
    write_atomically({args.out: _npy_writer(frames)})
    print(f"wrote {args.out}: {frames.shape} {frames.dtype}")


# TrainConfig and ModelConfig name their fields, the words of a notebook; a CLI
# user typed flags, so their messages are put in those words.
FLAG_NAMES = {"num_layers": "--layers", "kernel_size": "--kernel-size", "batch_size": "--batch-size",
              "learning_rate": "--lr", "epoch_sequences": "--epoch-sequences", "lr_decay_sequences": "--lr-decay-sequences",
              "lr_decay_start": "--lr-decay-start", "num_digits": "--digits", "sampling_sequences": "--sampling-sequences",
              "init_from": "--init-from", "val_count": "--val-sequences", "output_floor": "--output-floor",
              "out": "--out", "layer_norm": "--layer-norm", "ssim_weight": "--ssim-weight",
              "precision": "--precision"}


def as_flags(message: str) -> str:
    """A config's error message in the words of the flags that set each field."""
    message = re.sub(r"\b(" + "|".join(FLAG_NAMES) + r")\b", lambda m: FLAG_NAMES[m.group(1)], message)
    return re.sub(r"^(minutes|epochs|workers|seed|filters|resume|sequences) ", r"--\1 ", message)


def cmd_train(args) -> None:
    import core.progress  # by attribute, so that a test's stand-in for TrainingProgress is the one run
    from core.training import DEFAULT_SAMPLING_SEQUENCES, TrainConfig, train

    check_output(args.out, ".keras", "--out")
    if args.val_sequences is not None:
        _check_count(args.val_sequences, "--val-sequences")
    overrides = {
        name: value
        for name, value in (("num_layers", args.layers), ("filters", args.filters), ("kernel_size", args.kernel_size))
        if value is not None
    }
    if args.precision:
        overrides["precision"] = args.precision
    if args.layer_norm:
        overrides["layer_norm"] = True
    try:
        config = TrainConfig(
            out=args.out,
            preset=args.preset or "convlstm",
            model_overrides=overrides,
            minutes=args.minutes,
            epochs=args.epochs,
            epoch_sequences=args.epoch_sequences,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            lr_decay_sequences=args.lr_decay_sequences,
            lr_decay_start=args.lr_decay_start,
            num_digits=args.digits,
            workers=args.workers,
            sampling_sequences=(DEFAULT_SAMPLING_SEQUENCES if args.sampling_sequences is None
                                else args.sampling_sequences),
            resume=args.resume,
            init_from=args.init_from,
            val_count=args.val_sequences,
            strategy=args.strategy,
            seed=args.seed,
        )
    except InputError as error:
        raise InputError(as_flags(str(error))) from None
    if args.init_from and not args.preset:  # as its sizes: "preset 'convlstm' asks for another" was unasked
        from core.checkpoints import read_checkpoint_info

        # Outside as_flags: it turned the path out/precision.keras into --out/--precision.keras.
        source_preset = read_checkpoint_info(args.init_from)[0].preset
        try:
            config = dataclasses.replace(config, preset=source_preset)
        except InputError as error:
            raise InputError(as_flags(str(error))) from None
    if args.resume and args.preset and Path(args.out).is_file():  # was ignored without a word
        from core.checkpoints import read_checkpoint_info

        found = read_checkpoint_info(args.out)[0].preset
        if found != args.preset:
            raise InputError(f"--resume continues {args.out}, a {found} model; --preset {args.preset} asks for another")
    if not args.resume and Path(args.out).exists():  # hours of training replaced by a new model's minutes
        raise InputError(f"{args.out} already exists; add --resume to continue it, or give another --out")
    if args.resume and not Path(args.out).exists():  # a mistyped path would start over without a word
        print(f"note: {args.out} does not exist yet, so --resume starts a new run there", file=sys.stderr)
    progress = core.progress.TrainingProgress()
    outcome = {}
    made = [folder for folder in Path(args.out).absolute().parents if not folder.exists()]  # deepest first

    def work():
        try:
            outcome["model"] = train(config, progress)[0]
        except BaseException as error:  # re-raised in the main thread
            outcome["error"] = error

    def stop(signum, frame):
        if signum == signal.SIGINT:
            print("\ncancelling once the first step ends: nothing is learned yet, so nothing will be saved"
                  if not progress.snapshot()["loss"] else  # it promised to keep what was learned, then saved nothing
                  "\nstopping after this batch; the checkpoint keeps what was learned", file=sys.stderr)
            print("(Ctrl-C again quits at once, without saving)", file=sys.stderr)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        progress.request_stop()

    # Ctrl-C and SIGTERM (nohup, a service) both finish the batch and save. Ctrl-C
    # is a handler, not `except KeyboardInterrupt`: on CPython 3.11 the exception,
    # raised inside `worker.join`, marks the worker finished, so the save was lost.
    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGINT)}
    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    bar = None
    try:
        # The bar appears once the model is ready, so a bad checkpoint gets a clean one-line error.
        while worker.is_alive() and progress.snapshot()["status"] == "starting":
            worker.join(0.2)
        bar = _training_bar() if worker.is_alive() else None
        shown = None
        while worker.is_alive():
            worker.join(0.5)
            state = progress.snapshot()
            # The bar stands still while validating: redraw it when the count moves (the keras.io
            # model's 64 forecasts take minutes on a CPU), not every half second into a log.
            core.progress.draw_training(bar, state, now=state["validation"] != shown)
            shown = state["validation"]
    except KeyboardInterrupt:  # the second Ctrl-C: the worker may be saving, and dies with this process
        # Its half-written file stayed hidden beside --out in 1 of 4 tries. Should the worker
        # still get to its record, it finds the file gone and fails without touching --out.
        partial_path(Path(args.out)).unlink(missing_ok=True)
        for folder in made:  # as a failed save takes them away
            with contextlib.suppress(OSError):  # not made yet, or no longer empty
                folder.rmdir()
        raise
    finally:  # a notebook or a test that calls main() gets its own handlers back
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        if bar is not None:
            bar.close()
    if "error" in outcome:
        raise outcome["error"]
    state = progress.snapshot()
    if state["status"] == "cancelled":
        kept = f"{args.out} is as it was" if Path(args.out).exists() else f"nothing was written to {args.out}"
        raise Cancelled(f"stopped before the first training step ended: nothing was learned, so {kept}")
    result = {
        "out": args.out,
        "device": state["device"],
        "sequences_seen": state["sequences_seen"],
        "sequences_per_second": state["sequences_per_second"],
        "val_mse": state["val_mse"][-1][1] if state["val_mse"] else None,
        "val_mse_start": state["val_mse_start"],  # --init-from's model, scored before training
        "seconds": round(state["elapsed"], 1),
        "status": state["status"],
        "time_up": state["time_up"],  # --minutes ended it before --epochs did
    }
    if args.json:
        print(json.dumps(result))
    else:
        score = "not measured" if result["val_mse"] is None else f"{result['val_mse']:.1f}"
        if result["val_mse_start"] is not None:  # as refine says it: whether the run helped
            score = f"{result['val_mse_start']:.1f} -> {score}"
        ended = ", when --minutes ran out before --epochs" if result["time_up"] else ""
        print(f"saved {args.out}: {result['sequences_seen']} sequences seen{ended}, validation MSE {score}")


def cmd_refine(args) -> None:
    from core.checkpoints import load_checkpoint, read_checkpoint_info, save_checkpoint
    from core.model import with_precision
    from core.refiner import RefinerConfig, train_refiner

    check_output(args.out, ".keras", "--out")
    _check_apart({"--out": args.out}, {"--checkpoint": args.checkpoint})
    if Path(args.out).exists():  # a round of an hour, replaced by a mistyped round's file
        raise InputError(f"{args.out} already exists; give another --out (a refined model is a new file)")
    # Saved in the precision the file was trained in, not this CPU's; read before
    # the minutes of work, which a file changed meanwhile would otherwise lose.
    file_config, _ = read_checkpoint_info(args.checkpoint)
    trained_in, had = file_config.precision, file_config.refiner_filters
    if file_config.preset != "convlstm":
        raise InputError(f"{args.checkpoint} is a keras-io model; only a convlstm model takes a refiner")
    if args.resume and not had:
        raise InputError(f"{args.checkpoint} has no refiner to resume; drop --resume to train a new one")
    if args.resume and args.filters not in (None, had):
        raise InputError(f"--filters {args.filters} does not match the {had} filters of {args.checkpoint}'s refiner; "
                         "leave --filters out with --resume")
    try:
        config = RefinerConfig(filters=args.filters, sequences=args.sequences, epochs=args.epochs,
                               batch_size=args.batch_size, learning_rate=args.lr, val_count=args.val_sequences,
                               seed=args.seed, ssim_weight=args.ssim_weight, resume=args.resume)
    except InputError as error:
        raise InputError(as_flags(str(error))) from None
    if had and not args.resume:  # its validation MSE "before" is the forecaster's alone, and read as a gain
        print(f"note: {args.checkpoint}'s refiner ({had} filters) is replaced by a new one, and 'before' is the "
              "forecaster without a refiner; --resume trains the refiner it has further", file=sys.stderr)
    model = load_checkpoint(args.checkpoint, compile=False, precision="auto")
    shown, close = stage_bars(mininterval=_redraws())

    def log(stage: str, done: int, total: int, val: float | None) -> None:
        _raise_if_interrupted()
        shown(stage, done, total, val)

    try:
        refined = train_refiner(model, config, log)  # Ctrl-C: main() says so, and --out is not written
    finally:  # an epoch's open bar would otherwise print after main()'s message
        close()
    save_checkpoint(with_precision(refined, trained_in), args.out)
    record = refined.studio_info["refiner"]
    result = {"out": args.out, "val_mse_before": record["val_mse_before"], "val_mse": record["val_mse_per_epoch"][-1],
              "seconds": record["train_seconds"]}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"saved {args.out}: validation MSE {result['val_mse_before']:.2f} -> {result['val_mse']:.2f} "
              f"in {result['seconds']:.0f} s")


def cmd_forecast(args) -> None:
    from core.checkpoints import load_checkpoint
    from core.data import MAX_CONTEXT
    from core.forecasting import MAX_HORIZON, forecast

    if not 1 <= args.horizon <= MAX_HORIZON:
        raise InputError(f"--horizon must be from 1 to {MAX_HORIZON}; received {args.horizon}")
    check_output(args.output, ".npy", "--output")
    _check_apart({"--output": args.output, "--gif": args.gif}, {"--input": args.input, "--checkpoint": args.checkpoint})
    if args.gif:
        check_output(args.gif, ".gif", "--gif")
    _check_context(args.context)
    # A file past the limit is refused without checking all of it: one sequence past the limit is enough.
    frames = _sequences_file(args.input, MAX_FORECAST_FRAMES // args.horizon + 1,
                             "to forecast it here, save it sequence first: numpy.save('sequences.npy', "
                             f"numpy.load({str(args.input)!r}).swapaxes(0, 1))")
    _check_predicted_frames(len(frames), args.horizon, "forecast fewer sequences (split the input) or frames",
                            at_least=len(frames) > MAX_FORECAST_FRAMES // args.horizon)
    if frames.shape[1] > MAX_CONTEXT:  # core.forecast refuses these; cut to --context here, they passed in silence
        print(f"note: {args.input} holds {len(frames):,} sequences of {frames.shape[1]:,} frames, of which the first "
              f"{args.context} are read; if time is its first axis, as in mnist_test_seq.npy, swap its first two",
              file=sys.stderr)
    # A shorter input is all context; the model pads it (see core.data.pad_context).
    args.context = min(args.context, frames.shape[1])
    model = load_checkpoint(args.checkpoint, compile=False, precision="auto")
    context = frames[:, : args.context]
    truth = frames[:, args.context : args.context + args.horizon] if frames.shape[1] > args.context else None
    with _bar(len(frames), "seq", "forecasting") as bar:
        predicted = forecast(model, context, args.horizon, progress=_progress(bar))
    gif = None
    if args.gif:
        from core.media import comparison_gif

        gif = comparison_gif(context[0], truth[0] if truth is not None else None, predicted[0])
    writes = {args.output: _npy_writer(predicted)}
    if gif is not None:
        writes[args.gif] = lambda tmp: Path(tmp).write_bytes(gif)
    write_atomically(writes)  # both written before either replaces its old file
    print(f"wrote {args.output}: {predicted.shape} float32" + (f" and {args.gif}" if args.gif else ""))


def cmd_evaluate(args) -> None:
    from core import model_card
    from core.checkpoints import load_checkpoint
    from core.data import CONTEXT_FRAMES, load_official, moving_mnist
    from core.evaluation import evaluate
    from core.forecasting import MAX_HORIZON

    _check_count(args.count)
    _check_context(args.context)
    if args.card:
        check_output(args.card, ".json", "--card")
        official = args.official if args.official is not IN_KERAS_CACHE else None
        _check_apart({"--card": args.card}, {"--input": args.input, "--official": official, "--checkpoint": args.checkpoint})
        earlier = model_card.earlier_card(args.card)
    if args.official and args.input:
        raise InputError("give --input or --official, not both")
    if args.official:
        frames = load_official(None if args.official is IN_KERAS_CACHE else args.official)[: args.count]
    else:
        frames = (_sequences_file(args.input, args.count, "here, give it with --official") if args.input
                  else moving_mnist("test", args.count))
    if frames.shape[1] <= args.context:
        raise InputError(f"evaluation needs frames after the {args.context} context frames; the input has {frames.shape[1]}")
    if frames.shape[1] - args.context > MAX_HORIZON:  # found by forecast after the model loaded, as "horizon"
        raise InputError(f"evaluation scores at most {MAX_HORIZON} frames after the context; the input has "
                         f"{frames.shape[1]} frames and --context is {args.context} (if time is its first axis, as "
                         "in mnist_test_seq.npy, give it with --official)")
    scored = frames.shape[1] - args.context
    _check_predicted_frames(len(frames), scored, "lower --count, or raise --context")
    model = load_checkpoint(args.checkpoint, compile=False, precision="auto")
    start = time.perf_counter()
    with _bar(len(frames), "seq", "evaluating") as bar:
        results = evaluate(model, frames, args.context, progress=_progress(bar))
    seconds = time.perf_counter() - start
    # The curve behind each MSE: the model card quotes the model's, frame by frame.
    table = {name: {**scores.summary(), "mse_per_frame": [float(v) for v in scores.per_frame["mse"]]}
             for name, scores in results.items()}
    if args.card:
        data_words = args.input or ("official mnist_test_seq.npy" if args.official
                                    else "bundled Moving MNIST test set (test digits only)")
        reproduce = shlex.join(  # a path with a space was two words
            ["python", "-m", "core", "evaluate", "--checkpoint", args.checkpoint, "--count", str(len(frames))]
            + (["--input", args.input] if args.input else [])
            + (["--official"] + ([] if args.official is IN_KERAS_CACHE else [args.official]) if args.official else [])
            + (["--context", str(args.context)] if args.context != CONTEXT_FRAMES else []))
        model_card.write_card(args.card, args.checkpoint, model, table, {"data": data_words, "sequences": len(frames),
                              "context_frames": args.context}, reproduce, earlier)
    if args.json:
        print(json.dumps({"sequences": len(frames), "context": args.context, "seconds": round(seconds, 2), **table}))
        return
    print(f"{len(frames)} sequence{'s' * (len(frames) != 1)}, {args.context} context -> "
          f"{scored} predicted frame{'s' * (scored != 1)}")
    print(f"{'':20} {'MSE':>8} {'MAE':>8} {'SSIM':>7} {'PSNR':>7}")
    for name, scores in results.items():
        print(f"{name:20} {scores.mse:8.1f} {scores.mae:8.1f} {scores.ssim:7.3f} {scores.psnr:7.2f}")
    print("the model's MSE per predicted frame: " + ", ".join(f"{v:.1f}" for v in results["model"].per_frame["mse"]))


def cmd_export(args) -> None:
    from core.checkpoints import holds_optimizer, load_checkpoint, save_checkpoint
    from core.model import with_output_floor

    check_output(args.out, ".keras", "--out")
    _check_apart({"--out": args.out}, {"--checkpoint": args.checkpoint})  # a training state lost its optimizer
    if holds_optimizer(args.out):  # another run's state: hours of a resumable run replaced without a word
        raise InputError(f"{args.out} is a training state, saved with its optimizer to resume from, which export "
                         "would replace with a model without one; give another --out")
    model = load_checkpoint(args.checkpoint, compile=False)
    if args.output_floor is not None:
        try:
            model = with_output_floor(model, args.output_floor)
        except InputError as error:
            raise InputError(as_flags(str(error))) from None
    save_checkpoint(model, args.out)
    print(f"wrote {args.out} without optimizer state ({Path(args.out).stat().st_size / 1e6:.2f} MB)")


def _path(text: str) -> str:
    """The type of every path option. An empty path, as from an unset shell
    variable (`--init-from "$CKPT"`), was taken for no option at all: a run
    from scratch, or the bundled test set scored instead of the file meant."""
    if not text.strip():
        raise argparse.ArgumentTypeError("needs a path; received an empty one")
    # The shell leaves `--out=~/x.npy` alone: a folder named "~" was made here, and the message hid it.
    return os.path.expanduser(text)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like the commands' own."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:  # told by the command that got them, whose --help lists what it takes, not by the root's
            getattr(parsed, "parser", self).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


def parser() -> argparse.ArgumentParser:
    root = _Parser(prog="python -m core", description="ConvLSTM Studio: Moving MNIST forecasting.")
    commands = root.add_subparsers(dest="command", required=True)

    # Named: "argument action: invalid choice" was said to `data --count 5`, without the export it needs.
    data = commands.add_parser("data", help="dataset tools").add_subparsers(dest="action", required=True, metavar="export")
    export = data.add_parser("export", help="write generated Moving MNIST sequences to a .npy file")
    export.add_argument("--split", choices=["train", "val", "test"], default="test",
                        help="whose digits: train, val or test (default %(default)s)")
    export.add_argument("--count", type=int, default=100, help="sequences (default %(default)s)")
    export.add_argument("--seed", type=int, default=None,
                        help="default: the split's standard set; a seed gives the same motions in every split, "
                             "so 1 and 2 give the validation and test sets' motions")
    export.add_argument("--digits", type=int, default=2, choices=[1, 2, 3], help="digits per sequence (default %(default)s)")
    export.add_argument("--out", required=True, type=_path, help="the .npy to write")
    export.set_defaults(run=cmd_data_export, parser=export)

    train = commands.add_parser("train", help="train or resume a model")
    train.add_argument("--out", required=True, type=_path, help="checkpoint path (.keras); an existing file needs --resume")
    train.add_argument("--minutes", type=float, default=None, help="time budget in minutes, from the end of the first batch, which compiles (default 1 without --epochs)")
    train.add_argument("--epochs", type=int, default=None, help="epoch budget; with --minutes too, training stops at whichever comes first")
    train.add_argument("--epoch-sequences", type=int, default=1024,
                       help="sequences per epoch, rounded up to whole batches; scored on validation after each "
                            "(default %(default)s)")
    train.add_argument("--val-sequences", type=int, default=None,
                       help="validation sequences scored after each epoch (default 64; 8 for the slow keras-io model)")
    train.add_argument("--preset", default=None, choices=["convlstm", "keras-io"],
                       help="model for a new run (default convlstm); a resumed or fine-tuned run keeps its file's")
    train.add_argument("--layers", type=int, default=None, help="stacked ConvLSTM cells, 1-8 (default: the preset's)")
    train.add_argument("--filters", type=int, default=None, help="channels per cell, 1-512 (default: the preset's)")
    train.add_argument("--kernel-size", type=int, default=None, help="convolution kernel, 1-15 (default: the preset's)")
    train.add_argument("--layer-norm", action="store_true",
                       help="normalise each gate of a new convlstm model's cells (docs/training.md)")
    train.add_argument("--precision", choices=["float32", "mixed_bfloat16"], default=None,
                       help="arithmetic of a new convlstm model (default: mixed_bfloat16 where the CPU or GPU "
                            "has bfloat16, else float32); a resumed run keeps its file's")
    train.add_argument("--batch-size", type=int, default=16, help="sequences per step, 1-1024 (default %(default)s)")
    train.add_argument("--lr", type=float, default=None,
                       help="step size (default 1e-3; 1e-4 with --init-from, where 1e-3 undoes what was learned; "
                            "with --resume, the rate and decay the file was trained at)")
    train.add_argument("--lr-decay-sequences", type=int, default=None,
                       help="cosine decay of --lr to 1%% over this many sequences seen (a resume without --lr or "
                            "this continues the file's)")
    train.add_argument("--lr-decay-start", type=int, default=0,
                       help="sequences seen before the decay begins (a decay branched off a long run)")
    train.add_argument("--digits", type=int, default=2, choices=[1, 2, 3], help="digits per sequence (default %(default)s)")
    train.add_argument("--workers", type=int, default=1, help="threads drawing batches (several for a GPU)")
    train.add_argument("--sampling-sequences", type=int, default=None,
                       help="teacher forcing fades over this many sequences (default 10000, which reads as unset: "
                            "0 with --init-from, the file's with --resume)")
    train.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    train.add_argument("--init-from", default=None, type=_path, help="start from another checkpoint's weights and sizes")
    train.add_argument("--strategy", choices=["mirrored", "multiworker"], default=None,
                       help="mirrored: all local GPUs; multiworker: the machines in TF_CONFIG")
    train.add_argument("--seed", type=int, default=None,
                       help="fixes the batches drawn (default: random); the starting weights are random either way")
    train.add_argument("--json", action="store_true", help="end with one JSON line of results")
    train.set_defaults(run=cmd_train, parser=train)

    refine = commands.add_parser("refine", help="train a refiner for a trained convlstm model, which stays frozen")
    refine.add_argument("--checkpoint", required=True, type=_path, help="the trained model (.keras)")
    refine.add_argument("--out", required=True, type=_path,
                        help="the refined model (.keras): a new file, never an existing one")
    refine.add_argument("--filters", type=int, default=None,
                        help="the refiner's width, 1-512 (default 64, or the checkpoint's with --resume)")
    refine.add_argument("--sequences", type=int, default=4000,
                        help="training sequences, forecast once, 1-20000 (default %(default)s)")
    refine.add_argument("--epochs", type=int, default=6, help="passes over them (default %(default)s)")
    refine.add_argument("--batch-size", type=int, default=64,
                        help="frames per step, drawn from all the sequences (default %(default)s)")
    refine.add_argument("--lr", type=float, default=1e-3, help="first step size of a cosine to 0 (default %(default)s)")
    refine.add_argument("--val-sequences", type=int, default=1000,
                        help="validation sequences scored after each epoch, 1-5000 (default %(default)s)")
    refine.add_argument("--seed", type=int, default=None,
                        help="draws the training sequences and fixes the refiner's first weights and the order "
                             "of the batches (default: the split's standard sequences, in a random order)")
    refine.add_argument("--ssim-weight", type=float, default=None,
                        help="weight of each frame's 1 - SSIM in the loss, next to its summed squared error; "
                             "0 for squared error alone (default 0, or the earlier round's with --resume)")
    refine.add_argument("--resume", action="store_true",
                        help="train the checkpoint's refiner further instead of a new one, on the sequences of "
                             "a --seed no earlier round used, best with a lower --lr (e.g. 3e-4); --sequences caps "
                             "what fits in memory, so more are seen in rounds, one file to the next")
    refine.add_argument("--json", action="store_true", help="end with one JSON line of results")
    refine.set_defaults(run=cmd_refine, parser=refine)

    fc = commands.add_parser("forecast", help="forecast sequences from a .npy file")
    fc.add_argument("--checkpoint", required=True, type=_path, help="a .keras checkpoint, e.g. checkpoints/convlstm.keras")
    fc.add_argument("--input", required=True, type=_path, help=f"(N, T, 64, 64) .npy, uint8 or float 0-1; N x --horizon at most {MAX_FORECAST_FRAMES:,} frames")
    fc.add_argument("--output", required=True, type=_path, help="(N, H, 64, 64) float32 .npy")
    fc.add_argument("--horizon", type=int, default=10, help="frames to predict, 1-100 (default %(default)s)")
    fc.add_argument("--context", type=int, default=10,
                    help="frames of each sequence the model reads first, 2-100 (default %(default)s)")
    fc.add_argument("--gif", default=None, type=_path, help="also write the first sequence as a GIF")
    fc.set_defaults(run=cmd_forecast, parser=fc)

    ev = commands.add_parser("evaluate", help="metrics against the baselines")
    ev.add_argument("--checkpoint", required=True, type=_path, help="a .keras checkpoint, e.g. checkpoints/convlstm.keras")
    ev.add_argument("--input", default=None, type=_path, help="(N, T, 64, 64) .npy; default: the bundled test set")
    ev.add_argument("--official", nargs="?", const=IN_KERAS_CACHE, default=None, type=_path, metavar="PATH",
                    help="the official mnist_test_seq.npy (time first), from PATH or Keras' cache")
    ev.add_argument("--count", type=int, default=1000,
                    help="sequences scored, 1-10000: the first of the bundled test set, --input or --official; "
                         f"N x predicted frames at most {MAX_FORECAST_FRAMES:,} (default %(default)s)")
    ev.add_argument("--context", type=int, default=10,
                    help="frames the model reads, 2-100; the rest of each sequence is scored (default %(default)s)")
    ev.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    ev.add_argument("--card", default=None, type=_path, help="also write a model card (.json) with these results")
    ev.set_defaults(run=cmd_evaluate, parser=ev)
    ship = commands.add_parser("export", help="copy a checkpoint for inference (no optimizer state)")
    ship.add_argument("--checkpoint", required=True, type=_path, help="a trained .keras checkpoint")
    ship.add_argument("--out", required=True, type=_path, help="the copy to write (.keras), another path")
    ship.add_argument("--output-floor", type=float, default=None,
                      help="forecast pixels below this are drawn black, from 0 to below 1 (default: the checkpoint's; "
                           "0 for a model trained from scratch); benchmarks/output_floor.py measures the trade")
    ship.set_defaults(run=cmd_export, parser=ship)
    return root


def main(argv=None) -> int:
    """Runs `python -m core` with `argv` (default: the command line's).

    Returns:
        The exit status: 0 done; EXIT_BAD_INPUT (2) a bad input or a failed
        file, told in one line on stderr; EXIT_INTERRUPTED after Ctrl-C;
        EXIT_BROKEN_PIPE when stdout's reader left. An unknown command or
        option, and --help, end in argparse's SystemExit instead (status 2, 0).
    """
    args = parser().parse_args(argv)
    _INTERRUPTED.clear()
    # Not for train, which sets its own; and only where Python lets a handler be set (not in a thread).
    noting = args.command in set(KERAS_COMMANDS) - {"train"} and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _noted_interrupt) if noting else None
    try:
        if args.command in KERAS_COMMANDS:
            import_keras()
        args.run(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # outputs are whole or absent
        print(STOPPED, file=sys.stderr)
        return EXIT_INTERRUPTED
    except Cancelled as error:
        print(f"\n{error}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout left (| head) after the outputs were written: this read
        # "error: a file: Broken pipe". Silent, as other tools are; Python's own flush
        # of stdout at exit would fail again, so it flushes into /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as error:  # a disk that fills up or a folder that vanishes mid-run
        print(f"error: {error.filename or 'a file'}: {error.strerror or error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:  # a notebook or a test that calls main() gets its own handler back
        if noting:
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)  # None: set outside Python
    return 0
