"""Train: a short training run in a worker thread, with live curves and predictions."""

from ui.shared import through_entry_point

through_entry_point()  # before any other import: some load TensorFlow, which takes seconds

import math
import time
from pathlib import Path

import streamlit as st

from core import media
from core.errors import InputError
# This page trains: TensorFlow is needed anyway.
from core.checkpoints import read_checkpoint_info
from core.device import describe_device
from core.training import FINE_TUNING_LEARNING_RATE, TrainConfig, sample_sequence
from ui.charts import describe_learning, learning_curves
from ui.jobs import OWN_RUN, collect_finished, registry
from ui.limits import LIMITS, MEMORY_VARIABLE, Busy, ShortOfMemory, on_community_cloud, work_going_on
from ui.pictures import forecast_strip_ui, gif_ui
from ui.sessions import session_folder, session_id, still_here
from ui.shared import SHIPPED, SHIPPED_LABEL, bounded_slider, chart_ui, focus_ui, keep_values, put, show_error

# Few, so that scoring them pauses a short run only briefly; the keras.io
# model forecasts about 9 s a sequence, so it gets fewer still.
VALIDATION_SEQUENCES = {"convlstm": 16, "keras-io": 4}
AWAY = f"{LIMITS.away_seconds / 60:.0f} minutes"  # how long a browser may be gone before its run gives way
PRESETS = {"Fast ConvLSTM (recommended)": "convlstm", "keras.io example's model (slow, to compare)": "keras-io"}
# The settings' widgets, kept across pages and with each run for a reload.
SETTINGS = ["train_preset", "train_start", "train_digits", "train_layer_norm", "train_budget", "train_minutes",
            *(f"train_{setting}_{name}" for setting in ("epochs", "batch") for name in PRESETS.values()),
            "train_lr", "train_lr_shipped"]


def settings_ui(locked: bool):
    """The run's settings as a core TrainConfig (or None if invalid); `locked`
    while this session's run goes on, so that they show the settings it runs with."""
    # Coming back shows the settings of the run below, not the defaults.
    keep_values(SETTINGS)
    left, right = st.columns(2)
    with left:
        preset, from_shipped, digits, layer_norm = model_ui(locked)
    with right:
        minutes, epochs, batch_size, learning_rate = budget_ui(preset, from_shipped, locked)
    try:
        return TrainConfig(
            preset=preset, minutes=minutes, epochs=epochs, epoch_sequences=LIMITS.epoch_sequences,
            batch_size=batch_size, learning_rate=learning_rate, num_digits=digits,
            val_count=VALIDATION_SEQUENCES[preset],
            # A fresh model eases from teacher forcing into closed loop over the first half;
            # the shipped one already forecasts in closed loop.
            sampling_sequences=0 if from_shipped else None,
            init_from=str(SHIPPED) if from_shipped else None,
            model_overrides={"layer_norm": True} if layer_norm else {},
        )
    except InputError as error:
        show_error(error)
        return None


def glossary_ui() -> None:
    """What the settings mean, folded away."""
    # A class met "batch size", "learning rate" and "epochs" with no word on what they are.
    with st.expander("What do these settings mean?", icon=":material/help:"):
        st.markdown(
            "- **Start**: *from scratch*, the model begins with random weights and must learn everything; *from the "
            "shipped model*, it continues from a trained one (*fine-tuning*).\n"
            "- **Batch size**: how many sequences the model looks at before each small change to its weights. "
            "Larger batches give steadier changes, but fewer of them a minute.\n"
            "- **Learning rate**: how large each change is. Too large and the model overshoots and forgets what "
            "it knew; too small and it learns slowly.\n"
            f"- **Epoch**: here, {LIMITS.epoch_sequences} freshly drawn sequences, after which the model forecasts "
            "the validation sequences (scored by their MSE) and is saved.\n"
            "- **Validation**: a few fixed sequences made from digits the model never trains on, which it "
            "forecasts from their first 10 frames after each epoch: a test of what it has learnt, not of what it "
            "has memorised.\n"
            # The chart and the verdicts below name it; nothing on this page said what it was.
            "- **Validation MSE** (mean squared error): for each forecast frame, the squared differences between "
            "its pixels and the true ones (each from 0 to 1), added up over the frame's 4,096 pixels; lower is "
            "closer to the truth. The chart shows what the two baselines score on it, predicting black frames "
            "and holding the last context frame still: the scores to beat.\n"
            "- **Training loss**: how wrong the model's next-frame guesses are on the training batches (binary "
            "cross-entropy: each pixel's brightness read as a probability). It is measured differently from "
            "the MSE, so compare each only with itself.\n\n"
            # It said the defaults give "a run that learns within a minute", and a class's minute ended on grey.
            "The defaults give a one-minute run: enough to watch the training loss fall, not to forecast digits "
            "(see *What to expect*). Change one thing at a time, and compare the runs on Evaluate."
        )


