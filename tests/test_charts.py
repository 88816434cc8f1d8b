"""Charts that several pages draw: each line keeps the look that names its role."""

import numpy as np
import pytest
from conftest import TINY

from core import data
from core.checkpoints import load_checkpoint
from core.data import moving_mnist
from core.evaluation import evaluate
from core.media import CONTEXT_COLOUR, FORECAST_COLOUR
from core.training import TrainConfig, train
from ui.charts import (BASELINE_COLOURS, CHART_TEXT, DIGIT_COLOURS, LOSS_POINTS, MODEL_COLOURS, describe_bounces,
                       describe_curves, describe_learning, describe_paths, learning_curves, paths_chart,
                       per_frame_chart)
from ui.shared import SHIPPED


def test_baselines_keep_their_colours_beside_a_second_model():
    # Evaluate's "Compare with" drew the second model in the colour that
    # means "black frames" on Forecast and in Evaluate's one-model view.
    scores = evaluate(load_checkpoint(SHIPPED), moving_mnist("test", 4))
    curves = {name: score.per_frame["mse"] for name, score in scores.items()}
    one = per_frame_chart("MSE", curves, "lower")
    two = per_frame_chart("MSE", {"Shipped model": curves["model"], "Trained here: run 1": curves["model"] * 2,
                                  **{f"baseline: {name}": curves[name] for name in ("black frames", "repeat last frame")}},
                          "lower")
    look = lambda figure: {trace.name: (trace.line.color, trace.line.dash, trace.marker.symbol) for trace in figure.data}
    one, two = look(one), look(two)
    for name in ("black frames", "repeat last frame"):
        assert one[name] == two[f"baseline: {name}"] and one[name][1] == "dot"
    # In greyscale the grey and red dotted lines were one: their markers tell them apart, and from the models.
    markers = [look[2] for look in two.values()]
    assert len(set(markers)) == len(markers)
    models = [two["Shipped model"], two["Trained here: run 1"]]
    assert models[0] == one["model"] and models[0][1] == "solid"
    assert len({colour for colour, *_ in two.values()}) == 4  # four lines, four colours
    # Blue and teal alike at one width overlapped on a projector: the second is dashed, with square markers.
    assert models[1][1] not in ("solid", "dot") and models[1][2] != models[0][2]


def test_the_title_is_short_and_the_axis_says_which_way_is_better():
    # At 800 px a half-width column cut "MSE per predicted frame (lower is better)" to "(lower".
    figure = per_frame_chart("SSIM", {"model": [0.9, 0.8]}, "higher")
    assert figure.layout.title.text == "SSIM per predicted frame"
    assert figure.layout.yaxis.title.text == "SSIM (higher is better)"


def test_frames_ahead_are_whole_numbers():
    # Frames ahead count from 1, as the GIFs' +1: from 0, "useless from +N" was a frame off.
    assert list(per_frame_chart("MSE", {"model": [40.0, 50.0, 60.0]}, "lower").data[0].x) == [1, 2, 3]
    # A forecast scored on one or two frames got ticks at 0.5 and 1.5.
    one = per_frame_chart("MSE", {"model": [40.0]}, "lower").layout.xaxis
    assert one.tickvals == (1,) and one.range == (0.5, 1.5)  # a "0 frames ahead" tick read as a frame
    sixty = per_frame_chart("MSE", {"model": np.arange(60.0)}, "lower").layout.xaxis
    assert sixty.tickvals == (1, 10, 20, 30, 40, 50, 60) and sixty.range == (0.5, 60.5)
    # Streamlit's theme leaves no right margin: "60" was dropped and the last markers, 3 px from the edge, cut.
    chart = per_frame_chart("MSE", {"model": np.arange(60.0), "black frames": np.ones(60)}, "lower")
    assert chart.layout.margin.r >= 20 and all(trace.cliponaxis is False for trace in chart.data)
    assert per_frame_chart("MSE", {"model": np.arange(15.0)}, "lower").layout.xaxis.tickvals == (1, 10, 15)  # the last


def test_learning_curves_keep_the_loss_apart_from_the_mse_and_show_a_single_validation():
    # On one chart with two y axes the loss's line crossed the baselines'; a run's
    # only validation point was drawn on the top edge of its axis.
    _, progress = train(TrainConfig(minutes=None, epochs=1, epoch_sequences=16, batch_size=8, val_count=4,
                                    model_overrides=TINY, seed=0))
    state = progress.snapshot()
    figure = learning_curves(state)
    axes = {trace.name: trace.yaxis for trace in figure.data}
    assert axes == {"training loss": "y", "validation MSE": "y2", "baseline: black frames": "y2",
                    "baseline: repeat last frame": "y2"}
    baselines = [trace for trace in figure.data if trace.name.startswith("baseline: ")]
    assert "markers" in baselines[0].mode and baselines[0].marker.symbol != baselines[1].marker.symbol
    low, high = figure.layout.yaxis2.range
    values = [state["val_mse"][0][1], *state["val_baselines"].values()]
    assert low == 0 and max(values) < high <= 1.2 * max(values)
    assert figure.layout.xaxis.matches == "x2"  # one axis of sequences seen for both
    # In words, for a screen reader: where each line starts and ends.
    (_, loss), *_, (seen, last) = state["loss"]
    words = describe_learning(state)
    assert f"training loss from {loss:.3g} to {last:.3g} after {seen:,} sequences" in words
    assert f"baseline black frames {state['val_baselines']['black frames']:.3g}" in words
    # A fine-tuning run's first epoch: its one validation point is its start, at 0. The baselines
    # were drawn from 0 to 0, and the words said "from 43 to 43 after 0 sequences".
    starting = {**state, "val_mse": [(0, 43.0)]}
    assert {tuple(trace.x) for trace in learning_curves(starting).data if trace.name.startswith("baseline")} == {(0, seen)}
    assert "validation MSE 43 after 0 sequences" in describe_learning(starting)


