"""GIFs and frame strips: decodable, upscaled, safe with float frames."""

import io

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from core import media
from core.data import moving_mnist
from core.errors import InputError


def test_to_uint8_is_safe_for_floats():
    frames = np.array([[-1.0, 0.0, 0.5, 1.0, 7.0, np.nan]])
    assert media.to_uint8(frames).tolist() == [[0, 0, 128, 255, 255, 0]]


def test_sequence_gif_loops_all_frames_upscaled():
    frames = moving_mnist("test", 1)[0]
    gif = iio.imread(media.sequence_gif(frames, "truth", context=10, scale=4), index=None)
    assert gif.shape[0] == 20
    assert gif.shape[2] >= 4 * 64  # at least 4x, so it can be seen
    # Nearest neighbour: each source pixel becomes a 4x4 block of one value
    # (GIF's 256-colour palette moves grey levels by at most 16 of 255).
    top = media.BANNER + media.BORDER
    block = gif[5, top : top + 256, media.BORDER : media.BORDER + 256, 0].astype(int)
    assert (block[::4, ::4] == block[3::4, 3::4]).all()
    assert np.abs(block[::4, ::4] - frames[5]).max() <= 16


def test_a_gifs_still_is_its_last_frame_or_the_one_asked_for():
    # For visitors who turn animations off: the furthest frame, as the GIF shows it.
    gif = media.sequence_gif(moving_mnist("test", 1)[0], "truth", context=10, scale=2)
    frames = iio.imread(gif, index=None)
    still = iio.imread(media.gif_still(gif))
    assert still.shape == frames[-1].shape and np.array_equal(still, frames[-1])
    assert not np.array_equal(still, frames[-2])
    # Or the step a slider picks (Inside): the last frame beside a slider at context 10 showed two moments.
    assert np.array_equal(iio.imread(media.gif_still(gif, 9)), frames[9])
    with pytest.raises(InputError, match="^frame must be from -20 to 19; received 20$"):
        media.gif_still(gif, 20)
    with pytest.raises(InputError, match="^gif must be a GIF's bytes, as encode_gif gives them"):
        media.gif_still(b"junk")


def test_gifs_refuse_what_they_cannot_show_in_one_line():
    # Each was a NumPy traceback (axes don't match, broadcast, IndexError), a
    # ZeroDivisionError, or for 0-255 floats a GIF of pure black and white.
    frames = moving_mnist("test", 2)
    with pytest.raises(InputError, match=r"frames must be one sequence \(T, 64, 64\); received 2: pick one"):
        media.sequence_gif(frames)
    with pytest.raises(InputError, match=r"frames has a channel axis .*; drop it, e\.g\. frames\[\.\.\., 0\]$"):
        media.sequence_gif(frames[0][..., None])
    with pytest.raises(InputError, match=r"frames: floats must lie in \[0, 1\]"):
        media.sequence_gif(frames[0].astype(np.float32))
    with pytest.raises(InputError, match="frames is empty"):
        media.sequence_gif(frames[0, :0])
    # 0 divided by zero, 0.001 overflowed Pillow, NumPy's 4 was refused, a title of None failed in Pillow.
    # 60 was stored as 0.01 s a frame, which browsers play at 0.1 s: slower than 30.
    for fps, message in ((0, "fps must be from 0.01 to 50 "), (0.001, "received 0.001"), (60, "received 60$"),
                         ("4", "fps must be a number; received '4'")):
        with pytest.raises(InputError, match=message):
            media.sequence_gif(frames[0], fps=fps)
    assert Image.open(io.BytesIO(media.sequence_gif(frames[0], fps=np.float32(4)))).info["duration"] == 250
    assert Image.open(io.BytesIO(media.sequence_gif(frames[0], fps=50))).info["duration"] == 20
    with pytest.raises(InputError, match="^frames is empty: a GIF needs at least one frame$"):
        media.encode_gif(np.zeros((0, 64, 64), np.uint8))
    with pytest.raises(InputError, match="title must be text; received None"):
        media.sequence_gif(frames[0], title=None)
    with pytest.raises(InputError, match="scale must be a whole number; received True"):  # was taken as 1
        media.sequence_gif(frames[0], scale=True)
    with pytest.raises(InputError, match="context must be a whole number from 0 to 20; received -1"):
        media.sequence_gif(frames[0], context=-1)
    with pytest.raises(InputError, match="scale must be a whole number from 1 to 16; received 0"):
        media.sequence_gif(frames[0], scale=0)
    with pytest.raises(InputError, match="context must be a numpy array; received int"):
        media.comparison_gif(10, frames[0, 10:], frames[0, 10:])
    with pytest.raises(InputError, match="truth must hold 64x64 frames; received 32x32"):
        media.comparison_gif(frames[0, :10], frames[0, 10:, :32, :32], frames[0, 10:])
    # A one-frame forecast is still one sequence.
    assert iio.imread(media.comparison_gif(frames[0, :10], frames[0, 10:11], frames[0, 10:11]), index=None).shape[0] == 11