def model_ui(locked: bool) -> tuple[str, bool, int, bool]:
    """Which model, where it starts and what it sees: (preset, from_shipped, digits, layer_norm)."""
    preset = PRESETS[st.selectbox("Model", list(PRESETS), key="train_preset", disabled=locked)]
    can_fine_tune = preset == "convlstm" and SHIPPED.is_file()
    start_options = ["From scratch"] + (["From the shipped model"] if can_fine_tune else [])
    start = st.radio("Start", start_options, horizontal=True, key="train_start", disabled=locked,
                     help="From the shipped model, training fine-tunes what it already knows.")
    from_shipped = start == "From the shipped model"
    st.session_state.setdefault("train_digits", 2)  # defaults in session state: keep_values may have put one there
    digits = st.radio("Digits per sequence", [1, 2], horizontal=True, key="train_digits", disabled=locked,
                      help="Digits in each training sequence. One is an easier task; the validation score "
                           "and the sample forecast are on two-digit sequences all the same, as the test set is.")
    # Only a new model chooses: one fine-tuned from the shipped model keeps its cells.
    layer_norm = False
    if preset == "convlstm" and not from_shipped:
        st.session_state.setdefault("train_layer_norm", True)
        layer_norm = st.toggle(
            "Layer normalisation", key="train_layer_norm", disabled=locked,
            help="Each gate of every cell is normalised over the whole picture before its sigmoid or tanh, "
                 "as in the shipped model. Each step is a little slower, and over the first thousand "
                 "sequences (about a minute) it is no better, but then the model learns several times "
                 "more from each sequence: its forecasts scored 125 after 8,000 sequences, a score the model "
                 "without it needed 57,000 to reach (docs/training.md).")
    return preset, from_shipped, digits, layer_norm


def budget_ui(preset: str, from_shipped: bool, locked: bool) -> tuple[float, int, int, float]:
    """How long and how fast it trains: (minutes, epochs, batch_size, learning_rate)."""
    budget = st.radio("Budget", ["Time", "Epochs"], horizontal=True, key="train_budget", disabled=locked)
    if budget == "Time":
        # Measured on 2 CPU cores: 16 validation forecasts and a save take about 3 s; the keras.io
        # model forecasts each of its 4 in about 9 s.
        after = "a few seconds" if preset == "convlstm" else "about half a minute"
        minutes = bounded_slider("Minutes", 0.5, LIMITS.train_minutes, key="train_minutes", default=1.0,
                                 name="minutes", step=0.5, format="%.1f", disabled=locked,
                                 help=f"At most {LIMITS.train_minutes:g} minutes: the server is shared. "
                                 "Compiling the model's training step comes before (7-20 s for a ConvLSTM "
                                 "from scratch on 2 idle CPU cores, longer while others use the server), "
                                 f"scoring the model and saving it after ({after}).")
        epochs = None  # the time ends the run
    else:
        # Forty epochs of the ConvLSTM, 10,240 sequences at the 10.8 a second measured on 2 cores,
        # would take 16 minutes: the time limit holds for epochs too.
        minutes = LIMITS.train_minutes
        most = LIMITS.train_epochs if preset == "convlstm" else LIMITS.keras_io_train_epochs
        # One key per model, as for the batch size, so that a look at the other model leaves this one's as it was.
        epochs = bounded_slider(f"Epochs ({LIMITS.epoch_sequences} new sequences each)", 1, most,
                                key=f"train_epochs_{preset}", default=min(4, most), name="epochs", disabled=locked,
                                help="Every batch is drawn fresh, so an epoch here is "
                                f"{LIMITS.epoch_sequences} new sequences, after which the model is validated and "
                                f"saved. At most {most} epochs for this model, and at most "
                                f"{LIMITS.train_minutes:g} minutes, where the run ends with what it has "
                                "learned: the server is shared.")
    sizes = LIMITS.batch_sizes if preset == "convlstm" else LIMITS.keras_io_batch_sizes
    if st.session_state.get(f"train_batch_{preset}") not in sizes:
        st.session_state[f"train_batch_{preset}"] = 16 if preset == "convlstm" else sizes[0]
    if len(sizes) > 1:
        batch_size = st.select_slider("Batch size", sizes, key=f"train_batch_{preset}", disabled=locked,
                                      help=f"At most {max(sizes)} for this model, to stay within the server's memory.")
    else:
        batch_size = sizes[0]
        st.caption(f"Batch size: {batch_size}. This model needs more memory per sequence than a shared server "
                   "has to spare for more.")
    # One key per start, so that each keeps its own default.
    rate_key = "train_lr_shipped" if from_shipped else "train_lr"
    st.session_state.setdefault(rate_key, FINE_TUNING_LEARNING_RATE if from_shipped else 1e-3)
    learning_rate = st.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 2e-3, 3e-3],
                                     format_func=lambda v: f"{v:g}", key=rate_key, disabled=locked,
                                     help="From the shipped model, keep it at 1e-4: one step at 1e-3 "
                                          "undoes much of what it learned.")
    return minutes, epochs, batch_size, learning_rate