def test_a_long_runs_loss_is_drawn_as_the_means_of_runs_of_batches():
    # Train redraws the chart every second: a 10-minute run's 2,500 losses were 68 KB a redraw.
    loss = [(4 * (step + 1), float(step % 7)) for step in range(2500)]
    figure = learning_curves({"loss": loss, "val_mse": [], "val_baselines": {}})
    seen, drawn = np.asarray(figure.data[0].x), np.asarray(figure.data[0].y)
    assert len(seen) <= LOSS_POINTS and seen[0] == 36 and seen[-1] == 10_000  # runs of 9, the last one shorter
    assert drawn[0] == pytest.approx(np.mean([value for _, value in loss[:9]]))
    assert drawn[-1] == pytest.approx(np.mean([value for _, value in loss[len(seen) * 9 - 9:]]))
    short = [(8, 0.7), (16, 0.6), (24, 0.65)]  # a short run's curve as logged
    assert np.array_equal(np.asarray(learning_curves({"loss": short, "val_mse": [], "val_baselines": {}}).data[0].y),
                          [0.7, 0.6, 0.65])


def test_per_frame_curves_in_words_give_each_line_its_first_and_last_frame():
    words = describe_curves("MSE", {"model": np.array([12.345, 40.0, 81.25]), "baseline: black frames": [170.0] * 3})
    assert words == "MSE of each of 3 predicted frames, first to last: model from 12.3 to 81.2; " \
                    "baseline: black frames from 170 to 170."


def test_paths_name_each_digit_by_place_and_class_and_mark_where_it_starts():
    # "digit 1" was the class on Dataset (a sequence of two 9s read "digit 9" twice)
    # and the place on Design, where it read as the numeral one.
    sequence = data.sequence("test", 0)
    figure = paths_chart(sequence)
    first, second = ("an 8" if label == 8 else f"a {label}" for label in sequence.labels[0])
    assert [trace.name for trace in figure.data] == [
        f"digit 1, {first} (context)", f"digit 1, {first} (future)",
        f"digit 2, {second} (context)", f"digit 2, {second} (future)", "digit 1 starts", "digit 2 starts"]
    context, start = figure.data[0], figure.data[4]
    centre = sequence.positions[0, 0, 0] + data.DIGIT_SIZE / 2
    assert (context.x[0], context.y[0]) == (centre[1], centre[0]) == (start.x[0], start.y[0])
    # Out of the legend: as the context's first marker the star stood there for both digits' context.
    assert start.marker.symbol == "star" and start.showlegend is False and context.marker.symbol == "circle"
    assert figure.layout.title.text.endswith("(★ start)")  # said where the legend does not
    assert [trace.showlegend for trace in figure.data[:4]] == [None] * 4
    # One colour and marker per digit, for both its parts: under deuteranopia two digits'
    # dotted parts, each in the theme's next colour, looked the same.
    looks = [(trace.line.color, trace.marker.symbol) for trace in figure.data[:4]]
    assert looks[0] == looks[1] != looks[2] == looks[3] and looks[0][1] != looks[2][1]
    # A designed sequence knows its classes only when told (Design's legend read "a -1").
    digits, _ = data.mnist_digits("test")
    start, angle, speed = np.array([[0.2, 0.2], [0.8, 0.8]]), np.array([0.0, 90.0]), np.ones(2)
    named = paths_chart(data.design(digits[:2], start, angle, speed, 12, labels=np.array([3, 8])))
    assert [trace.name for trace in named.data][:4:2] == ["digit 1, a 3 (context)", "digit 2, an 8 (context)"]
    unnamed = paths_chart(data.design(digits[:2], start, angle, speed, 12))
    assert [trace.name for trace in unnamed.data][:4:2] == ["digit 1 (context)", "digit 2 (context)"]


def test_paths_in_words_say_where_each_digit_starts_and_ends():
    sequence = data.sequence("test", 0)
    centre = sequence.positions[0] + data.DIGIT_SIZE / 2
    words = describe_paths(sequence)
    label = sequence.labels[0, 1]
    assert words.startswith("Paths of the digits' centres on the 64x64 canvas over 20 frames: digit 1")
    assert (f"digit 2, {'an' if label == 8 else 'a'} {label} from row {centre[0, 1, 0]:.0f}, column {centre[0, 1, 1]:.0f} "
            f"to row {centre[-1, 1, 0]:.0f}, column {centre[-1, 1, 1]:.0f}") in words


