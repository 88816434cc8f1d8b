"""Charts that several pages draw: each line keeps the look that names its role."""

import numpy as np

from core.data import moving_mnist
from core.evaluation import evaluate
from core.model import load_checkpoint
from ui.charts import per_frame_chart
from ui.shared import SHIPPED


def test_baselines_keep_their_colours_beside_a_second_model():
    # Evaluate's "Compare with" drew the second model in the light blue that
    # means "black frames" on Forecast and in Evaluate's one-model view.
    scores = evaluate(load_checkpoint(SHIPPED), moving_mnist("test", 4))
    curves = {name: score.per_frame["mse"] for name, score in scores.items()}
    one = per_frame_chart("MSE", curves, "lower")
    two = per_frame_chart("MSE", {"Shipped model": curves["model"], "Trained here: run 1": curves["model"] * 2,
                                  **{f"baseline: {name}": curves[name] for name in ("black frames", "repeat last frame")}},
                          "lower")
    look = lambda figure: {trace.name: (trace.line.color, trace.line.dash) for trace in figure.data}
    one, two = look(one), look(two)
    for name in ("black frames", "repeat last frame"):
        assert one[name] == two[f"baseline: {name}"] and one[name][1] == "dot"
    models = [two["Shipped model"], two["Trained here: run 1"]]
    assert models[0] == one["model"] and models[1][1] == "solid"
    assert len({colour for colour, _ in two.values()}) == 4  # four lines, four colours


def test_the_title_is_short_and_the_axis_says_which_way_is_better():
    # At 800 px a half-width column cut "MSE per predicted frame (lower is better)" to "(lower".
    figure = per_frame_chart("SSIM", {"model": [0.9, 0.8]}, "higher")
    assert figure.layout.title.text == "SSIM per predicted frame"
    assert figure.layout.yaxis.title.text == "SSIM (higher is better)"


def test_frames_ahead_are_whole_numbers():
    # A forecast scored on one or two frames got ticks at 0.5 and 1.5.
    assert per_frame_chart("MSE", {"model": [40.0]}, "lower").layout.xaxis.dtick == 1
    assert per_frame_chart("MSE", {"model": np.arange(60.0)}, "lower").layout.xaxis.dtick is None  # Plotly spaces 60
