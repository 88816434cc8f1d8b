"""The model card: a JSON file beside a checkpoint that says what it is, what
it saw and how it scores (`python -m core evaluate --card PATH` writes it;
`checkpoints/convlstm.json` is the shipped model's, docs/model-card.md its prose).

Fields an evaluation cannot know (the commands that trained the model, notes)
are kept from the card already at that path, when it is the same checkpoint's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.files import write_atomically

MAX_CARD_BYTES = 1_000_000  # a model card is a few KB: a larger file at --card is something else
# The validation sequences share the test set's digits: a reader choosing by them should know.
TRAINING_DATA = ("sequences drawn fresh for every batch from the bundled MNIST digits' training split (400 per "
                 "class); no test digit is ever seen. The validation sequences, scored during training, are drawn "
                 "from the same 1,000 held-out digits as the test set, with another seed: other sequences, the same "
                 "digits")
METRICS = "OpenSTL definitions: MSE/MAE summed over the 64x64 pixels per frame, SSIM, PSNR"


def earlier_card(card: str) -> dict:
    """The model card at the --card path `card`, which `write_card` replaces.

    Returns:
        Its fields; {} where there is no file, or an empty one.

    Raises:
        InputError: any other file there (a JSON file of another kind was
            replaced without a word), or one that cannot be read.
    """
    path = Path(card)
    if not path.exists() or path.is_file() and path.stat().st_size == 0:  # nothing to lose
        return {}
    refused = f"{card} is there already and is not a model card, which --card would replace; give another --card"
    # Not read whole: a FIFO waited for ever, and a large file would be held in memory.
    if not path.is_file() or path.stat().st_size > MAX_CARD_BYTES:
        raise InputError(refused)
    try:
        earlier = json.loads(path.read_text())
    except OSError as error:  # unreadable, yet its folder lets it be replaced
        raise InputError(f"cannot read {card}, which --card would replace: {error.strerror or error}") from None
    except ValueError:  # not JSON, or not UTF-8
        raise InputError(refused) from None
    if not (isinstance(earlier, dict) and isinstance(earlier.get("checkpoint"), str)):
        raise InputError(refused)
    return earlier


def same_checkpoint(named: str, checkpoint: str, card: str) -> bool:
    """Whether a card's checkpoint, as typed where the card was written, is `checkpoint`: the same
    file however spelled ("./checkpoints/convlstm.keras" dropped the shipped card's recipe), found
    from here or from the card's folder or the two above it (the shipped card's path is from the
    project's root, and a run from another folder dropped its recipe too)."""
    folder = Path(card).resolve().parent
    for base in (Path.cwd(), folder, *folder.parents[:2]):
        with contextlib.suppress(OSError, ValueError):  # not there, or a hand edit's NUL byte
            if os.path.samefile(base / named, checkpoint):
                return True
    return False


def write_card(card: str, checkpoint: str, model, table: dict, evaluation: dict, reproduce: str,
               earlier: dict) -> None:
    """Writes the model card of `checkpoint` to `card`, whole or not at all.

    Args:
        card: the .json to write.
        checkpoint: the evaluated checkpoint's path, as typed.
        model: the model loaded from it.
        table: {"model" or a baseline's name: {metric: value, "mse_per_frame": [...]}}.
        evaluation: what was scored: {"data": words, "sequences": N, "context_frames": C}.
        reproduce: the command that scores it again.
        earlier: `earlier_card(card)`; a card of the same checkpoint lends its
            fields that the evaluation cannot know.
    """
    from core.checkpoints import read_checkpoint_info
    from core.device import cpu_name

    written = {
        "checkpoint": checkpoint,
        # The file's config: the model ran in this CPU's precision, named in evaluated_on.
        "config": dataclasses.asdict(read_checkpoint_info(checkpoint)[0]),
        "parameters": model.count_params(),
        "size_mb": round(Path(checkpoint).stat().st_size / 1e6, 2),
        "training": model.studio_info,
        "training_data": TRAINING_DATA,
        "evaluation": {
            **evaluation,
            "metrics": METRICS,
            **{name: {k: np.round(v, 4).tolist() for k, v in scores.items()} for name, scores in table.items()},
        },
        "evaluated_on": f"{cpu_name()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
                        f"running in {model.studio_config.precision}",
        "reproduce": reproduce,
    }
    # Only a card of the same checkpoint lends its hand-kept fields (training commands, notes).
    kept = {k: v for k, v in earlier.items() if k not in written}
    if earlier and same_checkpoint(earlier["checkpoint"], checkpoint, card):
        written = {**kept, **written}
    elif kept:
        print(f"note: {card} was the card of {earlier['checkpoint']}; its {', '.join(sorted(kept))} "
              "are left out of the new card", file=sys.stderr)
    write_atomically({card: lambda tmp: Path(tmp).write_text(json.dumps(written, indent=1) + "\n")})