def test_frame_labels_are_drawn_dark_enough_to_read():
    # In the frames' own colours "future +4" was 2.5:1 on white, "context 3/10" 3.8:1.
    frames = moving_mnist("test", 1)[0]
    shown = media.panel(frames, "truth", 10)
    banners = {tuple(pixel) for pixel in shown[2, : media.BANNER].reshape(-1, 3)}, \
        {tuple(pixel) for pixel in shown[12, : media.BANNER].reshape(-1, 3)}
    assert media.CONTEXT_TEXT in banners[0] and media.FORECAST_TEXT in banners[1]
    assert media.CONTEXT_COLOUR not in banners[0] and media.FORECAST_COLOUR not in banners[1]


def test_the_error_panel_colours_the_error_itself_and_gifs_play_at_their_fps():
    context = moving_mnist("test", 1)[0, :10]
    truth, prediction = np.zeros((2, 64, 64), np.uint8), np.full((2, 64, 64), 0.5, np.float32)
    error = media.comparison_panels(context, truth, prediction)["absolute error"]
    top, side = media.BANNER + media.BORDER, media.BORDER
    # 0.5 of white predicted over black: the colour of 128/255 on the error scale, not of a saturated error.
    expected = media.colourise(np.array([128 / 255]), media.ERROR_COLOURS)[0]
    assert np.array_equal(error[10, top + 10, side + 10], expected)
    assert not np.array_equal(expected, media.colourise(np.array([1.0]), media.ERROR_COLOURS)[0])
    for fps, duration in ((4, 250), (2, 500)):
        assert Image.open(io.BytesIO(media.sequence_gif(context, fps=fps))).info["duration"] == duration


def test_comparison_gif_has_three_panels_in_step():
    frames = moving_mnist("test", 1)[0]
    prediction = frames[10:] / 255.0 * 0.5
    gif = iio.imread(media.comparison_gif(frames[:10], frames[10:], prediction), index=None)
    single = media.comparison_panels(frames[:10], frames[10:], prediction)
    assert list(single) == ["ground truth", "prediction", "absolute error"]
    width = single["prediction"].shape[2]
    assert gif.shape == (20, single["prediction"].shape[1], 3 * width + 2 * media.GAP, 3)
    # Context frames are framed blue, forecast frames orange.
    assert tuple(single["prediction"][0, media.BANNER, 0]) == media.CONTEXT_COLOUR
    assert tuple(single["prediction"][12, media.BANNER, 0]) == media.FORECAST_COLOUR
    # Each panel shows its own frames, pixel for pixel (one in every 4x4 block).
    top, side = media.BANNER + media.BORDER, media.BORDER
    shown = {name: frames[:, top : top + 256 : 4, side : side + 256 : 4] for name, frames in single.items()}
    context, truth, predicted = frames[:10], frames[10:], media.to_uint8(prediction)
    assert np.array_equal(shown["ground truth"][..., 0], frames)
    assert np.array_equal(shown["prediction"][:10, ..., 0], context)
    assert np.array_equal(shown["prediction"][10:, ..., 0], predicted)
    error = np.abs(truth.astype(np.float32) - predicted) / 255
    assert np.array_equal(shown["absolute error"][10:], media.colourise(error, media.ERROR_COLOURS))
    assert np.array_equal(shown["absolute error"][:10], media.colourise(np.zeros_like(error), media.ERROR_COLOURS))


