"""Pictures of sequences: animated GIFs (Pillow) and numbered frame strips (matplotlib).

Frames are 64x64, too small to see on a projector, so every picture upscales
them with nearest neighbour (no blur invented). The GIFs of whole sequences
(`sequence_gif`, `comparison_gif`) check their frames as the model's inputs
are checked (`core.data.check_frames`: uint8 0-255, or floats in [0, 1]
without NaN), so a bad array gets a one-line InputError before encoding,
which is where GIF export usually crashes; the lower-level pictures convert
with `to_uint8` (floats clipped, NaN to black).

A panel is one labelled column of a GIF: a banner names it and says, frame by
frame, whether this is a context frame (blue, seen by the model) or a later
frame (orange: the true future in a ground-truth panel, the closed-loop
forecast in a prediction panel).
"""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.data import check_frames, check_unit_floats
from core.errors import InputError, as_number, check_range

CONTEXT_COLOUR = (60, 130, 230)
FORECAST_COLOUR = (240, 140, 30)
# Labels in the same hues, darker: the frames' own colours were 3.8:1 and 2.5:1
# on white, below the 4.5:1 small text needs; these are 6.1:1 and 5.0:1.
CONTEXT_TEXT = (29, 95, 191)
FORECAST_TEXT = (180, 83, 9)
# A wall a digit bounces off, marked on a frame. Cyan, as nothing else on the pages is: a magenta
# read as the error panel's purple, or as the paths chart's digit 2 where digit 1 bounced.
WALL_COLOUR = (0, 200, 255)
# See-through: a bar lies on the frame's edge, and a tenth of the digits bouncing have strokes there
# (the foot of a 7, cut off under a solid one).
WALL_OPACITY = 0.8
WALLS = ("top", "bottom", "left", "right")
BANNER = 22  # pixels of label above each panel
BORDER = 3
GAP = 6


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Frames as uint8 0-255: floats are read as [0, 1], clipped, NaN -> 0."""
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames
    if frames.dtype.kind == "f":
        return np.round(np.clip(np.nan_to_num(frames, nan=0.0), 0.0, 1.0) * 255).astype(np.uint8)
    return np.clip(frames, 0, 255).astype(np.uint8)


def upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling of the last two axes by an integer factor."""
    return frames.repeat(scale, axis=-2).repeat(scale, axis=-1)


@functools.lru_cache(maxsize=4)
def _font(size: int):
    # DejaVu Sans ships with matplotlib, so labels look the same everywhere.
    from matplotlib import font_manager

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)


def colourise(values: np.ndarray, colours: tuple[str, float, float]) -> np.ndarray:
    """Values -> uint8 RGB with a matplotlib colour map over [low, high]."""
    from matplotlib import colormaps

    name, low, high = colours
    scaled = (np.asarray(values, np.float32) - low) / (high - low)
    return (colormaps[name](np.clip(scaled, 0, 1))[..., :3] * 255).astype(np.uint8)


