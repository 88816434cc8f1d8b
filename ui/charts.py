"""Plotly charts that more than one page draws."""

import itertools

import numpy as np
import plotly.graph_objects as go

from core import data


# Streamlit's own palette, fixed per role: with a second model, the default
# order drew it in the light blue that means "black frames" everywhere else.
BASELINE_COLOURS = {"black frames": "#83c9ff", "repeat last frame": "#ff2b2b"}
MODEL_COLOURS = ("#0068c9", "#29b09d", "#6d3fc0", "#ff8700")


def per_frame_chart(metric: str, curves: dict, better: str, mark_frame: int | None = None) -> go.Figure:
    """Lines of a metric over the frames ahead, one per model or baseline.

    Args:
        metric: the metric's name, for the title and axis.
        curves: {name: (H,) values}; a baseline's name, bare or after
            "baseline: ", draws it dotted in its own colour, any other name a
            model, solid.
        better: "lower" or "higher".
        mark_frame: a frame (1-based) to mark with a vertical line, or None.
    """
    figure = go.Figure()
    models = itertools.cycle(MODEL_COLOURS)
    for name, values in curves.items():
        baseline = BASELINE_COLOURS.get(name.removeprefix("baseline: "))
        figure.add_trace(go.Scatter(
            x=np.arange(1, len(values) + 1), y=values, mode="lines+markers", name=name,
            line={"width": 2 if baseline else 4, "dash": "dot" if baseline else "solid",
                  "color": baseline or next(models)},
        ))
    if mark_frame is not None:
        figure.add_vline(x=mark_frame, line_dash="dash", line_color="gray")
    # The legend goes under the plot: beside it, long model names took half of a half-width column.
    # Which way is better goes on the axis: in the title it was cut off in a half-width column at 800 px.
    # Whole frames on the axis: one or two points got ticks at 0.5 and 1.5.
    few = max((len(values) for values in curves.values()), default=0) <= 12
    figure.update_layout(title=f"{metric} per predicted frame", xaxis_title="frames ahead",
                         xaxis_dtick=1 if few else None, yaxis_title=f"{metric} ({better} is better)", height=420,
                         margin={"t": 50, "b": 10},
                         legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0})
    return figure


def paths_chart(sequence: data.Sequences, names: list[str]) -> go.Figure:
    """Where each digit's centre goes on the 64x64 canvas: solid over the context, dotted after.

    Args:
        sequence: one generated sequence (its digits' positions are known).
        names: a legend name for each digit.
    """
    figure = go.Figure()
    centre = sequence.positions[0] + data.DIGIT_SIZE / 2  # (T, D, 2): row, column
    context = data.CONTEXT_FRAMES
    for d, name in enumerate(names):
        for part, frames, dash in (("context", slice(0, context), "solid"), ("target", slice(context - 1, None), "dot")):
            figure.add_trace(go.Scatter(x=centre[frames, d, 1], y=centre[frames, d, 0], mode="lines+markers",
                                        name=f"{name} ({part})", line={"dash": dash, "width": 3}))
    # "domain": a narrow column shrinks the square canvas rather than widening its
    # row range (to -50..100 at 800 px, with the paths a squiggle in the middle);
    # the legend goes under it, where it takes none of a narrow column's width.
    figure.update_layout(
        title="Paths of the digits' centres", height=460, margin={"t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
        xaxis={"range": [0, 64], "title": "column (px)", "constrain": "domain"},
        yaxis={"range": [64, 0], "title": "row (px)", "scaleanchor": "x", "constrain": "domain"},
    )
    return figure
