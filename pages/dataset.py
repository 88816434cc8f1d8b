"""Dataset: browse sequences as GIFs and frame strips, and see how they are prepared."""

from ui.shared import through_entry_point

through_entry_point()  # before any other import: some load TensorFlow, which takes seconds

import functools
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import data, media
from core.errors import InputError
from ui.charts import describe_paths, legible, paths_chart
from ui.limits import LIMITS
from ui.pictures import BOUNCES_EXPLAINED, bounces_words, gif_ui, picture_download_ui, wall_marks, widths_ui
from ui.shared import (CONTEXT, FIRST_SEQUENCE, OFFICIAL_DOWNLOAD, OUTSIDE_SEQUENCE, TEST_COUNT, TEST_SET_SOURCE,
                       as_sentence, bounded_slider, chart_ui, context_length, index_ui, keep_values, remember_pick,
                       show_error, stack_below, start_download, test_sequence, uploaded_frames)

BUNDLED, OFFICIAL, UPLOAD = "Bundled Moving MNIST (offline)", "Official file (mnist_test_seq.npy)", "Your own .npy file"
INTENSITY_BAND = 15  # intensities per bar of the histogram: 17 bars, 1-15 to 241-255


@st.cache_resource(show_spinner="Opening the official file...")
def official_frames(path: str):
    """The official file in the folder `path` (or the file, by its own name); "" for Keras' cache."""
    # Only a file of the official name opens: on a shared server any other
    # path told a visitor which of its files exist, and showed any .npy.
    if path and Path(path).name != data.OFFICIAL_NAME:
        path = str(Path(path) / data.OFFICIAL_NAME)
    return data.load_official(path or None)  # memory-mapped: shared, never copied


@st.fragment(run_every=1.0)
def download_ui(job: dict) -> None:
    """Progress of the download, read from the size of the growing file; one full rerun when it ends."""
    target = data.official_cache_path()
    done = target.stat().st_size if target.exists() else 0
    if job["thread"].is_alive():
        st.progress(min(1.0, done / data.OFFICIAL_BYTES), text=f"Downloading: {done / 1e6:.0f} of 819 MB")
    else:  # a failed look-up was not cached: the rerun opens the file if it came
        st.rerun()


def new_upload() -> None:
    """A file removed or replaced by the visitor: nothing to say it was forgotten, and its
    pick starts at the first sequence (a toast named a limit the visitor never passed)."""
    st.session_state.pop("dataset_upload_name", None)
    # Set, not dropped: dropped, the box took back the number the browser still held (5 of a 2-sequence file).
    st.session_state.dataset_upload_index = 0


def source_ui():
    """Returns (frames of all sequences, the source): (None, BUNDLED) for the
    bundled test set, which is read per sequence, and (None, None) for nothing to show."""
    keep_values(["dataset_source", "dataset_official_path"])  # coming back reopened on the bundled set
    source = st.radio("Source", [BUNDLED, OFFICIAL, UPLOAD], horizontal=True, key="dataset_source")
    if source == BUNDLED:
        st.caption(
            "Generated offline by the standard Moving MNIST process from real MNIST digits. "
            f"These are the {TEST_COUNT:,} test sequences: they use only digits the model never trained on."
        )
        return None, source
    if source == OFFICIAL:
        path = st.text_input(f"The folder holding {data.OFFICIAL_NAME} on the computer running the app "
                             "(leave empty for Keras' cache, ~/.keras/datasets)", key="dataset_official_path")
        try:
            return official_frames(path.strip()), source
        except InputError as error:
            if path.strip():  # a file the visitor named: what is wrong with it, not the download (to the cache)
                show_error(error)
                return None, None
            job = OFFICIAL_DOWNLOAD
            downloading = job["thread"] is not None and job["thread"].is_alive()
            # The file grows in place as it downloads: the error called it an interrupted download.
            if downloading:
                words = "Downloading the official file: it opens here when the download ends."
            elif data.official_cache_path().exists():  # an interrupted download
                words = f"{as_sentence(str(error))}."
            else:  # core's words, for the CLI, told a visitor to download it "there", a server folder out of their reach
                words = (f"The official file is not in Keras' cache ({data.official_cache_path().parent}) on the "
                         "computer running this app. The button below downloads it there, once for everyone using "
                         f"this app; or fetch {data.OFFICIAL_URL} yourself and type its folder above. The bundled set "
                         "needs no download.")
            st.info(words, icon=":material/info:")
            if st.button("Download the official file (819 MB)", key="dataset_download", disabled=downloading):
                start_download(job)
                st.rerun()  # from the top: the line above still called the file an interrupted download
            # Only while it runs: a finished download with the file still not found
            # here (a wrong path typed) must not rerun the page again and again.
            if downloading:
                download_ui(job)
            elif job["error"]:
                st.error(f"{as_sentence(job['error']).rstrip('.')}.", icon=":material/error:")
            return None, None
    upload = st.file_uploader(
        f"A .npy array of shape (N, T, 64, 64) or (T, 64, 64), uint8 0-255 or float 0-1 (at most {LIMITS.upload_mb} MB)",
        key="dataset_upload",  # any file: a wrong one gets a line saying why, not a tooltip on a red chip
        on_change=new_upload,  # removed (or replaced) by the visitor
    )
    if upload is None:
        # Streamlit drops a file once its box is not drawn; an empty box alone looked like a lost file.
        if "dataset_upload_name" in st.session_state:
            st.info(f"**{st.session_state.dataset_upload_name}** is no longer here: Streamlit forgets an upload once "
                    "its box leaves the screen (another page or source). Drop it here again.", icon=":material/info:")
        return None, None
    try:
        frames = uploaded_frames(upload.file_id, upload, upload.name)
        st.session_state.dataset_upload_name = upload.name  # a refused file is not asked for again
        return frames, source
    except InputError as error:
        show_error(error)
        return None, None