def test_strips_and_charts_number_frames_as_the_gifs_name_them():
    # Strips counted from 0 ("10" the first forecast) beside GIFs saying "context 10/10", "future +1".
    assert [media.frame_number(t, 10) for t in (0, 9, 10, 19)] == ["1", "10", "+1", "+10"]
    assert [media.frame_label(t, 10) for t in (0, 9, 10, 19)] == ["context 1/10", "context 10/10", "future +1", "future +10"]
    assert [media.frame_number(t, None) for t in (0, 9, 10)] == ["1", "10", "11"]


def test_a_panel_of_predictions_names_each_by_the_frame_it_predicts():
    # Inside the ConvLSTM: the frame predicted on reading "context 10/10" is "future +1",
    # but it was labelled and framed as the context frame read.
    frames = np.random.default_rng(0).random((20, 64, 64))
    read, predicted = media.panel(frames, "same title", 10), media.panel(frames, "same title", 10, first=1)
    assert (predicted[9, : media.BANNER] == read[10, : media.BANNER]).all()
    assert (predicted[9, : media.BANNER] != read[9, : media.BANNER]).any()
    assert tuple(predicted[9, media.BANNER, 0]) == media.FORECAST_COLOUR
    assert tuple(predicted[8, media.BANNER, 0]) == media.CONTEXT_COLOUR


def test_forecast_without_truth_and_past_the_data():
    frames = moving_mnist("test", 1)[0]
    prediction = np.random.default_rng(0).random((25, 64, 64)).astype(np.float32)
    assert list(media.comparison_panels(frames[:10], None, prediction)) == ["prediction"]
    gif = iio.imread(media.comparison_gif(frames[:10], frames[10:], prediction), index=None)
    assert gif.shape[0] == 35
    # The Forecast page offers each panel alone too: they must stay in step.
    panels = media.comparison_panels(frames[:10], frames[10:], prediction)
    assert {len(frames) for frames in panels.values()} == {35}
    top, side = media.BANNER + media.BORDER, media.BORDER
    past = (slice(25, 35), slice(top, top + 256), slice(side, side + 256))
    # During the context the prediction panel shows the true frames, titled as what the model was given:
    # under "prediction" they read as ten perfect predictions.
    titled = {title: media.panel(frames[:10], title, 10)[9, : media.BANNER] for title in ("prediction", "model input")}
    assert (panels["prediction"][9, : media.BANNER] == titled["model input"]).all()
    assert (titled["prediction"] != titled["model input"]).any()
    assert (panels["prediction"][10, : media.BANNER] == media.panel(prediction[:1], "prediction", 10, first=10)[0, : media.BANNER]).all()
    error, truth = panels["absolute error"], panels["ground truth"]
    assert (error[(slice(10, 25),) + past[1:]] != error[0, past[1], past[2]]).any()
    # Past the data, both say "no data" the same way: black there read as a perfect forecast in the error.
    assert (truth[past] == error[past]).all() and (truth[past] == truth[34, past[1], past[2]]).all()
    assert (error[past] != error[0, past[1], past[2]]).any()  # not the black of a context frame
    assert len(np.unique(truth[25, past[1], past[2]])) > 2  # stripes and words, not a flat grey
    # From the first frame past the truth's ten on, and not before.
    assert (truth[20, past[1], past[2]] == truth[25, past[1], past[2]]).all()
    assert (truth[19, past[1], past[2]] != truth[25, past[1], past[2]]).any()
    # Without the error panel (Design, Train), the other two exactly as they are beside it.
    two = media.comparison_panels(frames[:10], frames[10:], prediction, error=False)
    assert list(two) == ["ground truth", "prediction"]
    assert all(np.array_equal(two[name], panels[name]) for name in two)