def colour_bar(colours: tuple[str, float, float], width: int = 320) -> np.ndarray:
    """A legend for `colourise`: the colour ramp with its low and high values written under its ends.

    Returns:
        uint8 (34, width, 3) RGB.
    """
    _, low, high = colours
    image = Image.new("RGB", (width, 34), (255, 255, 255))
    image.paste(Image.fromarray(colourise(np.tile(np.linspace(low, high, width), (16, 1)), colours)))
    draw = ImageDraw.Draw(image)
    font = _font(13)
    draw.text((0, 18), f"{low:.2g}", fill=(20, 20, 20), font=font)
    draw.text((width // 2, 18), f"{(low + high) / 2:.2g}", fill=(20, 20, 20), font=font, anchor="ma")
    draw.text((width, 18), f"{high:.2g}", fill=(20, 20, 20), font=font, anchor="ra")
    return np.asarray(image)


ERROR_COLOURS = ("magma", 0.0, 1.0)


def frame_label(t: int, context: int) -> str:
    """How every picture names frame `t` (from 0) of a sequence whose first `context` frames are true."""
    number = frame_number(t, context)
    return f"context {number}/{context}" if t < context else f"future {number}"


def frame_number(t: int, context: int | None) -> str:
    """`frame_label` in short, for a number above a frame or on an axis: "10"
    for context 10/10, "+1" for future +1; from 1 where no context is marked."""
    return str(t + 1) if context is None or t < context else f"+{t - context + 1}"


def panel(frames: np.ndarray, title: str, context: int, scale: int = 4, colours: tuple | None = None,
          first: int = 0, walls: dict | None = None) -> np.ndarray:
    """One labelled column: (T, h, w) frames -> bordered uint8 RGB frames under a banner (shape under Returns).

    Args:
        frames: the frames (or heatmaps) to show.
        title: shown in the banner.
        context: how many of the leading frames of the sequence are context
            (blue) rather than future (orange) frames.
        scale: nearest-neighbour upscaling factor (at least 4 for 64x64 frames).
        colours: None for grey frames in [0, 1] or 0-255; or (colour map,
            low, high) for values such as errors or gate activations.
        first: the place in the sequence of `frames[0]`: 1 for predictions
            made from each frame of the sequence, which show the frame after it.
        walls: as `frame_strip` takes them, counted in the sequence: each drawn
            as a bar over that side's border and the frame's edge.

    Returns:
        uint8 (T, BANNER + h*scale + 2*BORDER, w*scale + 2*BORDER, 3).
    """
    if colours is None:
        rgb = np.repeat(to_uint8(frames)[..., None], 3, axis=-1)
    else:
        rgb = colourise(frames, colours)
    rgb = upscale(rgb.transpose(0, 3, 1, 2), scale).transpose(0, 2, 3, 1)
    length, height, width, _ = rgb.shape
    out = np.empty((length, BANNER + height + 2 * BORDER, width + 2 * BORDER, 3), np.uint8)
    for t in range(length):
        is_context = first + t < context
        out[t, :BANNER] = _banner(title, frame_label(first + t, context), is_context, out.shape[2])
        out[t, BANNER:] = CONTEXT_COLOUR if is_context else FORECAST_COLOUR
        out[t, BANNER + BORDER : BANNER + BORDER + height, BORDER : BORDER + width] = rgb[t]
    for t, sides in _checked_walls(walls).items():
        if 0 <= t - first < length:
            framed = out[t - first, BANNER:]
            cover = _edges(framed.shape[:2], sides, BORDER + _wall_bar(frames.shape[-1]) * scale)
            framed[cover] = np.round(WALL_OPACITY * np.array(WALL_COLOUR) + (1 - WALL_OPACITY) * framed[cover])
    return out


def _edges(shape: tuple, sides, depth: int) -> np.ndarray:
    """A bool mask of `shape`, True `depth` pixels deep along each of `sides`: one mask, blended
    once, where bars drawn one by one were blended twice in a corner."""
    cover = np.zeros(shape, bool)
    for side in sides:
        cover[{"top": np.s_[:depth], "bottom": np.s_[-depth:], "left": np.s_[:, :depth],
               "right": np.s_[:, -depth:]}[side]] = True
    return cover


def _wall_bar(size: int) -> int:
    """Pixels of a `size`-pixel frame that a wall's mark covers: 3 of 64, where a bounced digit's blank margin lies."""
    return max(2, size // 20)


@functools.lru_cache(maxsize=512)
def _banner(title: str, step: str, is_context: bool, width: int) -> np.ndarray:
    # Text drawing is the slow part of a panel, and banners repeat across
    # sequences, so each one is drawn once.
    image = Image.new("RGB", (width, BANNER), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = _font(13)
    draw.text((3, 3), title, fill=(20, 20, 20), font=font)
    draw.text((width - 3, 3), step, fill=CONTEXT_TEXT if is_context else FORECAST_TEXT, font=font, anchor="ra")
    return np.asarray(image)


def encode_png(image: np.ndarray) -> bytes:
    """A still (H, W) or (H, W, 3) uint8 image as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(image)).save(buffer, format="PNG")
    return buffer.getvalue()


MAX_FPS = 50  # a GIF's delays are hundredths of a second, and browsers play one under 0.02 s at 0.1 s


def encode_gif(frames: np.ndarray, fps: float = 4.0) -> bytes:
    """Encodes frames as a looping GIF.

    Frames are quantised with Pillow's fast octree (within 15 of 255 grey
    levels here) rather than imageio's default median cut, which took 6x as
    long (118 ms against 20 ms for a 20-frame panel) and kept the Forecast
    page from answering within a second. imageio reads them back in tests.

    Args:
        frames: (T, H, W) or (T, H, W, 3), uint8 or floats in [0, 1].
        fps: frames per second, 0.01 to MAX_FPS (50).

    Returns:
        The GIF's bytes.

    Raises:
        InputError: an fps out of range or not a number, or no frames.
    """
    fps = as_number("fps", fps, whole=False)
    # A GIF stores each frame's time in hundredths of a second, in 16 bits: 0 was a division by zero
    # below, 0.001 an OverflowError. 60 was stored as 0.01 s, which browsers play at 0.1 s: slower than 30.
    if not 0.01 <= fps <= MAX_FPS:
        raise InputError(f"fps must be from 0.01 to {MAX_FPS} (browsers slow a faster GIF down to 10 frames a "
                         f"second); received {fps:g}")
    frames = to_uint8(frames)
    if len(frames) == 0:  # an IndexError below
        raise InputError("frames is empty: a GIF needs at least one frame")
    images = [
        Image.fromarray(frame).convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        for frame in frames
    ]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return buffer.getvalue()


def gif_still(gif: bytes, frame: int = -1) -> bytes:
    """One frame of a GIF from `encode_gif`, as PNG bytes: a still of it.

    Args:
        gif: the GIF's bytes.
        frame: which, from 0; negative counts from the end (the default, the
            last: a forecast's furthest).

    Returns:
        PNG bytes of that frame.

    Raises:
        InputError: bytes that are no image (Pillow's UnidentifiedImageError), or a
            frame the GIF does not have.
    """
    try:
        opened = Image.open(io.BytesIO(gif))
    except (OSError, TypeError) as error:  # not an image, or not bytes
        raise InputError(f"gif must be a GIF's bytes, as encode_gif gives them ({error})") from None
    with opened as image:
        count = image.n_frames
        check_range("frame", as_number("frame", frame, whole=True), -count, count - 1)
        image.seek(frame % count)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _one_sequence(frames: np.ndarray, name: str) -> np.ndarray:
    """`frames` checked as one (T, 64, 64) sequence of at least one frame."""
    frames = check_frames(frames, name, least=1)
    if len(frames) > 1:
        raise InputError(f"{name} must be one sequence (T, 64, 64); received {len(frames)}: pick one, e.g. {name}[0]")
    return frames[0]


def _check_scale(scale) -> None:
    if not 1 <= as_number("scale", scale, whole=True) <= 16:
        raise InputError(f"scale must be a whole number from 1 to 16; received {scale!r}")


def sequence_gif(frames: np.ndarray, title: str = "", context: int | None = None, scale: int = 4, fps: float = 4.0,
                 walls: dict | None = None) -> bytes:
    """One sequence as a labelled GIF.

    Args:
        frames: (T, 64, 64), uint8 or float in [0, 1].
        title: banner text.
        context: leading frames marked as context (0 to T); None marks all of them.
        scale: upscaling factor, 1 to 16.
        fps: frames per second.
        walls: the walls the digits bounce off, marked as `panel` marks them.

    Returns:
        The GIF's bytes; in a notebook, `IPython.display.Image(data=gif)` shows it.

    Raises:
        InputError: frames that are not one such sequence, or a bad title, context, scale, fps or walls.
    """
    frames = _one_sequence(frames, "frames")
    if not isinstance(title, str):  # None failed inside Pillow's text drawing
        raise InputError(f"title must be text; received {title!r}")
    context = len(frames) if context is None else context
    if not 0 <= as_number("context", context, whole=True) <= len(frames):
        raise InputError(f"context must be a whole number from 0 to {len(frames)}; received {context!r}")
    _check_scale(scale)
    return encode_gif(panel(frames, title, context, scale, walls=walls), fps)


def comparison_panels(context: np.ndarray, truth: np.ndarray | None, prediction: np.ndarray, scale: int = 4,
                      error: bool = True, walls: dict | None = None) -> dict:
    """The three in-step panels of a forecast: ground truth, prediction, absolute error.

    All panels play the context first, then the forecast, so they stay in step.
    During the context the prediction panel shows the context, titled "model
    input" (what the model was given), and the error panel is black. Past the end of a truth shorter
    than the forecast, the ground truth and the error show grey stripes marked
    "no data": black there read as a perfect forecast.

    Args:
        context: (C, 64, 64) frames the model saw.
        truth: (H, 64, 64) what really happened, or None for a pure forecast.
        prediction: (H, 64, 64) the model's closed-loop forecast.
        scale: upscaling factor.
        error: False leaves the error panel out (two panels are larger in the same width).
        walls: the walls the digits bounce off, counted from the first context
            frame, marked on the ground truth as `panel` marks them.

    Returns:
        {"ground truth": RGB frames, "prediction": ..., "absolute error": ...};
        without `error` no "absolute error", without truth only "prediction".
    """
    c = len(context)
    context = to_uint8(context)
    prediction = to_uint8(prediction)
    # Titled for what they are: under "prediction", the true context frames read as ten perfect predictions.
    panels = {"prediction": np.concatenate([panel(context, "model input", c, scale),
                                            panel(prediction, "prediction", c, scale, first=c)])}
    if truth is not None:
        truth = to_uint8(truth)[: len(prediction)]
        known = len(truth)
        # A forecast past the data: frames drawn over below keep the panels in step.
        padded = np.concatenate([truth, np.zeros((len(prediction) - known,) + truth.shape[1:], np.uint8)])
        panels = {"ground truth": panel(np.concatenate([context, padded]), "ground truth", c, scale, walls=walls),
                  **panels}
        if error:
            differences = np.zeros(prediction.shape, np.float32)
            differences[:known] = np.abs(truth.astype(np.float32) - prediction[:known].astype(np.float32)) / 255
            panels["absolute error"] = panel(np.concatenate([np.zeros((c,) + differences.shape[1:], np.float32),
                                                             differences]), "absolute error", c, scale, ERROR_COLOURS)
        for name in panels.keys() - {"prediction"}:
            past = panels[name][c + known :, BANNER + BORDER : -BORDER, BORDER:-BORDER]
            past[...] = _no_data(*past.shape[1:3])
    return panels


@functools.lru_cache(maxsize=8)
def _no_data(height: int, width: int) -> np.ndarray:
    """(height, width, 3) grey stripes marked "no data", where a sequence has no frame."""
    y, x = np.mgrid[:height, :width]
    stripes = np.where((x + y) // 12 % 2 == 0, 48, 24).astype(np.uint8)
    image = Image.fromarray(np.repeat(stripes[..., None], 3, axis=-1))
    ImageDraw.Draw(image).text((width // 2, height // 2), "no data", fill=(210, 210, 210), font=_font(max(13, width // 10)),
                               anchor="mm", stroke_width=3, stroke_fill=(0, 0, 0))
    return np.asarray(image)


def comparison_gif(
    context: np.ndarray, truth: np.ndarray | None, prediction: np.ndarray, scale: int = 4, fps: float = 4.0
) -> bytes:
    """Ground truth | prediction | absolute error side by side, as one GIF.

    Args:
        context: (C, 64, 64) frames the model saw, uint8 or float in [0, 1].
        truth: (H, 64, 64) what really happened, or None for the prediction alone.
        prediction: (H, 64, 64) the forecast, e.g. `core.forecast(...)[0]`.
        scale: upscaling factor, 1 to 16.
        fps: frames per second.

    Returns:
        The GIF's bytes; in a notebook, `IPython.display.Image(data=gif)` shows it.

    Raises:
        InputError: an argument that is not one such sequence, or a bad scale or fps.
    """
    context, prediction = _one_sequence(context, "context"), _one_sequence(prediction, "prediction")
    truth = None if truth is None else _one_sequence(truth, "truth")
    _check_scale(scale)
    return encode_gif(side_by_side(comparison_panels(context, truth, prediction, scale)), fps)


def side_by_side(panels: dict) -> np.ndarray:
    """Joins in-step panels left to right with a white gap: (T, h, total width, 3)."""
    return in_rows(panels, len(panels))


def in_rows(panels: dict, per_row: int) -> np.ndarray:
    """Joins in-step panels `per_row` to a row, rows top to bottom, with white
    gaps; a last row short of panels is filled with white: (T, H, W, 3).

    For a phone's narrow screen: shrunk to its width, three panels side by
    side had labels 6 px high and frames of 115 px; two to a row, 9 and 172.
    """
    items = list(panels.values())
    items += [np.full_like(items[0], 255)] * (-len(items) % per_row)
    return _joined([_joined(items[start:start + per_row], axis=2) for start in range(0, len(items), per_row)], axis=1)


def _joined(panels: list, axis: int) -> np.ndarray:
    shape = list(panels[0].shape)
    shape[axis] = GAP
    gap = np.full(shape, 255, np.uint8)
    joined = [panels[0]]
    for item in panels[1:]:
        joined += [gap, item]
    return np.concatenate(joined, axis=axis)


def _checked_rows(rows) -> dict:
    """`frame_strip`'s rows as arrays, each (T, S, S) with one S, uint8 or floats in [0, 1].

    Floats of 0-255 were drawn as two values, 0 and 255; a batch, frames of two sizes or
    no rows failed inside NumPy; an array in place of the dict as an AttributeError.
    """
    if not isinstance(rows, dict) or not rows:
        raise InputError(f"rows must be a dict of {{label: (T, S, S) frames}}; received "
                         f"{'an empty dict' if isinstance(rows, dict) else type(rows).__name__}")
    checked = {}
    for label, frames in rows.items():
        frames, name = np.asarray(frames), f"rows[{label!r}]"
        if frames.ndim != 3 or frames.shape[1] != frames.shape[2] or 0 in frames.shape:
            # A channel axis was told to "pick one" sequence, which left (S, S, 1) frames.
            channel = frames.ndim == 4 and frames.shape[-1] == 1
            hint = (f": drop the channel axis, e.g. {label!r}: frames[..., 0]" if channel
                    else f": pick one, e.g. {label!r}: frames[0]" if frames.ndim == 4 else "")
            raise InputError(f"{name} must be one sequence's frames, (T, S, S); received shape {frames.shape}{hint}")
        if frames.dtype.kind == "f":
            check_unit_floats(frames, name)
        elif frames.dtype.kind not in "ui" or frames.min() < 0 or frames.max() > 255:
            raise InputError(f"{name} must be uint8 (0-255) or floats in [0, 1]; received {frames.dtype}")
        checked[label] = frames
    if len({frames.shape[1] for frames in checked.values()}) > 1:
        raise InputError(f"rows must hold frames of one size; received {[f.shape[1:] for f in checked.values()]}")
    return checked


def _check_dpi(dpi) -> None:
    # 0 failed inside matplotlib, as "dpi must be positive".
    check_range("dpi", as_number("dpi", dpi, whole=False), 1)


def frame_strip(
    rows: dict, context: int | None = None, dpi: int = 100, starts: dict | None = None, per_line: int = 20,
    walls: dict | None = None,
) -> bytes:
    """Numbered frames in rows, as a PNG made with matplotlib.

    Args:
        rows: {row label: (T, S, S) frames, uint8 or floats in [0, 1], S the same for all
            rows}; a row shorter than the longest is right-aligned (a forecast sits
            under the frames it predicts), unless `starts` places it.
        context: frames before this index get a blue number, the rest an
            orange one counted from the context ("+1"), as the GIFs name
            them; None numbers them all in black from 1.
        dpi: resolution.
        starts: {row label: column of its first frame}, for rows that do not
            end together (a forecast that runs past the true frames).
        per_line: frames per line (a whole Moving MNIST sequence); a longer strip
            goes on below, its rows repeated where they have frames (70 frames in
            one line shrank to 13 px each on a page).
        walls: {frame (from 0, as the strip counts them): walls a digit bounces off in
            it, of "top", "bottom", "left" and "right"}, each drawn as a bar along that
            side of the first row's frame (see `core.data.walls_hit`).

    Returns:
        The PNG's bytes.

    Raises:
        InputError: rows that are not a dict of one sequence's frames each, all of
            one size, uint8 or floats in [0, 1]; a `per_line` or `dpi` below 1; a
            negative `context` or start; a start of no row; walls not so named.
    """
    from matplotlib.figure import Figure

    rows = _checked_rows(rows)
    per_line = as_number("per_line", per_line, whole=True)
    check_range("per_line", per_line, 1)  # 0 was a ZeroDivisionError
    _check_dpi(dpi)
    if context is not None:  # -2 numbered the frames from +3
        check_range("context", as_number("context", context, whole=True), 0)
    # A negative start failed inside NumPy's broadcasting; a misspelt row's was ignored.
    if not isinstance(starts or {}, dict) or set(starts or {}) - set(rows):
        raise InputError(f"starts must be a dict of {{row label: first column}} for rows {list(rows)}; received "
                         f"{starts!r}")
    starts = {label: as_number(f"starts[{label!r}]", start, whole=True) for label, start in (starts or {}).items()}
    for label, start in starts.items():
        check_range(f"starts[{label!r}]", start, 0)
    # One mosaic in one image is 6x faster to draw than a grid of subplots.
    length = max(starts.get(label, 0) + len(frames) for label, frames in rows.items())
    per_line = min(per_line, length)
    size = np.shape(next(iter(rows.values())))[-1]  # 64 for frames, 28 for digits
    gap = max(2, size // 16)
    # Sized in inches so that text stays legible when Streamlit shrinks the
    # picture to the page's width (to about 60% for 20 frames): a frame and its
    # gap take 0.75 in, the numbers above each line 0.4 in, the row labels 1.2 in.
    inch = (size + gap) / 0.75  # mosaic pixels per inch
    header, margin = round(0.4 * inch), 1.2
    lines = -(-length // per_line)
    offsets = {label: starts.get(label, length - len(frames)) for label, frames in rows.items()}
    # A line holds only the rows with frames on it: a forecast's first line (the context) had an
    # empty "prediction" row, and a long forecast's lines past the truth an empty "truth" row.
    shown = [[label for label, frames in rows.items()
              if offsets[label] < (line + 1) * per_line and offsets[label] + len(frames) > line * per_line]
             for line in range(lines)]
    tops = np.cumsum([0] + [header + len(labels) * (size + gap) for labels in shown])
    mosaic = np.full((tops[-1], per_line * (size + gap)), 255, np.uint8)
    for label, frames in rows.items():
        for t, frame in enumerate(to_uint8(frames)):
            line, column = divmod(offsets[label] + t, per_line)
            top, left = tops[line] + header + shown[line].index(label) * (size + gap), column * (size + gap)
            mosaic[top : top + size, left : left + size] = frame
    width = 0.75 * per_line + margin
    figure = Figure(figsize=(width, mosaic.shape[0] / inch), dpi=dpi)
    ax = figure.add_axes((margin / width, 0, 1 - margin / width, 1))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="auto")
    ax.axis("off")
    for t in range(length):
        line, column = divmod(t, per_line)
        colour = "black" if context is None else np.array(CONTEXT_TEXT if t < context else FORECAST_TEXT) / 255
        ax.text(column * (size + gap) + size / 2, tops[line] + header - 3, frame_number(t, context),
                ha="center", va="bottom", fontsize=12, color=colour)
    for line, labels in enumerate(shown):
        for r, label in enumerate(labels):
            ax.text(-6, tops[line] + header + r * (size + gap) + size / 2, label, ha="right", va="center",
                    fontsize=12)
    # Deeper on a longer line: a page shows 20 frames a line at half the width of 10, where the bar
    # of a 30-frame forecast was 1-2 px on a projector.
    first, cover, bar = next(iter(rows)), np.zeros(mosaic.shape, bool), _wall_bar(size) * max(1, per_line // 10)
    for t, sides in _checked_walls(walls).items():
        line, column = divmod(t, per_line)
        if not offsets[first] <= t < offsets[first] + len(rows[first]):
            continue  # past the first row's frames (a forecast beyond the truth)
        top, left = tops[line] + header, column * (size + gap)
        cover[top : top + size, left : left + size] = _edges((size, size), sides, bar)
    if cover.any():  # over the frames, in the mosaic's pixels
        ax.imshow(np.where(cover[..., None], [*np.array(WALL_COLOUR) / 255, WALL_OPACITY], 0.0),
                  interpolation="nearest", aspect="auto")
    return _palette_png(figure)


def _checked_walls(walls) -> dict:
    """`frame_strip`'s walls: {whole number from 0: names from `WALLS`}."""
    walls = walls or {}
    for t, sides in walls.items():
        if not isinstance(t, (int, np.integer)) or t < 0 or isinstance(sides, str) or not set(sides) <= set(WALLS):
            raise InputError(f"walls must be {{frame from 0: walls among {', '.join(WALLS)}}}; received {{{t!r}: {sides!r}}}")
    return walls


def _palette_png(figure) -> bytes:
    """A matplotlib figure as a PNG of at most 256 colours: a frame strip's greys
    and two label colours need no more, and a forecast's strip in full colour
    took 27 KB against 12 (17-19 ms more to make), which a class on a slow link
    downloads at every pick. Median cut kept a strip's pixels within 8 of 255
    (the faster octree moved the white background off white); the diagram's
    coloured boxes lose a little on their edges."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    image = Image.open(buffer).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def numbered_grid(images: np.ndarray, columns: int = 5, scale: int = 2) -> np.ndarray:
    """Small pictures in a grid, each with its index above it: a gallery to pick from by number.

    Args:
        images: (N, S, S) pictures (MNIST digits: S = 28).
        columns: pictures per row.
        scale: integer upscaling of each picture.

    Returns:
        (H, W) uint8, white between the pictures.

    Raises:
        InputError: pictures not shaped (N, S, S), or a columns or scale below 1.
    """
    if np.ndim(images) != 3:  # a 4-D batch failed inside Pillow
        raise InputError(f"images must be (N, S, S) pictures; received shape {np.shape(images)}")
    for name, value in (("columns", columns), ("scale", scale)):  # 0 columns was a ZeroDivisionError
        check_range(name, as_number(name, value, whole=True), 1)
    images = upscale(to_uint8(images), scale)
    size, label, gap = images.shape[-1], 18, 4
    rows = -(-len(images) // columns)
    grid = Image.new("L", (columns * (size + gap), rows * (label + size + gap)), 255)
    draw = ImageDraw.Draw(grid)
    for i, image in enumerate(images):
        left, top = (i % columns) * (size + gap), (i // columns) * (label + size + gap)
        draw.text((left + size // 2, top + label - 2), str(i), fill=0, font=_font(14), anchor="mb")
        grid.paste(Image.fromarray(image), (left, top + label))
    return np.asarray(grid)


def concept_diagram(context: np.ndarray, following: np.ndarray, shown: int = 4, dpi: int = 100,
                    stacked: bool = False) -> bytes:
    """How a ConvLSTM forecasts, as a PNG: context frames in, a recurrent cell, next frames out.

    Args:
        context: (C, 64, 64) frames the model reads; the last `shown` are drawn.
        following: (H, 64, 64) the frames it is to predict; the first `shown` are drawn.
        shown: frames a side, at most C and H.
        dpi: resolution.
        stacked: context above the cell and forecast below it, for a phone: in one
            row, its 700 px shown in 358 had words 6 px high.

    Returns:
        The diagram as PNG bytes.

    Raises:
        InputError: `shown` is not a whole number from 1 to min(C, H); a `dpi` below 1.
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    _check_dpi(dpi)
    # Fewer frames than `shown` failed as an IndexError, or drew frames counted from the end.
    shown = as_number("shown", shown, whole=True)
    if not 1 <= shown <= min(len(context), len(following)):
        raise InputError(f"shown must be from 1 to {min(len(context), len(following))} (the frames given on the "
                         f"shorter side); received {shown}")

    # Each layout in figure fractions: the frames' (x, y) corners, the cell's box and
    # its words' heights, the arrows in and out, the feedback arrow and the closing sentence.
    if stacked:
        figure_width = 1.6 * shown + 1.2
        figure = Figure(figsize=(figure_width, 6.0), dpi=dpi)
        width, height = 1.4 / figure_width, 1.4 / 6.0
        xs = [0.5 + (1.6 * i - 0.8 * shown + 0.1) / figure_width for i in range(shown)]
        inputs, outputs = [(x, 0.72) for x in xs], [(x, 0.155) for x in xs]
        box, words_at = (0.1, 0.5, 0.8, 0.125), (0.585, 0.52)
        arrow_in, arrow_out = ((0.5, 0.71), (0.5, 0.635)), ((0.5, 0.49), (0.5, 0.43))
        feedback = ((xs[-1] + width * 0.9 + 0.01, 0.27), (0.91, 0.52), 0.45)  # from the side, past the last
        closing = "Each predicted frame is fed back in\nto predict the next one (closed loop)."
    else:
        figure = Figure(figsize=(2 * shown + 3, 2.6), dpi=dpi)
        width, height = 1 / (2 * shown + 3), 0.55
        inputs = [(i * width, 0.25) for i in range(shown)]
        outputs = [((shown + 3 + i) * width, 0.25) for i in range(shown)]
        left, right = shown * width, (shown + 3) * width
        box, words_at = (left + 0.01, 0.3, right - left - 0.03, 0.45), (0.6, 0.42)
        arrow_in, arrow_out = ((left - 0.01, 0.52), (left + 0.012, 0.52)), ((right - 0.03, 0.35), (right + 0.005, 0.35))
        # The first predicted frame back into the cell.
        feedback = ((right + width * 0.45, 0.22), ((left + right) / 2 + 0.02, 0.28), -0.35)
        closing = "Each predicted frame is fed back in to predict the next one (closed loop)."

    def frame(corner, image, title, colour, text):
        ax = figure.add_axes((*corner, width * 0.9, height))
        ax.imshow(to_uint8(image), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color(np.array(colour) / 255)
            spine.set_linewidth(3)
        ax.set_title(title, fontsize=9, color=np.array(text) / 255)

    # Named as the GIF below it on Home names them ("context 10/10", "future +1"): "context 9" counted
    # from 0, and "to predict +1" was a third name for what the GIF calls future and Dataset target.
    for corner, t in zip(inputs, range(len(context) - shown, len(context))):
        frame(corner, context[t], frame_label(t, len(context)), CONTEXT_COLOUR, CONTEXT_TEXT)
    for corner, t in zip(outputs, range(shown)):
        frame(corner, following[t], frame_label(len(context) + t, len(context)), FORECAST_COLOUR, FORECAST_TEXT)
    canvas = figure.add_axes((0, 0, 1, 1), facecolor="none")
    canvas.set_xlim(0, 1)
    canvas.set_ylim(0, 1)
    canvas.axis("off")
    x, y, box_width, box_height = box
    canvas.add_patch(FancyBboxPatch((x, y), box_width, box_height, boxstyle="round,pad=0.01",
                                    facecolor="#fdf0e2", edgecolor="#e8781e", linewidth=2))
    canvas.text(x + box_width / 2, words_at[0], "ConvLSTM", ha="center", fontsize=13, weight="bold")
    canvas.text(x + box_width / 2, words_at[1],
                ("hidden state H, memory C, updated each frame" if stacked
                 else "hidden state H, memory C\nupdated each frame"),
                ha="center", fontsize=10)
    for start, end in (arrow_in, arrow_out):
        canvas.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=15))
    start, end, bend = feedback
    canvas.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={bend}", arrowstyle="-|>",
                                     mutation_scale=15, color=np.array(FORECAST_TEXT) / 255, linewidth=1.5))
    canvas.text(0.5, 0.06 if not stacked else 0.03, closing, ha="center", fontsize=12, color="#222")
    return _palette_png(figure)