def pick_ui(source: str, count: int) -> int:
    """The sequence to show, a number of its own for each source: one shared number
    took a file's pick for a test sequence, and a shorter file's reset for a new pick.
    The bundled set reopens on the last test sequence picked on any page, the official
    file on its own last pick (Streamlit forgets a widget's value once it is not drawn)."""
    key = {BUNDLED: "dataset_index", OFFICIAL: "dataset_official_index", UPLOAD: "dataset_upload_index"}[source]
    if source == BUNDLED:
        st.session_state.setdefault(key, st.session_state.get("picked_sequence", FIRST_SEQUENCE))
    elif source == OFFICIAL:
        keep_values([key])
    return index_ui(f"Sequence (0-{count - 1})", count, key)


def span(first: int, last: int, context: int) -> str:
    """Frames first to last (from 0), in words, named as the strip numbers them."""
    first, last = media.frame_number(first, context), media.frame_number(last, context)
    return f"frame {first}" if first == last else f"frames {first} to {last}"


@st.cache_data(max_entries=16, show_spinner="Drawing the sequence...")  # a class on different sequences
def sequence_pictures(frames: np.ndarray, title: str, context: int, walls: dict) -> tuple[bytes, bytes, bytes]:
    """The sequence's GIF, its frame strip, and the strip for a phone. Every click on
    the page drew them again: 4 s and 250 MB of passing memory for an uploaded 200-frame sequence."""
    # Ten frames a line (the context's, then the future's): at 20 a line frames were 17 px wide on a
    # phone. Five on a phone: at ten, 870 px shown in 358, the frames' numbers were 4 px high.
    return (media.sequence_gif(frames, title, context=context, scale=5, walls=walls),
            *(media.frame_strip({"frames": frames}, context=context, per_line=per_line, walls=walls)
              for per_line in (CONTEXT, CONTEXT // 2)))


def sequence_view_ui(frames: np.ndarray, index: int, sequences, context: int, slug: str) -> None:
    """The sequence as a GIF, its digits' paths (generated sequences only) and its frames in a strip,
    each downloadable as `slug`.gif and `slug`-frames.png."""
    length = len(frames)
    left, right = st.columns([2, 3])
    stack_below("dataset-sequence")  # beside the sidebar at 820 px, the GIF was 187 px wide
    with left, st.container(key="dataset-sequence"):
        title = f"sequence {index}"
        if sequences is not None:
            title += f": digits {', '.join(map(str, sequences.labels[0]))}"
        walls = wall_marks(sequences)
        gif, strip, narrow_strip = sequence_pictures(frames, title, context, walls)
        gif_ui(gif, f"{length} frames; blue = context (what a model sees), orange = future (what it must predict)."
               + (f" {BOUNCES_EXPLAINED}" if walls else ""),
               f"Animated {title}: {context} context frames, then {length - context} future frames")
        # To show in a lesson's slides: a teacher had no way to keep these pictures.
        with st.container(horizontal=True):
            # Larger than shown, drawn on the click: at the page's 326 px a slide blurred it. Not a long
            # upload's: 200 frames at 8x took 420 MB of the shared server's memory for a moment.
            scale = 8 if length <= data.SEQUENCE_LENGTH else 5
            picture_download_ui("Download the GIF", functools.partial(media.sequence_gif, frames, title, context=context,
                                                                      scale=scale, walls=walls),
                                f"{slug}.gif", "dataset_download_gif")
            picture_download_ui("Download the frame strip", strip, f"{slug}-frames.png", "dataset_download_strip")
    with right:
        if sequences is not None:
            chart_ui(paths_chart(sequences), key="dataset_trajectories", alt=describe_paths(sequences))
        else:
            st.info("Digit labels and trajectories are known only for generated sequences.")
    widths_ui({"wide": strip, "narrow": narrow_strip}, "dataset-strip",
              f"Context: {span(0, context - 1, context)}. Future: {span(context, length - 1, context)}."
              + bounces_words(sequences, context),
              "Numbered strip of all frames of the sequence")


def send_to_forecast_ui(source: str, index: int, frames: np.ndarray, context: int, slug: str) -> None:
    """A button that opens the Forecast page on this sequence (`slug` names its downloads there)."""
    # Two frames split into one of context and one to score, and one frame shows no motion.
    too_short = context < 2
    if st.button("Forecast this sequence", icon=":material/online_prediction:", key="dataset_forecast",
                 disabled=too_short,
                 help="A forecast needs 2 frames of context and 1 to compare it with: this sequence has 2."
                 if too_short else "Opens the Forecast page on this sequence."):
        # Not the Forecast page's widget key: Streamlit drops the state of widgets
        # that are not on the page being run, so the wish goes under its own key.
        if source == BUNDLED:  # the pick alone asks for it only when it changes: a file sent before won again
            st.session_state.forecast_wanted = TEST_SET_SOURCE
        else:
            label = f"{'your file' if source == UPLOAD else 'the official file'}, sequence {index}"
            st.session_state[OUTSIDE_SEQUENCE] = {"label": label, "slug": slug, "frames": np.array(frames)}
            st.session_state.forecast_wanted = label
        st.switch_page("pages/forecast.py")


def padding_words(known: int) -> str:
    """The padding strip's caption, for `known` frames."""
    missing = CONTEXT - known
    if missing <= 0:
        return f"{known} known frames: at least {CONTEXT}, so nothing is padded."
    # The known frames sit under the places they take, which a class read as "frames 8-10 were given".
    copies = "frame 1 is a copy" if missing == 1 else f"frames 1-{missing} are copies"
    return (f"{known} known frames padded to {CONTEXT} by repeating the first: known frames 1-{known} become context "
            f"frames {missing + 1}-{CONTEXT}, and {copies} of the first.")


def preparation_ui(frames: np.ndarray, context: int) -> np.ndarray:
    """The steps from raw frames to the model's input, shown on this sequence; returns it scaled to [0, 1]."""
    length = len(frames)
    st.header("How a sequence is prepared", anchor=False)
    raw = np.asarray(frames)
    unit = data.to_unit_float(raw)
    # A class met `uint8`, `float32` and shapes with no word on what they are.
    whole = raw.dtype.kind in "ui"
    kind = f"a whole number (`{raw.dtype}`: 0 is black, 255 white)" if whole else f"a number (`{raw.dtype}`)"
    st.markdown(
        f"""
1. **Raw frames**: {length} frames of {raw.shape[1]} x {raw.shape[2]} pixels (an array of shape `{raw.shape}`), each pixel {kind}, here from {raw.min()} to {raw.max()}.
2. **Scaled to [0, 1]**: {"each pixel divided by 255, " if whole else ""}values {unit.min():.3f} to {unit.max():.3f} as decimals (`float32`): the scale of the model's output, whose last step (a sigmoid) gives a brightness from 0 to 1.
3. **Split**: {"the first frame is" if context == 1 else f"the first {context} frames are"} the context `{unit[:context].shape}`, the remaining {length - context} the future to predict `{unit[context:].shape}`.
4. **Padding**: a sequence shorter than the {CONTEXT} context frames the model was trained with gets copies of its first frame in front, as if the digits stood still before moving.
"""
    )
    longest = max(2, context)  # the Split line's context; two frames for the shortest sequences
    if longest == 2:
        known = 2
    else:
        keep_values(["dataset_known"])  # coming back reopened on 3
        known = bounded_slider("Pretend only this many frames are known", 2, longest, key="dataset_known", default=3,
                               name="known frames")
    padded = data.pad_context(unit[None, :known], CONTEXT)[0]
    # The Split line above gave the second of two frames to the future: the strip takes both, and says so.
    both = " Both frames of this sequence, to show the padding: a forecast keeps the second to score." * (known > context)
    st.image(media.frame_strip({"known": unit[:known], "padded": padded}), caption=padding_words(known) + both,
             alt="The known frames and the padded context")
    return unit


def statistics_ui(unit: np.ndarray, context: int, moving_mnist: bool) -> None:
    """The sequence's pixel intensities and brightness per frame; `moving_mnist`: whether it is one
    of the bundled or official sequences, whose only change of brightness is digits overlapping."""
    length = len(unit)
    st.header("Statistics", anchor=False)
    left, right = st.columns(2)
    values = (unit * 255).round().astype(int).ravel()
    histogram = np.bincount(values, minlength=256)
    # Short titles: at 820 px the column cut a longer one off mid-sentence.
    # Bands of 15 intensities, 1-15 to 241-255: a bar per intensity was a comb of spikes (a digit keeps its
    # pixels' values in all 20 frames, so each count was a multiple of 20) that a class could read nothing from.
    bands = histogram[1:].reshape(-1, INTENSITY_BAND).sum(axis=1)
    lowest = np.arange(1, 256, INTENSITY_BAND)
    intensities = go.Figure(go.Bar(x=lowest + (INTENSITY_BAND - 1) / 2, y=bands, width=INTENSITY_BAND * 0.9,
                                   customdata=np.stack([lowest, lowest + INTENSITY_BAND - 1], axis=1),
                                   hovertemplate="intensities %{customdata[0]}-%{customdata[1]}: %{y} pixels"
                                   "<extra></extra>"), layout={
        "title": "Pixel intensities", "xaxis_title": "intensity (0-255)", "height": 360,
        "xaxis": {"range": [0, 256]},
        # Powers of ten only: plotly's in-between 2s and 5s read as counts of 2 and 5 pixels. From 1 pixel up:
        # bars of 20 to 90 pixels stood below the axis' first tick, at 100, and could not be read.
        "yaxis": {"title": "pixels (log scale)", "type": "log", "dtick": 1,
                  "range": [0, np.log10(max(bands.max(), 10)) + 0.1]}})
    with left:
        chart_ui(legible(intensities), key="dataset_histogram",
                 alt=f"Bar chart of how many pixels fall in each band of {INTENSITY_BAND} intensities from 1 to 255, "
                     "on a log scale.")
    left.caption(f"Without the {histogram[0]:,} black pixels (0), which would dwarf the rest.")
    # Frames named as in the strip and the GIF: 1-10 the context, then +1, +2, ...
    means = unit.mean(axis=(1, 2))
    brightness = go.Figure(go.Scatter(x=[media.frame_number(t, context) for t in range(length)],
                                      y=means, mode="lines+markers"), layout={
        "title": "Mean brightness per frame", "xaxis": {"title": "frame", "type": "category"},
        # From 0: fitted to the data, a 0.2% dip was drawn from the top of the chart to its bottom,
        # and a black file's flat 0 in the middle of -1 to 1.
        "yaxis": {"title": "mean intensity (0-1)", "range": [0, max(1.2 * float(means.max()), 0.05)]},
        "height": 360})
    with right:
        chart_ui(legible(brightness), key="dataset_brightness", alt="Line chart of the mean intensity of each frame, "
                 f"from {unit[0].mean():.3f} in frame 1 to {unit[-1].mean():.3f} in the last.")
    # A file's frames may hold anything: an upload of noise was told its digits overlapped.
    if moving_mnist:
        right.caption("It drops where the digits overlap: they share pixels then." if np.ptp(means) else
                      "The same in every frame: no digits overlap here.")
    else:
        right.caption("How much of each frame is lit (in Moving MNIST it drops where digits overlap)." if np.ptp(means)
                      else "The same in every frame.")


st.title("Dataset", anchor=False)
frames_all, source = source_ui()
if source is not None:
    bundled = source == BUNDLED
    count = TEST_COUNT if bundled else len(frames_all)
    index = pick_ui(source, count)
    sequences = test_sequence(index) if bundled else None
    frames = sequences.frames[0] if bundled else np.asarray(frames_all[index])
    if bundled:
        remember_pick(index)
    context = context_length(len(frames))
    slug = f"{'test' if bundled else 'your-file' if source == UPLOAD else 'official'}-sequence-{index}"
    sequence_view_ui(frames, index, sequences, context, slug)
    send_to_forecast_ui(source, index, frames, context, slug)
    statistics_ui(preparation_ui(frames, context), context, moving_mnist=source != UPLOAD)