def test_colour_bar_runs_from_low_to_high():
    bar = media.colour_bar(("viridis", 0.0, 1.0), width=200)
    assert bar.shape == (34, 200, 3) and bar.dtype == np.uint8
    ends = media.colourise(np.array([0.0, 1.0]), ("viridis", 0.0, 1.0))
    assert np.array_equal(bar[0, 0], ends[0]) and np.array_equal(bar[0, -1], ends[1])


def test_the_concept_diagram_names_its_frames_as_the_gifs_do(monkeypatch):
    from matplotlib.axes import Axes

    titles = []
    monkeypatch.setattr(Axes, "set_title", lambda axes, title, **style: titles.append(title))
    frames = moving_mnist("test", 1)[0]
    media.concept_diagram(frames[:10], frames[10:])
    assert titles == [media.frame_label(t, 10) for t in range(6, 14)]  # context 7/10 ... future +4
    titles.clear()
    stacked = iio.imread(media.concept_diagram(frames[:10], frames[10:], shown=2, stacked=True))
    assert titles == [media.frame_label(t, 10) for t in range(8, 12)]  # context 9/10 ... future +2
    assert stacked.shape[0] > stacked.shape[1]  # a phone's picture: taller than wide
    for shown in (0, 2):  # an IndexError, or frames counted from the end
        with pytest.raises(InputError, match=f"^shown must be from 1 to 1 .*; received {shown}$"):
            media.concept_diagram(frames[:10], frames[10:11], shown=shown, stacked=True)


def test_frame_strip_refuses_what_it_would_draw_wrong():
    frames = moving_mnist("test", 2)
    # Floats of 0-255 were drawn as two values; the rest failed inside NumPy, or as an AttributeError.
    for rows, options, message in [
            ({"truth": frames[0] * 1.0}, {}, r"rows\['truth'\]: floats must lie in \[0, 1\]; found 0 to 255"),
            ({"truth": frames}, {}, r"rows\['truth'\] must be one sequence's frames, \(T, S, S\); received shape "
                                    r"\(2, 20, 64, 64\): pick one, e\.g\. 'truth': frames\[0\]$"),
            (frames[0], {}, r"rows must be a dict of \{label: \(T, S, S\) frames\}; received ndarray$"),
            ({}, {}, r"rows must be a dict of \{label: \(T, S, S\) frames\}; received an empty dict$"),
            ({"a": frames[0], "b": frames[0, :, :28, :28]}, {}, "rows must hold frames of one size"),
            ({"truth": frames[0]}, {"per_line": 0}, "per_line must be at least 1; received 0$"),
            # From a notebook review: the advice for a channel axis left (S, S, 1) frames; a negative
            # start failed inside NumPy and a misspelt one was ignored; a negative context numbered from +3;
            # dpi 0 failed inside matplotlib.
            ({"truth": frames[0][..., None]}, {}, r"received shape \(20, 64, 64, 1\): drop the channel axis, "
                                                  r"e\.g\. 'truth': frames\[\.\.\., 0\]$"),
            ({"truth": frames[0]}, {"starts": {"truth": -3}}, r"starts\['truth'\] must not be negative; received -3$"),
            ({"truth": frames[0]}, {"starts": {"prediction": 3}}, r"starts must be a dict of \{row label: first "
                                                                  r"column\} for rows \['truth'\]; received"),
            ({"truth": frames[0]}, {"context": -2}, "context must not be negative; received -2$"),
            ({"truth": frames[0]}, {"dpi": 0}, "dpi must be at least 1; received 0$")]:
        with pytest.raises(InputError, match=message):
            media.frame_strip(rows, **options)
    with pytest.raises(InputError, match="dpi must be at least 1; received 0$"):
        media.concept_diagram(frames[0, :10], frames[0, 10:], dpi=0)


