"""Who the visitor is: one id per browser (kept in a cookie, so its tabs and
reloads are one owner of trainings and models), its private folder for the
models it trains, and whether it is still here (its folder is swept, and its
waiting run gives way, once it has been away).
"""

import contextlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import streamlit as st

from ui.limits import LIMITS

# A reload, or a second tab, starts a new Streamlit session with empty state: with
# the id in session state only, a visitor who reloaded the page during training was
# told that "someone else" was training, could not stop the run, and never got its
# model. The browser keeps the id in this cookie, so all its tabs are one owner.
SESSION_COOKIE = "convlstm_studio_session"


def session_id() -> str:
    """A stable id for this browser (owner of trainings and checkpoints)."""
    if "session_id" not in st.session_state:
        remembered = st.context.cookies.get(SESSION_COOKIE)
        # Only an id this app could have made: a cookie is the visitor's to edit
        # (and under AppTest, which has no browser, not even a string).
        valid = isinstance(remembered, str) and re.fullmatch("[0-9a-f]{32}", remembered)
        st.session_state.session_id = remembered if valid else uuid.uuid4().hex
    return st.session_state.session_id


def remember_session_ui() -> None:
    """Has the browser keep this session's id for its reloads and other tabs.

    Streamlit only reads cookies, so a few lines of JavaScript write it. It is
    a cookie for the browser session: it goes when the browser is closed.
    """
    if st.context.cookies.get(SESSION_COOKIE) != session_id():
        st.html(f"<script>{remember_script(session_id())}</script>", unsafe_allow_javascript=True)


def remember_script(ours: str) -> str:
    """The JavaScript that keeps the first id written in the cookie.

    Tabs opened together (a double click on a shared link) all connected
    without a cookie and each wrote its own id, the last one winning: a run
    started in another tab was lost at its first reload, and no tab could stop
    it. Now the first id written stays, and a tab with another reloads to take
    it, once for each id (a cookie it can read but the server never gets must
    not loop; a later id, after the browser's cookies were cleared, is taken).
    """
    adopted = json.dumps(f"{SESSION_COOKIE}_adopted")
    return f"""(() => {{
      const ours = {json.dumps(ours)};
      const cookie = () => (document.cookie.match(/(?:^|; ){SESSION_COOKIE}=([0-9a-f]{{32}})(?:;|$)/) || [])[1];
      if (!cookie()) document.cookie = "{SESSION_COOKIE}=" + ours + "; path=/; SameSite=Lax";
      const adopt = () => {{
        if (cookie() && cookie() !== ours && sessionStorage.getItem({adopted}) !== cookie()) {{
          sessionStorage.setItem({adopted}, cookie());
          location.reload();
        }}
      }};
      adopt();
      setTimeout(adopt, 1000);  // a tab that wrote at the same moment as another, and lost
    }})();"""


# A session's folder outlives a dropped connection: Streamlit clears a session's
# own caches whenever its browser disconnects (Wi-Fi, a laptop asleep), although
# the session comes back with its state, so a session-scoped folder took the
# user's training and checkpoints with it. Folders are kept by session id
# instead, and removed once their session has not been seen for this long.
FOLDER_KEPT_SECONDS = 3600

FOLDER_PREFIX = "convlstm-studio-"

_FOLDERS_LOCK = threading.Lock()


# {session id: [folder, time last seen]}, for the whole server: not in
# st.cache_resource, which "Clear cache" empties (see ui.jobs.registry).
_SESSION_FOLDERS: dict = {}


def _release(folder: str) -> bool:
    """Stops the run writing into `folder` and deletes the folder once none is
    running (a later call finishes the job); True when it is gone."""
    from ui.jobs import registry

    if not registry().forget(Path(folder)):
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def _sweep(folders: dict, now: float) -> None:
    """Releases the folders of sessions unseen for `FOLDER_KEPT_SECONDS`."""
    for owner, (folder, seen) in list(folders.items()):
        if now - seen > FOLDER_KEPT_SECONDS and _release(folder):
            del folders[owner]


def _sweep_left_behind(folders: dict, now: float) -> None:
    """Deletes the folders that servers before this one left behind (a crash, a
    restart), unseen for `FOLDER_KEPT_SECONDS`: only the server that made a
    folder knew it, and 440 had piled up in a test machine's /tmp. A visit
    touches its folder, so a folder's age is the time since its session was seen."""
    known = {folder for folder, _ in folders.values()}
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to delete
            if str(folder) not in known and now - folder.stat().st_mtime > FOLDER_KEPT_SECONDS:
                shutil.rmtree(folder)


def session_folder() -> str:
    """This session's private folder for checkpoints; it goes an hour after the
    session was last seen (each call counts as a visit)."""
    folders, now = _SESSION_FOLDERS, time.time()
    with _FOLDERS_LOCK:
        entry = folders.get(session_id())
        if entry is None:
            _sweep_left_behind(folders, now)
            entry = folders[session_id()] = [tempfile.mkdtemp(prefix=FOLDER_PREFIX), now]
        _seen(entry, now)
        _sweep(folders, now)
    from ui.jobs import registry

    registry().saw(session_id(), now)
    return entry[0]


def still_here() -> None:
    """Counts as a visit of this session, for fragments that redraw for long
    without a page run: a visitor watching their run wait in line for an hour
    saw it stopped, and their folder swept, by the next visitor's page."""
    from ui.jobs import registry

    with _FOLDERS_LOCK:
        if entry := _SESSION_FOLDERS.get(session_id()):
            _seen(entry, time.time())
    registry().saw(session_id())


@st.fragment(run_every=LIMITS.away_seconds / 5)
def present_ui() -> None:
    """Keeps this browser counted as here while a page of the app is open, one
    without a timer of its own too (see `LIMITS.away_seconds`)."""
    still_here()


def _seen(entry: list, now: float) -> None:
    entry[1] = now
    with contextlib.suppress(OSError):  # its age tells a later server when it was last seen
        os.utime(entry[0], (now, now))
