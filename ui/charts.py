"""Plotly charts of the app, drawn alike wherever they appear (one look, one colour per model and baseline)."""

import itertools

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core import data, media


# Fixed per role: with a second model, the default order drew it in the colour
# that means "black frames" everywhere else. Every line is at least 3:1 against
# white, as graphics need: Streamlit's light blue for black frames was 1.8:1.
BASELINE_COLOURS = {"black frames": "#6b6b6b", "repeat last frame": "#ff2b2b"}
# In greyscale, on a washed-out projector or for a colour-blind student the two grey
# and red dotted lines were one: each baseline has a marker no model line uses.
BASELINE_MARKERS = {"black frames": "x", "repeat last frame": "triangle-down"}
MODEL_COLOURS = ("#0068c9", "#1a7f72", "#6d3fc0", "#b85c00")
# Two models' lines, blue and teal of one width, overlapped along their length on a projector and
# for a colour-blind student: each model after the first is also dashed, with markers of its own.
MODEL_DASHES = ("solid", "dash", "dashdot", "longdash")
MODEL_MARKERS = ("circle", "square", "diamond", "triangle-up")
# A 10-minute run at batch 4 logs some 2,500 losses, and Train redraws its chart every second.
LOSS_POINTS = 300
# Paul Tol's colour-blind-safe green and purple, then black: not blue and orange,
# which beside the GIFs read as context and target (a teacher took digit 2 for the target).
DIGIT_COLOURS = ("#117733", "#aa4499", "#000000")
DIGIT_MARKERS = ("circle", "square", "diamond")
# Streamlit draws chart text in #808495, 3.7:1 on white; small text needs 4.5:1.
CHART_TEXT = "#31333f"


def legible(figure: go.Figure) -> go.Figure:
    """Sets a chart's titles, ticks and legend in dark text large enough for a
    projector, lets a finger on it scroll the page, and returns it."""
    figure.update_xaxes(tickfont_color=CHART_TEXT, title_font_color=CHART_TEXT)
    figure.update_yaxes(tickfont_color=CHART_TEXT, title_font_color=CHART_TEXT)
    figure.update_annotations(font_color=CHART_TEXT)  # subplot titles
    # On a phone a swipe over a chart zoomed it (hiding a baseline) instead of
    # scrolling the page. Hover still works.
    # Plotly's 12 px ticks and legend were too small to read from a classroom's back row.
    figure.update_layout(title_font_color=CHART_TEXT, legend_font_color=CHART_TEXT, dragmode=False, font_size=14)
    return figure