def curves_explained(job) -> str:
    """Why the loss can fall while the closed-loop validation does not: a student's first question."""
    if job.preset == "keras-io":
        # It said the keras.io model eased into closed loop, which it never does; and a loss that
        # falls on seeing the answer is the lesson this model is here to teach.
        return ("The keras.io model trains as the keras.io example does: it is given the true frame at every one of "
                "the 19 steps, and its last layer, a 3x3x3 convolution across frames, also sees the very frame it "
                "is asked to predict. So its training loss can fall a long way while its validation MSE, a "
                "closed-loop forecast from its own predictions, stays near or above black frames'.")
    return ("The training loss averages the model's next-frame guesses at all 19 steps of training sequences. In "
            "the 10 context steps it is given the true frame. After them, " + (
                "a model started from the shipped one is given its own predictions from the start, as in a "
                "forecast. So the two curves need not move together: the validation MSE scores a whole "
                "closed-loop forecast of other sequences." if job.fine_tuning else
                "it is given the true frame less and less often over the first half of the run (*teacher "
                "forcing* easing into closed loop: scheduled sampling), then only its own predictions. So the "
                "loss can fall while the validation MSE, a closed-loop forecast, stays near or above black frames'."))


def results_ui(job, state) -> None:
    """Loss curves and the latest validation forecast of a run."""
    left, right = st.columns([3, 2])
    if state["loss"]:
        with left:
            chart_ui(learning_curves(state), key="train_curves", alt=describe_learning(state))
        left.caption(curves_explained(job))
    else:  # the first seconds go into building the model: an empty chart with axes from -1 to 4 said nothing
        left.caption("The loss curve starts after the first batches.")
    with right:
        if state["sample"] is not None:
            context, truth, predicted = state["sample"]
            seen, score = state["val_mse"][-1]
            gif_ui(sample_gif(f"{job.out}@{job.started}", seen, context, truth, predicted),
                   f"A fixed validation sequence, forecast after {seen:,} sequences. The validation sequences are the "
                   "same few in every run, made from the held-out test digits with motions of their own (so their "
                   f"baselines differ from Evaluate's). Validation MSE, their mean: {score:.1f}.",
                   "Prediction of a validation sequence during training")
        elif job.running and not job.progress.stop_requested:
            # The keras.io model's epoch takes minutes, longer than its default minute.
            st.caption("The first prediction appears after the first epoch, or at the end if that comes first.")


@st.cache_data(max_entries=4, show_spinner=False)
def sample_gif(run: str, seen: int, _context, _truth, _predicted) -> bytes:
    # Encoded once per validation step, not on every refresh of the fragment. Keyed
    # by file and start, not id(job): a job freed by the idle-hour sweep leaves its id to the next.
    # Truth and prediction only, at 3x: three 4x panels shrank to unreadable labels in this column.
    return media.encode_gif(media.side_by_side(media.comparison_panels(_context, _truth, _predicted, scale=3,
                                                                       error=False)))


