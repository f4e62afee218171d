"""Opening a session file off the GUI thread, with a progress dialog and Cancel.

The file is read and checked (core.session_file.load_session, then session_spec, which may hash a
corpus file) on a plain Python thread: a daemon that never blocks closing the window (a QThread
destroyed while running aborts the process). The window's open session is untouched until the new
one has been read whole: Cancel, a refused file or closing the window leave it as it was.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QProgressDialog
from shiboken6 import isValid

from rnnviz.core.errors import RnnvizError
from rnnviz.core.session_file import SessionCancelled, load_session, session_spec


class SessionLoad:
    """One session being read on its own thread: `result` (session, spec) or `error` (one line)."""

    def __init__(self, path: str, fallback_corpus: str):
        self.path, self.fallback = path, fallback_corpus
        self.result: tuple | None = None
        self.error: str | None = None
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rnnviz-session-load", daemon=True)

    def _run(self) -> None:
        try:
            session = load_session(self.path, stop=self.cancelled.is_set)
            spec = session_spec(session, self.fallback)
            if not self.cancelled.is_set():
                self.result = (session, spec)
        except SessionCancelled:
            pass
        except RnnvizError as exc:
            self.error = str(exc)
        except MemoryError:
            self.error = f"not enough memory to open {Path(self.path).name}"

    def cancel(self) -> None:
        self.cancelled.set()


def load_with_progress(parent, path: str, fallback_corpus: str, owner) -> tuple | None:
    """(session, spec), or None when cancelled (by the user, or by closing `parent`); `owner.load`
    holds the SessionLoad meanwhile (closing the window cancels it). Raises
    RnnvizError for a file that cannot be opened. The GUI keeps running meanwhile (a local event
    loop); a progress dialog with Cancel shows when reading takes more than 300 ms."""
    load = SessionLoad(path, fallback_corpus)
    owner.load = load
    dialog = QProgressDialog(f"Opening {Path(path).name}\u2026", "Cancel", 0, 0, parent)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.canceled.connect(load.cancel)
    loop, timer = QEventLoop(), QTimer()
    timer.setInterval(20)

    def check() -> None:
        if not isValid(dialog):  # the window closed and took its dialog with it
            load.cancel()
        elif dialog.wasCanceled():
            load.cancel()
        if load.cancelled.is_set() or not load.thread.is_alive():
            loop.quit()

    timer.timeout.connect(check)
    load.thread.start()
    timer.start()
    if load.thread.is_alive():
        loop.exec()
    timer.stop()
    if isValid(dialog):
        dialog.canceled.disconnect(load.cancel)
        dialog.reset()
        dialog.deleteLater()
    owner.load = None
    if load.cancelled.is_set():
        return None
    load.thread.join()
    if load.error is not None:
        raise RnnvizError(load.error)
    return load.result