def test_frame_strip_png():
    frames = moving_mnist("test", 1)[0]
    png = media.frame_strip({"truth": frames, "forecast": frames[10:]}, context=10)
    image = iio.imread(io.BytesIO(png))
    assert image.shape[1] > 1000 and png[:4] == b"\x89PNG"
    # A palette PNG, white kept white: in full colour it was 2.3 times as large, for a class downloading one at every pick.
    assert Image.open(io.BytesIO(png)).mode == "P" and len(png) < 16_000
    colours = {tuple(colour) for colour in np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)}
    assert {media.CONTEXT_TEXT, media.FORECAST_TEXT, (0, 0, 0), (255, 255, 255)} <= colours, len(colours)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last + 1) of each run of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def test_frame_strip_marks_the_walls_a_digit_bounces_off_on_the_first_rows_frames():
    frames = np.zeros((4, 64, 64), np.uint8)  # black: a frame is a dark box, a wall's bar the only colour in it
    rows, placed = {"truth": frames, "prediction": frames[2:]}, {"context": 2, "per_line": 4}
    read = lambda png: np.asarray(iio.imread(io.BytesIO(png)))[..., :3].astype(int)
    plain = read(media.frame_strip(rows, **placed))
    marked = read(media.frame_strip(rows, walls={1: ["left"], 3: ("top", "right", "right")}, **placed))
    dark = plain.sum(-1) < 100
    (top, bottom), (low, high) = _runs(dark.sum(1) > 100)  # the truth's row, the prediction's
    wall = np.abs(marked - media.WALL_OPACITY * np.array(media.WALL_COLOUR)).sum(-1) < 40  # seen through, on black
    assert not wall[low:high].any() and not (wall & ~dark).any()  # on the first row only, inside its frames
    found = []
    for left, right in _runs(dark[top:bottom].mean(0) > 0.9):  # not the row's dark label beside them
        box = wall[top:bottom, left:right]
        edges = {"top": box[:2].mean(), "bottom": box[-2:].mean(), "left": box[:, :2].mean(), "right": box[:, -2:].mean()}
        found.append(sorted(side for side, share in edges.items() if share > 0.95))
        assert not box[box.shape[0] // 4 : -box.shape[0] // 4, box.shape[1] // 4 : -box.shape[1] // 4].any()
    assert found == [[], ["left"], [], ["right", "top"]]
    # A mark past the first row's frames is left out, not drawn on the next row's; a wall not named so is refused.
    longer = {"truth": frames, "prediction": np.zeros((6, 64, 64), np.uint8)}
    placed = {"context": 2, "per_line": 8, "starts": {"truth": 0, "prediction": 2}}
    assert (read(media.frame_strip(longer, walls={6: ["top"]}, **placed)) == read(media.frame_strip(longer, **placed))).all()
    for walls in ({1: ["up"]}, {1: "top"}, {-1: ["top"]}, {1.5: ["top"]}):
        with pytest.raises(InputError, match="^walls must be {frame from 0: walls among top, bottom, left, right}"):
            media.frame_strip(rows, walls=walls, **placed)


def test_a_strip_of_20_frames_a_line_draws_its_bars_twice_as_deep():
    # Shown at a page's width, its frames are half as wide as at 10 a line: a 3-pixel bar was 1-2 px on a projector.
    frames = np.zeros((20, 64, 64), np.uint8)
    depth = {}
    for per_line in (10, 20):
        image = np.asarray(iio.imread(io.BytesIO(media.frame_strip({"truth": frames}, per_line=per_line,
                                                                    walls={0: ["left"]}))))[..., :3].astype(int)
        wall = np.abs(image - media.WALL_OPACITY * np.array(media.WALL_COLOUR)).sum(-1) < 40
        depth[per_line] = wall.sum(1).max()  # the bar's pixels across a row of the frame
    assert depth[20] == pytest.approx(2 * depth[10], abs=1)


def test_gifs_mark_the_wall_a_digit_bounces_off_on_the_ground_truth_alone():
    frames = np.zeros((4, 64, 64), np.uint8)
    walls = {1: ["left"], 3: ["top", "bottom", "left"]}  # counted from the first context frame, as the strip counts
    panels = media.comparison_panels(frames[:2], frames[2:], frames[2:], scale=4, walls=walls)
    on_black = np.round(media.WALL_OPACITY * np.array(media.WALL_COLOUR))  # the bar, seen through, over the frame
    marked = {name: (frames == on_black).all(-1)[:, media.BANNER + media.BORDER : -media.BORDER,
                                                 media.BORDER : -media.BORDER] for name, frames in panels.items()}
    assert not marked["prediction"].any() and not marked["absolute error"].any()
    truth, depth = marked["ground truth"], 3 * 4  # 3 of the 64 pixels, scaled 4 times
    assert truth[1, :, :depth].all() and not truth[1, :, depth:].any()
    # Two digits at three walls: corners blended once, as the bars' length is (not twice, a brighter square).
    assert truth[3, :depth].all() and truth[3, -depth:].all() and truth[3, :, :depth].all()
    assert not truth[3, depth:-depth, depth:].any()
    assert not truth[[0, 2]].any()
    # Over the border too, and through it: a white stroke on the wall stays lighter than black under the bar.
    border = panels["ground truth"][1, media.BANNER + 50, 0]
    assert np.abs(border - (media.WALL_OPACITY * np.array(media.WALL_COLOUR) + 0.2 * np.array(media.CONTEXT_COLOUR))).max() <= 1
    white = frames.copy()
    white[1, :, 0] = 255
    lit = media.panel(white, "x", 2, walls=walls)[1, media.BANNER + 50, media.BORDER]
    assert (lit > on_black + 40).all() and lit[2] == 255
    # A panel that starts later in the sequence counts its walls from the sequence's start too.
    later = (media.panel(frames[2:], "future", 2, first=2, walls=walls) == on_black).all(-1)
    top = media.BANNER + media.BORDER
    assert not later[0].any() and later[1, top : top + depth, media.BORDER : -media.BORDER].all()
    # Dataset's GIF of one sequence alike (a GIF's palette moves the colour a little).
    gif = iio.imread(media.sequence_gif(frames, context=2, walls=walls), index=None)[..., :3].astype(int)
    near = np.abs(gif - on_black).sum(-1) < 40
    assert [bool(near[t].any()) for t in range(4)] == [False, True, False, True]
    with pytest.raises(InputError, match="^walls must be"):
        media.sequence_gif(frames, walls={0: ["up"]})


def test_frame_strip_places_a_forecast_that_runs_past_the_truth():
    frames = moving_mnist("test", 1)[0]
    forecast = np.concatenate([frames[10:], frames[10:]])  # 20 predicted frames, only 10 true ones
    aligned = iio.imread(io.BytesIO(media.frame_strip({"truth": frames, "forecast": forecast}, context=10)))
    placed = iio.imread(io.BytesIO(media.frame_strip(
        {"truth": frames, "forecast": forecast}, context=10, starts={"truth": 0, "forecast": 10}, per_line=30)))
    # Right-aligned, both rows fit in 20 columns; placed, the forecast ends at column 30.
    assert placed.shape[1] == pytest.approx(aligned.shape[1] * (0.75 * 30 + 0.9) / (0.75 * 20 + 0.9), rel=0.02)


def test_numbered_grid_puts_each_picture_under_its_number():
    digits = np.zeros((7, 28, 28), np.uint8)
    digits[3] = 255
    grid = media.numbered_grid(digits, columns=5, scale=2)
    rows, columns = 2, 5
    cell_height, cell_width = grid.shape[0] // rows, grid.shape[1] // columns
    picture = lambda i: grid[(i // columns + 1) * cell_height - 4 - 56 : (i // columns + 1) * cell_height - 4,
                             (i % columns) * cell_width : (i % columns) * cell_width + 56]
    number = lambda i: grid[(i // columns) * cell_height : (i // columns + 1) * cell_height - 4 - 56,
                            (i % columns) * cell_width : (i % columns) * cell_width + 56]
    assert (picture(3) == 255).all() and (picture(2) == 0).all() and (picture(6) == 0).all()
    assert all((number(i) < 128).any() for i in range(7))  # a dark number over every picture
    assert (picture(7) == 255).all() and (number(7) == 255).all()  # past the last picture: blank
    # 0 columns was a ZeroDivisionError, a batch of pictures a TypeError from Pillow.
    for call, message in ((lambda: media.numbered_grid(digits, columns=0), r"columns must be at least 1; received 0"),
                          (lambda: media.numbered_grid(digits[None]), r"images must be \(N, S, S\) pictures; received "
                                                                      r"shape \(1, 7, 28, 28\)")):
        with pytest.raises(InputError, match=f"^{message}$"):
            call()


def test_a_line_of_a_frame_strip_holds_only_the_rows_with_frames_on_it():
    # A forecast's first line, the context, had an empty "prediction" row.
    frames = moving_mnist("test", 1)[0]
    height = lambda rows, **placed: iio.imread(io.BytesIO(media.frame_strip(rows, context=10, per_line=10, **placed))).shape[0]
    one_row, two_rows = height({"truth": frames}), height({"truth": frames, "copy": frames})
    forecast = height({"truth": frames, "prediction": frames[10:]}, starts={"truth": 0, "prediction": 10})
    assert one_row < forecast < two_rows and forecast == pytest.approx((one_row + two_rows) / 2, abs=3)


def test_a_long_frame_strip_goes_on_in_lines_of_20():
    frames = moving_mnist("test", 1)[0]
    one = iio.imread(io.BytesIO(media.frame_strip({"truth": frames}, context=10)))
    long = np.concatenate([frames, frames, frames[:10]])  # 50 frames: lines of 20, 20 and 10
    three = iio.imread(io.BytesIO(media.frame_strip({"truth": long}, context=10)))
    assert three.shape[1] == one.shape[1] and three.shape[0] == pytest.approx(3 * one.shape[0], abs=3)


def test_panels_in_rows_keep_their_order_and_fill_a_short_row_with_white():
    # For a phone: two panels to a row, where three side by side had labels 6 px high.
    sequence = moving_mnist("test", 1)[0]
    panels = media.comparison_panels(sequence[:10], sequence[10:13], sequence[10:13] / 255.0, scale=2)
    frames, height, width, _ = panels["ground truth"].shape
    grid = media.in_rows(panels, 2)
    assert grid.shape == (frames, 2 * height + media.GAP, 2 * width + media.GAP, 3)
    np.testing.assert_array_equal(grid[:, :height, :width], panels["ground truth"])
    np.testing.assert_array_equal(grid[:, :height, width + media.GAP:], panels["prediction"])
    np.testing.assert_array_equal(grid[:, height + media.GAP:, :width], panels["absolute error"])
    assert (grid[:, height:height + media.GAP] == 255).all() and (grid[:, height + media.GAP:, width:] == 255).all()
    np.testing.assert_array_equal(media.side_by_side(panels), media.in_rows(panels, 3))
    assert media.side_by_side(panels).shape == (frames, height, 3 * width + 2 * media.GAP, 3)