def next_steps_ui(job) -> None:
    """Buttons to the pages that use a finished run's model, with it picked there, and to its file."""
    # "Pick it on Forecast" left a class looking for the page and then for the model in its list.
    left, middle, right = st.columns(3)
    for column, page, words in ((left, "forecast", "Forecast with it"), (middle, "evaluate", "Evaluate it")):
        if column.button(words, key=f"train_to_{page}", icon=":material/arrow_forward:", width="stretch"):
            st.session_state.checkpoint_wanted = job.label
            # "Evaluate it" opened Evaluate with the model picked, waiting for another click.
            st.session_state.evaluate_on_arrival = page == "evaluate"
            # Beside the shipped model: a fine-tuned run's start, as its warning advises; and a one-minute run
            # from scratch, whose MSE of 280 alone read to a class as a failure, not as what training buys,
            # unless the visitor compares with another model already (a run before this one, say).
            # Off Evaluate, its widget's value is only in what keep_values kept.
            picked = st.session_state.get("evaluate_compare",
                                          st.session_state.get("kept_values", {}).get("evaluate_compare"))
            if page == "evaluate" and SHIPPED.is_file() and (job.fine_tuning or picked in (None, "(none)", job.label)):
                put("evaluate_compare", SHIPPED_LABEL)
                # A new session's first Evaluate restores the browser's last click over it (after a reload).
                st.session_state.evaluate_restored = True
            st.switch_page(f"pages/{page}.py")
    with right:
        download_ui(job, "Download it", "train_download")


def download_ui(job, label: str, key: str) -> None:
    """A button that downloads the model `job` trained."""
    # The app keeps it an hour after the last visit: a teacher could not keep a class's model. Read on a click.
    # Named by its start too: every session's first run is run-1.keras.
    name = f"convlstm-studio-{job.out.stem}-{time.strftime('%Y-%m-%d-%H%M', time.localtime(job.started))}.keras"
    st.download_button(label, job.out.read_bytes, file_name=name, mime="application/octet-stream", on_click="ignore",
                       key=key, icon=":material/download:", width="stretch",
                       help="The model as a .keras file, to keep: `python -m core forecast --checkpoint <file>` "
                       "and `evaluate` use it, and `core.load_checkpoint` in a notebook.")


def earlier_runs_ui(latest) -> None:
    """Downloads of this browser's other kept models: the page draws the latest run's outcome alone, and
    a cancelled run after a good one, or a newer one, took the good one's Download button away."""
    earlier = [job for job in registry().finished(session_id()) if job is not latest and job.out.is_file()]
    if not earlier:
        return
    st.subheader("Your earlier runs", anchor=False)
    st.caption("Kept too, and offered on Forecast and Evaluate.")
    for job in reversed(earlier):  # newest first, as a run's outcome above is
        try:
            seen = read_checkpoint_info(job.out)[1].get("sequences_seen")
        except InputError:  # deleted since it was listed (another tab's newer run, the idle hour's sweep)
            continue
        words, button = st.columns([2, 1], vertical_alignment="center")
        words.markdown(f"**{job.label}**, {'from the shipped model' if job.fine_tuning else 'from scratch'}"
                       + (f": {seen:,} sequences" if isinstance(seen, int) else ""))
        with button:
            download_ui(job, f"Download run {job.number}", f"train_download_{job.number}")


