"""Text progress bars on stderr: the command line's, and the ones `train`,
`evaluate` and `forecast` draw for a notebook or a script with `bar=True`.

One builder, so that every bar redraws alike; tqdm is imported on use, as
`python -m core --help` loads nothing it does not need.
"""

from __future__ import annotations

import sys


def text_bar(total: int, desc: str, unit: str = "seq", **options):
    """A tqdm bar on stderr, sized to the window.

    Args:
        total: the count that fills it.
        desc: its label, e.g. "forecasting".
        unit: what it counts, e.g. "seq" or "batch".
        **options: tqdm's, e.g. `mininterval` or `bar_format`.

    Returns:
        The tqdm bar, to use as a context manager or to close.
    """
    from tqdm import tqdm

    # At most a redraw a second: one per batch was 73 redraws in 50 batches, hundreds a second on a GPU.
    return tqdm(**{"total": total, "desc": desc, "unit": unit, "file": sys.stderr, "dynamic_ncols": True,
                   "mininterval": 1.0, **options})