def per_frame_chart(metric: str, curves: dict, better: str, mark_frame: int | None = None) -> go.Figure:
    """Lines of a metric over the frames ahead, one per model or baseline.

    Args:
        metric: the metric's name, for the title and axis.
        curves: {name: (H,) values}; a baseline's name, bare or after
            "baseline: ", draws it dotted in its own colour, any other name a
            model: the first solid, the next dashed, each with its own markers.
        better: "lower" or "higher".
        mark_frame: a frame (1-based) to mark with a vertical line, or None.
    """
    figure = go.Figure()
    models = itertools.cycle(zip(MODEL_COLOURS, MODEL_DASHES, MODEL_MARKERS))
    for name, values in curves.items():
        role = name.removeprefix("baseline: ")
        baseline = BASELINE_COLOURS.get(role)
        colour, dash, marker = (baseline, "dot", BASELINE_MARKERS[role]) if baseline else next(models)
        figure.add_trace(go.Scatter(
            x=np.arange(1, len(values) + 1), y=values, mode="lines+markers", name=name,
            line={"width": 2 if baseline else 4, "dash": dash, "color": colour},
            marker={"symbol": marker, "size": 8 if baseline else 9},
            cliponaxis=False,  # a 60-frame forecast's last markers sit 3 px from the edge, and were cut in half
        ))
    if mark_frame is not None:
        figure.add_vline(x=mark_frame, line_dash="dash", line_color="gray")
    # The legend goes under the plot: beside it, long model names took half of a half-width column.
    # Which way is better goes on the axis: in the title it was cut off in a half-width column at 800 px.
    # Whole frames on the axis, counted from 1 as everywhere else: one or two points got ticks at
    # 0.5 and 1.5, and Plotly's own ticks began at a "0 frames ahead" that no frame is.
    frames = max((len(values) for values in curves.values()), default=1)
    ticks = list(range(1, frames + 1)) if frames <= 12 else [1, *range(10, frames + 1, 10)]
    if frames - ticks[-1] >= 5:  # the last frame too, where it is not crowded by the tick before
        ticks.append(frames)
    figure.update_layout(title=f"{metric} per predicted frame", xaxis_title="frames ahead", xaxis_tickvals=ticks,
                         xaxis_range=[0.5, frames + 0.5], yaxis_title=f"{metric} ({better} is better)", height=420,
                         # Room on the right for the last tick's label: Streamlit's theme leaves none, and
                         # Plotly dropped "60" from a 60-frame forecast's axis.
                         margin={"t": 50, "b": 10, "r": 24},
                         legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    return legible(figure)


def describe_curves(metric: str, curves: dict) -> str:
    """A sentence that says what `per_frame_chart(metric, curves, ...)` shows, for screen readers."""
    ends = "; ".join(f"{name} from {values[0]:.3g} to {values[-1]:.3g}" for name, values in curves.items())
    frames = max((len(values) for values in curves.values()), default=0)
    return f"{metric} of each of {frames} predicted frames, first to last: {ends}."


def _class_words(label: int) -> str:
    # "an 8", not "a 8"; -1 is a designed digit whose class was not given.
    return "" if label < 0 else f", {'an' if label == 8 else 'a'} {label}"


def paths_chart(sequence: data.Sequences) -> go.Figure:
    """Where each digit's centre goes on the 64x64 canvas: solid over the context,
    dotted after, with a star where it starts.

    Args:
        sequence: one generated sequence (its digits' positions are known).
    """
    figure = go.Figure()
    centre = sequence.positions[0] + data.DIGIT_SIZE / 2  # (T, D, 2): row, column
    context = data.CONTEXT_FRAMES
    starts = []
    # By place and class: "digit 1" named the class on Dataset and the place on Design.
    for d, label in enumerate(sequence.labels[0]):
        # One colour and one marker per digit: each part in the next colour of the theme
        # left two digits' dotted parts the same under deuteranopia.
        colour, symbol = DIGIT_COLOURS[d % len(DIGIT_COLOURS)], DIGIT_MARKERS[d % len(DIGIT_MARKERS)]
        for part, frames, dash in (("context", slice(0, context), "solid"), ("future", slice(context - 1, None), "dot")):
            figure.add_trace(go.Scatter(x=centre[frames, d, 1], y=centre[frames, d, 0], mode="lines+markers",
                                        name=f"digit {d + 1}{_class_words(label)} ({part})",
                                        line={"dash": dash, "width": 3, "color": colour},
                                        marker={"symbol": symbol, "size": 9, "color": colour}))
        # A star where the digit starts: without it, a path could be read either way. A trace of its
        # own, out of the legend: as the context's first marker, it stood for both digits' context there.
        starts.append(go.Scatter(x=centre[:1, d, 1], y=centre[:1, d, 0], mode="markers", showlegend=False,
                                 name=f"digit {d + 1} starts", marker={"symbol": "star", "size": 16, "color": colour}))
    figure.add_traces(starts)  # drawn over the paths
    # "domain": a narrow column shrinks the square canvas rather than widening its
    # row range (to -50..100 at 800 px, with the paths a squiggle in the middle);
    # the legend goes under it, where it takes none of a narrow column's width.
    figure.update_layout(
        # The star said in the title: out of the legend, a class was left to guess what it marked.
        title="Paths of the digits' centres (★ start)", height=460, margin={"t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
        xaxis={"range": [0, 64], "title": "column (px)", "constrain": "domain"},
        yaxis={"range": [64, 0], "title": "row (px)", "scaleanchor": "x", "constrain": "domain"},
    )
    return legible(figure)


def describe_paths(sequence: data.Sequences) -> str:
    """A sentence that says what `paths_chart(sequence)` shows, for screen readers."""
    centre = sequence.positions[0] + data.DIGIT_SIZE / 2
    moves = "; ".join(
        f"digit {d + 1}{_class_words(label)} from row {centre[0, d, 0]:.0f}, column {centre[0, d, 1]:.0f} "
        f"to row {centre[-1, d, 0]:.0f}, column {centre[-1, d, 1]:.0f}" for d, label in enumerate(sequence.labels[0]))
    return f"Paths of the digits' centres on the 64x64 canvas over {len(centre)} frames: {moves}."


def describe_bounces(sequence: data.Sequences, context: int = data.CONTEXT_FRAMES) -> str:
    """Where the digits of `sequence` bounce, in words, frames named as the strips number
    them: "Digit 1, an 8, bounces off the top wall in frame 4 and the bottom wall in frame +5."."""
    hits = {}  # {digit: {frame: walls}}: a corner is one bounce, off two walls, in one frame
    for t, d, wall in data.walls_hit(sequence):
        hits.setdefault(d, {}).setdefault(t, []).append(wall)
    labels = sequence.labels[0].tolist()
    sentences = []
    for d, frames in sorted(hits.items()):
        about = [_class_words(labels[d]).removeprefix(", ")] if labels[d] >= 0 else []
        twins = [other for other, label in enumerate(labels) if label == labels[d]]
        if len(twins) > 1:  # "Digit 1, an 8 ... Digit 2, an 8": which is which, on Forecast's GIF?
            about.append(f"which starts {_place_words(sequence.positions[0, 0], d, twins)}")
        named = "".join(f", {words}" for words in about) + ("," if about else "")
        # Two walls in one frame are a row's and a column's, in that order: "the bottom right corner".
        places = [f"the {' '.join(walls)} {'corner' if len(walls) > 1 else 'wall'} in frame {media.frame_number(t, context)}"
                  for t, walls in frames.items()]
        listed = ", ".join(places[:-1]) + " and " + places[-1] if len(places) > 1 else places[0]
        sentences.append(f"Digit {d + 1}{named} bounces off {listed}.")
    return " ".join(sentences) or "No digit bounces in these frames."


def _place_words(corners: np.ndarray, d: int, twins: list) -> str:
    """Where digit `d` starts, told apart from `twins` (the digits of its class, itself too): by
    thirds of the box its corner can reach ("at the top left"), or in pixels where they share one."""
    thirds = [tuple(int(value) * 3 // (data.FRAME_SIZE - data.DIGIT_SIZE + 1) for value in corners[twin])
              for twin in twins]
    row, col = thirds[twins.index(d)]
    if thirds.count((row, col)) > 1:  # two start in one third: their centres in pixels tell them apart
        centre = corners[d] + data.DIGIT_SIZE / 2
        return f"at row {centre[0]:.0f}, column {centre[1]:.0f}"
    return "in the centre" if row == col == 1 else \
        f"at the {('top', 'middle', 'bottom')[row]} {('left', 'centre', 'right')[col]}"


def learning_curves(state: dict) -> go.Figure:
    """A training run's loss above its validation MSE, on one axis of sequences seen.

    Two panels, each on its own scale: on one chart with two y axes, the
    loss's line crossed the baselines' as if it could be compared with them.

    Args:
        state: a `core.progress.TrainingProgress` snapshot.
    """
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                           subplot_titles=("Training loss (binary cross-entropy)",
                                           # Short: at 150% zoom the longer title was cut at the chart's edge.
                                           "Validation MSE (lower is better)"))
    if state["loss"]:
        seen, loss = binned(state["loss"])
        figure.add_trace(go.Scatter(x=seen, y=loss, name="training loss", mode="lines", showlegend=False), row=1, col=1)
    top = 0.0
    if state["val_mse"]:
        seen, val = zip(*state["val_mse"])
        figure.add_trace(go.Scatter(x=seen, y=val, name="validation MSE", mode="lines+markers",
                                    line={"color": MODEL_COLOURS[0]}), row=2, col=1)
        # A short run from scratch scores about what black frames do: the lines say so. As far as the
        # loss goes: a fine-tuning run's only point, its start at 0, drew them from 0 to 0 in its first epoch.
        end = max(seen[-1], state["loss"][-1][0] if state["loss"] else 0)
        for name, score in state["val_baselines"].items():
            figure.add_trace(go.Scatter(x=[0, end], y=[score, score], name=f"baseline: {name}", mode="lines+markers",
                                        line={"dash": "dot", "color": BASELINE_COLOURS[name]},
                                        marker={"symbol": BASELINE_MARKERS[name], "size": 8}), row=2, col=1)
        top = max((*val, *state["val_baselines"].values()))
    figure.update_xaxes(title_text="sequences seen", row=2, col=1)
    figure.update_yaxes(rangemode="tozero", row=1, col=1)
    # Set, not left to autorange: a run's single validation point was drawn on the top edge.
    figure.update_yaxes(range=[0, 1.1 * top or 1], tickformat=".0f", row=2, col=1)
    figure.update_layout(height=460, margin={"t": 40, "b": 10}, legend={"orientation": "h", "y": -0.2})
    return legible(figure)


def binned(points: list) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) pairs as at most LOSS_POINTS points, each the mean of a run of
    neighbours at its run's last x: the whole curve is resent every second."""
    x, y = np.array(points, float).T
    starts = np.arange(0, len(x), -(-len(x) // LOSS_POINTS))  # runs of 1 leave a short curve as it is
    counts = np.diff(np.append(starts, len(x)))
    return x[starts + counts - 1], np.add.reduceat(y, starts) / counts


def describe_learning(state: dict) -> str:
    """A sentence that says what `learning_curves(state)` shows, for screen readers."""
    words = ["Training loss and validation MSE against sequences seen"]
    for key, name in (("loss", "training loss"), ("val_mse", "validation MSE")):
        if len(state[key]) == 1:  # "from 43 to 43 after 0 sequences", of a fine-tuning run's start
            words.append(f"{name} {state[key][0][1]:.3g} after {state[key][0][0]:,} sequences")
        elif state[key]:
            words.append(f"{name} from {state[key][0][1]:.3g} to {state[key][-1][1]:.3g} "
                         f"after {state[key][-1][0]:,} sequences")
    words += [f"baseline {name} {score:.3g}" for name, score in state["val_baselines"].items() if state["val_mse"]]
    return "; ".join(words) + "."