@st.fragment(run_every=1.0)
def live_ui(job):
    """Redrawn every second while this session's run goes on."""
    still_here()
    if not job.running:
        st.session_state.train_show_outcome = True
        st.rerun()  # once, to draw the finished run without the timer
    state = job.progress.snapshot()
    text = f"{state['status']}: {state['sequences_seen']:,} sequences seen"
    compiling = state["status"] in ("starting", "training") and not state["loss"]
    scoring_start = state["status"] == "validating" and not state["loss"]  # a fine-tuning run's first work
    if job.progress.stop_requested and scoring_start:
        text = "cancelling once the model it starts from is scored; nothing will be saved"
    elif job.progress.stop_requested and state["status"] != "validating":
        # A stop pressed while compiling changed nothing on screen for a minute or more.
        text = ("cancelling once the first step is compiled and run (up to a minute or two); nothing will be saved"
                if compiling else f"stopping after this step ({state['sequences_seen']:,} sequences seen before it)")
    elif scoring_start:  # "validating: 0 sequences seen", with "Stop (keeps what was learned)" beside it
        text = "scoring the model it starts from, to compare the run with"
    elif compiling:  # read as a stalled run for 20 s; without a count, as a stalled run for longer on a busy server
        text = (f"compiling the model's training step ({time.time() - job.started:.0f} s so far); "
                "the budget's clock starts after it")
    if state["validation"]:
        text += ", {} of {} validation forecasts made".format(*state["validation"])
    if state["sequences_per_second"]:
        text += f", {state['sequences_per_second']:.1f} sequences/s"
    if state["eta_seconds"] is not None and not job.progress.stop_requested:
        text += f", about {state['eta_seconds']:.0f} s left"
    elif between_epochs(state) and not job.progress.stop_requested:
        # Keras sets up the next epoch's batches: the bar stood still 3-11 s with no time left, as if stalled.
        text += ", starting the next epoch"
    st.progress(min(1.0, state["fraction"]), text=text)
    # A callback: it runs before the fragment redraws, which then says "stopping" at once.
    # Before the first step nothing is learned: "keeps what was learned" sat beside "nothing will be saved".
    st.button("Cancel (nothing is learned yet)" if compiling or scoring_start else "Stop (keeps what was learned)",
              icon=":material/stop:", key="train_stop",
              disabled=job.progress.stop_requested, on_click=job.progress.request_stop)
    if st.session_state.pop("train_focus_progress", False):
        # Start, disabled once pressed, dropped the keyboard's focus to the page's top: on the
        # progress, which a screen reader reads out, Stop is the next Tab.
        focus_ui("[data-testid='stProgress']")
    results_ui(job, state)


def between_epochs(state: dict) -> bool:
    """Whether a run with no time left to show has validated since its start (a fine-tuning
    run's score of where it starts comes first), so is between epochs, not starting."""
    return (state["status"] == "training" and state["eta_seconds"] is None
            and len(state["val_mse"]) > (state["val_mse_start"] is not None))


def when_it_ends(run) -> str:
    """When a running run ends, as "their run ..." goes on."""
    state = run.progress.snapshot()
    # Core's estimate, None until a speed is measured: counted from the run's start, "ends in about 10 s"
    # came with 30 s of training to come (the clock starts after the first batch), and an epoch budget's
    # 10-minute cap gave "600 s".
    left = state["eta_seconds"]
    if state["status"] == "validating":  # after every epoch, not only the last; a fine-tuning run's first
        return "is scoring its latest forecasts" if state["loss"] else "is scoring the model it starts from"
    if left is None:  # also while the next epoch's first batch is drawn: "just started" of a run half done
        return "is under way" if between_epochs(state) else "has just started"
    return f"ends in about {left:.0f} s"


GAVE_WAY = (f"It stopped early: this browser was away for over {AWAY} while "
            "others waited to train.")


def runs(count: int) -> str:
    return f"{count} run{'' if count == 1 else 's'}"


# Every fragment run takes the GIL from the training for a while: with Streamlit's
# garbage collection after each (off in .streamlit/config.toml, which a server
# started from another folder does not read) and a third tab polling every 2 s, the
# default run compiled in 118 s instead of about 45. Those who only wait need no
# second-by-second news.
WAITING_REFRESH = 5.0


@st.fragment(run_every=WAITING_REFRESH)
def someone_else_ui(other, full: bool):
    """Tells a visitor that another session's run is going on, until it ends, and
    whether Start puts theirs in line (`full`: the line was full when Start was drawn)."""
    still_here()
    # Start is drawn with the page: a place freed in a full line was announced beside a greyed-out Start.
    if not other.running or registry().line_is_full() != full:
        st.rerun()
    waiting = registry().waiting()
    if other.waiting and other.held:  # at the head of the line, not training yet: it "had just started"
        text = ("Someone else's run is next; it starts when the evaluations going on end, to have the memory it "
                "needs")
    else:
        text = f"Someone else is training right now; their run {when_it_ends(other)}"
    text += f", and {runs(waiting)} wait{'s' if waiting == 1 else ''} after it. " if waiting else ". "
    # One run at a time keeps the server responsive: two would share its cores and both crawl.
    if registry().line_is_full():
        text += "The server trains one run at a time and the line is full: try again when this one ends."
    else:
        text += "The server trains one run at a time: Start puts yours in line, and it begins on its own."
    st.info(text, icon=":material/hourglass_top:")


def short_of_memory_ui(config: TrainConfig) -> None:
    st.warning(short_of_memory(config), icon=":material/memory:")
    if work_going_on():
        memory_back_ui(config)