def test_digit_colours_are_not_the_context_and_target_colours():
    # Beside a GIF framed in blue (context) and orange (target), digits drawn in blue
    # and orange read as context and target. Lines need 3:1 against white.
    frames = [CONTEXT_COLOUR, FORECAST_COLOUR]
    for colour in DIGIT_COLOURS:
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        assert min(sum((a - b) ** 2 for a, b in zip(rgb, frame)) ** 0.5 for frame in frames) > 100
        assert _contrast(colour) >= 3


def _contrast(hex_colour: str) -> float:
    # WCAG 2 contrast ratio against white.
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 1.05 / (0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2] + 0.05)


def test_every_line_colour_stands_out_against_white():
    # Black frames' light blue (1.8:1) was faint; graphics need 3:1.
    for colour in (*BASELINE_COLOURS.values(), *MODEL_COLOURS, *DIGIT_COLOURS):
        assert _contrast(colour) >= 3, colour


def test_chart_text_is_dark_enough_for_small_text():
    # Streamlit's chart grey, #808495, is 3.7:1 on white; small text needs 4.5:1.
    assert _contrast("#808495") < 4.5 <= _contrast(CHART_TEXT)
    for figure in (per_frame_chart("MSE", {"model": [40.0, 50.0]}, "lower"), paths_chart(data.sequence("test", 0))):
        assert figure.layout.xaxis.tickfont.color == figure.layout.yaxis.title.font.color == CHART_TEXT
        assert figure.layout.title.font.color == figure.layout.legend.font.color == CHART_TEXT
        assert figure.layout.dragmode is False  # a swipe on a phone scrolls the page instead of zooming


def test_a_zero_is_named_and_a_digit_of_unknown_class_is_not():
    # A 0 is a class like any other; -1 is a drawn digit whose class was not given.
    sequence = data.sequence("test", 0)
    drawn = data.Sequences(sequence.frames, np.array([[0, -1]]), sequence.positions, sequence.bounces)
    assert [trace.name for trace in paths_chart(drawn).data[:4:2]] == ["digit 1, a 0 (context)", "digit 2 (context)"]
    assert describe_paths(drawn).startswith("Paths of the digits' centres on the 64x64 canvas over 20 frames: digit 1, "
                                            "a 0 from row")


def test_bounces_are_named_by_digit_wall_and_frame_as_the_strips_number_them():
    digits = np.full((3, 28, 28), 255, np.uint8)
    # Down at 1.5 steps from 0.9 of the range: past the bottom at once, the top seven frames on, the
    # bottom again seven after; the second stands still; the third, of no known class, starts at the
    # left edge moving left.
    made = data.design(digits, [[0.9, 0.5], [0.5, 0.5], [0.5, 0.0]], [90, 0, 180], [1.5, 0, 1], 20, [8, 1, -1])
    assert describe_bounces(made) == ("Digit 1, an 8, bounces off the bottom wall in frame 1, the top wall in frame 8 "
                                      "and the bottom wall in frame +5. Digit 3 bounces off the left wall in frame 1 "
                                      "and the right wall in frame +2.")
    assert describe_bounces(made, context=15).endswith("the right wall in frame 12.")
    # Into a corner: one bounce, off two walls in one frame. Up the left wall from it: none.
    corner = data.design(digits[:2], [[0.95, 0.95], [0.5, 0.0]], [45, 270], [1, 1], 20, [7, 4])
    assert describe_bounces(corner).startswith("Digit 1, a 7, bounces off the bottom right corner in frame 1 and the "
                                               "top left corner in frame +6. Digit 2, a 4, bounces off the top wall in ")
    assert "left" not in describe_bounces(corner).split("Digit 2")[1]
    # Two digits of one class are told apart by where they start.
    twins = data.design(digits[:2], [[0.0, 0.0], [0.5, 0.5]], [0, 180], [1, 1], 20, [8, 8])
    assert describe_bounces(twins).startswith("Digit 1, an 8, which starts at the top left, bounces off the right wall ")
    assert "Digit 2, an 8, which starts in the centre, bounces off the left wall " in describe_bounces(twins)
    # Starting in one third of the box the corners reach, they are told apart in pixels.
    close = data.design(digits[:2], [[0.45, 0.45], [0.5, 0.5]], [90, 0], [1, 1], 20, [8, 8])
    assert describe_bounces(close).startswith("Digit 1, an 8, which starts at row 33, column 30, bounces off the bottom ")
    assert "Digit 2, an 8, which starts at row 32, column 35, bounces" in describe_bounces(close)
    unknown = data.design(digits[:2], [[0.0, 0.0], [0.5, 0.5]], [0, 180], [1, 1], 20)  # classes not given
    assert describe_bounces(unknown).startswith("Digit 1, which starts at the top left, bounces off the right wall ")
    still = data.design(digits[:1], [[0.5, 0.5]], [0], [0], 20, [3])
    assert describe_bounces(still) == "No digit bounces in these frames."