@st.fragment(run_every=WAITING_REFRESH)
def memory_back_ui(config: TrainConfig) -> None:
    """Draws the page again once the run fits, or the evaluations that held the memory end."""
    if registry().has_memory_for(config) or not work_going_on():
        st.rerun()


@st.fragment(run_every=WAITING_REFRESH)
def waiting_ui(job):
    """This session's run while it waits in line, until its turn comes."""
    still_here()
    if not (job.running and job.waiting):
        st.rerun()  # its turn: the page draws it training
    ahead = registry().ahead_of(job)
    if not ahead and job.held:
        text = "Your run is next: it starts when the evaluations going on end, to have the memory it needs"
    elif not ahead:  # the run before it has just ended
        text = "Your run is next: it starts in a moment"
    else:
        text = f"Your run is in line: {runs(len(ahead))} before it"
        later = [run.minutes for run in ahead[1:]]
        # A class saw only when the run training ends, with nothing of the runs waiting before theirs.
        after = (f"; then up to about {sum(later) + len(later):.0f} minutes for the {len(later)} waiting before "
                 "yours" if later and all(later) else "")  # a minute each to prepare its first step
        if not ahead[0].waiting:
            text += f" (the one training now {when_it_ends(ahead[0])}{after})"
    st.info(text + ". It starts on its own; you can switch pages or reload meanwhile, but keep the app open: "
            f"a run whose browser is away for {AWAY} leaves the line for those "
            "waiting.",
            icon=":material/hourglass_top:")
    # A key of its own: the run's turn can come between this and the page's Stop, drawn with train_stop.
    st.button("Leave the line", icon=":material/close:", key="train_leave",
              disabled=job.progress.stop_requested, on_click=job.progress.request_stop)


def short_of_memory(config: TrainConfig) -> str:
    """Why Start is off when the server has too little memory left for a run of `config`, and which
    kinds of run still fit: the memory a run leaves does not come back, so "later" would not help,
    unless what holds it is an evaluation going on."""
    if work_going_on():  # no training: the page asks only when none is
        return ("Evaluations going on may take the memory this run needs at its peak: this page looks again "
                "when they end (an evaluation of 1,000 sequences takes about 30 s).")
    kinds = {"from scratch with layer normalisation": TrainConfig(model_overrides={"layer_norm": True}),
             "from scratch without it": TrainConfig()}
    if SHIPPED.is_file():
        kinds["from the shipped model"] = TrainConfig(init_from=str(SHIPPED))
    fits = [words for words, kind in kinds.items() if registry().has_memory_for(kind)]
    if fits and fits[0] == "from scratch without it":  # "it" named nothing: the one switch that would help
        toggle_shown = config.preset == "convlstm" and not config.init_from  # drawn for a run from scratch only
        fits[0] = "from scratch without layer normalisation" + (" (switch it off above)" if toggle_shown else "")
    if config.preset == "keras-io":
        why = "The keras.io model works on full frames and needs more memory than the server has left. "
    else:
        why = ("The server has too little memory left for this training run: TensorFlow keeps memory for each "
               "kind of model trained here, and this run could stop the app for everyone. ")
    if on_community_cloud():
        why += f"It keeps under {LIMITS.server_memory_mb:,} MB, what Streamlit Community Cloud gives an app. "
    else:  # a teacher's laptop of 16 GB was held to Community Cloud's memory, with no way out
        why += (f"It keeps under {LIMITS.server_memory_mb:,} MB on this computer; start the app with "
                f"{MEMORY_VARIABLE}=<MB> to allow more. ")
    if fits:
        listed = fits[0] if len(fits) == 1 else ", ".join(fits[:-1]) + " or " + fits[-1]
        why += f"A ConvLSTM {listed} still fits. "
    if config.preset != "keras-io" and registry().has_memory_for(TrainConfig(preset="keras-io")):
        why += "The keras.io example's model still fits. "
    return why + "Every other page, and the models already trained, still work."


st.title("Train", anchor=False)
ABOUT = (
    "Train a model right here. Training runs in the background: you can switch pages, reload, open another tab "
    f"or lose the connection, and come back. Your newest {LIMITS.checkpoints_per_session} trained models are kept "
    "until an hour after your last visit (closing the browser forgets them). While others wait to train, a run "
    f"whose browser has been away for {AWAY} stops and is saved, to let them. "
    f"The validation score is a real closed-loop forecast (lower is better). Device: **{describe_device()}**."
)
# A class watched a minute's grey forecasts, told only afterwards that they would be grey.
EXPECT = (
    "What to expect: in a few minutes a model from scratch learns where things move, its loss and validation "
    "MSE fall, but its forecasts stay grey blurs, not digits: the shipped model saw 2.4 million sequences on a "
    # 784-880 in the default run's minute (benchmarks/app_gc.py, docs/benchmarks.md), 1,040 in a review's.
    "GPU, where a minute on 2 idle CPU cores sees 800 to 1,000 (fewer while others use the server). To show "
    "forecasts of digits, use the Forecast page."
)
job = registry().latest(session_id())
locked = job is not None and job.running
# A reload, or another tab, is a new session: its settings read as the defaults, not the run's.
# Once for each run: a tab open before another tab's later run went on showing the earlier run's.
if job is not None and st.session_state.get("train_restored") != (str(job.out), job.started):
    st.session_state.update(job.settings, train_restored=(str(job.out), job.started))
# Folded away while a run goes, with the words on training: open, they put its progress and
# loss curve below the fold of a 1366 x 768 projector, and its curve at y=645 of a 1280 x 720 one.
# What to expect of a run from scratch stays in sight, for the class watching it (and one who joins it then).
if locked and not job.fine_tuning:
    st.caption(EXPECT)
with (st.expander("What training here does, and the settings this run uses (they unlock when it ends or you stop "
                  "it)") if locked else st.container()):
    st.markdown(ABOUT if locked else f"{ABOUT}\n\n{EXPECT}")
    config = settings_ui(locked)
glossary_ui()
running = registry().running()
# While a run trains or starts, the memory is checked when a run's turn in line comes.
short = running is None and config is not None and not registry().has_memory_for(config)
if short:
    short_of_memory_ui(config)
collect_finished(Path(session_folder()))  # a failed run's last checkpoint too, which the pickers offer
kept = list(st.session_state["trained"])
if not locked and len(kept) >= LIMITS.checkpoints_per_session:
    # A fourth run took run 1's place without a word here: a good run 1 was gone after a poor run 4.
    st.caption(f"You have {len(kept)} trained models, the most kept: once this run is saved, the oldest, "
               f"**{kept[0]}**, is deleted.")
if st.button("Start training", icon=":material/play_arrow:", type="primary", key="train_start_button",
             disabled=locked or config is None or short or registry().line_is_full()):
    try:
        started = registry().start(session_id(), Path(session_folder()), config)
        started.settings = {key: st.session_state[key] for key in SETTINGS if key in st.session_state}
    except Busy as refused:  # "filled up" was said to a second tab of a browser whose first had just started
        st.warning("This browser has just started a run in another tab: reload this page to watch it here."
                   if str(refused) == OWN_RUN else
                   "The line of training runs filled up just now: try again when the run training now ends.")
    except ShortOfMemory:
        short_of_memory_ui(config)
    else:
        st.session_state.train_focus_progress = True
        st.rerun()  # draws the settings and the button above disabled: the timer below redraws only its own part

# Read once: the worker thread changes them, and a run drawn both waiting and training showed two buttons.
mine_running, mine_waiting = (job.running, job.waiting) if job is not None else (False, False)
if mine_running and mine_waiting:
    waiting_ui(job)
elif running is not None and running.owner != session_id():
    someone_else_ui(running, registry().line_is_full())
if mine_running and not mine_waiting:
    live_ui(job)
elif job is not None and not mine_running:
    state = job.progress.snapshot()
    # Keyed, to be brought into view: the settings unfold when a run ends, and pushed its outcome
    # below a 1366 x 768 projector's fold (and 1,100 px down a phone).
    with st.container(key="train_outcome"):
        if state["status"] == "failed":
            st.error(f"Training failed: {state['error']}")
            if job.out.is_file():  # its last validation's checkpoint, which the pickers offered without a word here
                seen = read_checkpoint_info(job.out)[1].get("sequences_seen", 0)
                st.info(f"What it learned up to its last checkpoint ({seen:,} sequences) is saved as **{job.label}**, "
                        "which Forecast and Evaluate offer.", icon=":material/save:")
        elif state["status"] == "cancelled" and job.waiting and job.gave_way:
            st.info(f"Your run left the line: when its turn came, this browser had been away for over "
                    f"{AWAY}, so the next run went first. Nothing was trained.",
                    icon=":material/cancel:")
        elif state["status"] == "cancelled" and job.waiting:
            st.info("You left the line: your run never started, so nothing was trained.", icon=":material/cancel:")
        elif state["status"] == "cancelled":
            st.info("Training cancelled before its first step ended: nothing was learned, so nothing was saved."
                    + (f" {GAVE_WAY}" if job.gave_way else ""), icon=":material/cancel:")
        else:
            # An epoch budget cut short by the time limit read as all its epochs done.
            cut = state["time_up"] and job.settings.get("train_budget") == "Epochs"
            # A half-minute run read "(54 s)": its first 26 s compiled the step, before the clock started.
            # A run in a model kept from an earlier one has its step compiled already.
            ready = round(state["ready_after"] or 0)
            preparing = f", the first {ready} s of them preparing the first training step" if ready else ""
            st.success((f"Training reached the {LIMITS.train_minutes:g}-minute limit before its epochs ended"
                        if cut else f"Training {state['status']}") + f" after {state['sequences_seen']:,} sequences "
                       f"({state['elapsed']:.0f} s{preparing}). Saved as **{job.label}**, which Forecast and "
                       "Evaluate offer." + (f" {GAVE_WAY}" if job.gave_way else ""))
            black = state["val_baselines"].get("black frames")
            final = state["val_mse"][-1][1] if state["val_mse"] else None
            loss = state["loss"][-1][1] if state["loss"] else None
            start = state["val_mse_start"]  # a fine-tuning run's
            # A fine-tuning run at 3e-3 collapses to grey blurs that score 120-265 (black frames 151; 14 runs,
            # session 31): at 0.85 of black the warning missed a quarter of them.
            # NaN weights: their forecasts are drawn black, so the validation MSE is black frames' and
            # only the loss tells (the grey blurs promised below would be wrong too).
            if loss is not None and not math.isfinite(loss):
                st.warning("The run diverged: its training loss became NaN (not a number), and its forecasts are "
                           "black frames. Start again at a lower learning rate.", icon=":material/error:")
            elif final is not None and black is not None and not final < 0.75 * black:
                # At 1e-3 a fine-tuning run's first steps undo the shipped model's training
                # (68 -> 190 in docs/training.md).
                if job.fine_tuning:
                    advice = ("Start again from the shipped model at a learning rate of "
                              f"{FINE_TUNING_LEARNING_RATE:g}, which keeps what it learned.")
                elif SHIPPED.is_file() and registry().has_memory_for(TrainConfig(init_from=str(SHIPPED))):
                    advice = "Train for longer, or start from the shipped model."
                else:  # advice that the Start button then refused
                    advice = ("Train for longer (starting from the shipped model needs more memory than the server "
                              "has left).")
                st.warning(f"Its validation MSE, {final:.0f}, is {'above' if final > black else 'close to'} what "
                           f"predicting black frames scores ({black:.0f}): its forecasts will be grey blurs, not "
                           "digits. " + advice, icon=":material/warning:")
            elif start is not None and final is not None and final > start:
                # At 1e-4, 3e-5 and 1e-5 alike, 1,024 sequences took the shipped model's 43.0 to 43.8-47.7
                # (docs/training.md, session 46): no setting to advise, so the page says what happened.
                st.warning(f"Its validation MSE rose from {start:.1f}, the model it started from, to {final:.1f}: "
                           "this run made it worse on these sequences. That is what short runs here usually do: "
                           "the noisy steps of a few small batches unsettle a model trained on millions of "
                           "sequences more than they teach it. Compare the two on Evaluate.",
                           icon=":material/warning:")
        if job.out.is_file():  # gone once newer runs took its slot
            next_steps_ui(job)
    if st.session_state.pop("train_show_outcome", False):
        focus_ui(".st-key-train_outcome")
    # One step's loss is no curve; a run that failed before its first batches will have none.
    if state["status"] != "cancelled" and state["loss"]:
        results_ui(job, state)
    if state["sample"] is not None:  # the final forecast still, beside the looping GIF
        # Its bounces marked and named, as on every other page's strip.
        forecast_strip_ui(*state["sample"], sample_sequence())
if job is not None:
    earlier_runs_ui(job)
