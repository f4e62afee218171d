"""The window against hostile or slow files: sessions read off the GUI thread with Cancel, closing
while something is being read, bad model files, crafted interventions."""

import threading
import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QProgressDialog, QPushButton
from qt_helpers import open_main_window

from rnnviz.core.session_file import SessionCancelled
from rnnviz.qt import session_loader


@pytest.fixture
def window(qtbot, qapp):
    w = open_main_window(qtbot)
    yield w
    w.close()


def _slow_reads(monkeypatch) -> threading.Event:
    """load_session as a huge file reads it: until told to stop (it polls stop() between chunks)."""
    started = threading.Event()

    def slow(path, stop=None):
        started.set()
        while not stop():
            time.sleep(0.005)
        raise SessionCancelled("opening was cancelled")

    monkeypatch.setattr(session_loader, "load_session", slow)
    return started


def _when(started: threading.Event, action) -> None:
    def check():
        if started.is_set():
            action()
        else:
            QTimer.singleShot(10, check)

    QTimer.singleShot(10, check)


def test_a_session_is_read_off_the_gui_thread_and_cancel_keeps_the_open_one(
    qtbot, tmp_path, window, monkeypatch
):
    path = window.save_session(str(tmp_path / "s.rnnviz"))
    started, worker, ticks = _slow_reads(monkeypatch), window.worker, []
    window.timer.timeout.connect(lambda: ticks.append(1))  # the window's frames go on while it reads

    def cancel():
        if len(ticks) < 5:
            QTimer.singleShot(10, cancel)
            return
        dialogs = [d for d in window.findChildren(QProgressDialog) if d.labelText().startswith("Opening")]
        assert len(dialogs) == 1
        dialogs[0].findChild(QPushButton).click()  # its Cancel

    _when(started, cancel)
    assert not window.open_session(path)
    assert window.worker is worker and len(ticks) >= 5 and window.session_load is None
    monkeypatch.undo()
    assert window.open_session(path)  # read for real, it opens


def _session_on(tmp_path, name, corpus):
    from conftest import make_model

    from rnnviz.core.config import TrainConfig
    from rnnviz.core.model import state_arrays
    from rnnviz.core.session_file import save_session

    model = make_model(vocab=len(corpus.vocab), hidden=6)
    state = {"model_cfg": model.cfg, "vocab": corpus.vocab, "corpus": corpus,
             "train": TrainConfig(seed=1).to_dict(), "preset": None}  # fmt: skip
    return str(save_session(tmp_path / name, state, state_arrays(model), 1, "", {}, {}))


def test_the_corpus_selector_never_reads_a_path_a_session_named(qtbot, tmp_path, window):
    """Session A names a file of the receiver's (with a harmless copy); session B moves on. Choosing
    A's path in the selector and Reset trains on A's copy: the file at that path is never read."""
    from rnnviz.core.corpus import Corpus

    secret = tmp_path / "secret.txt"
    secret.write_text("a private key, not a corpus. " * 40)
    harmless = Corpus.from_text("a harmless text, nothing more. " * 40, "char", str(secret))
    assert window.open_session(_session_on(tmp_path, "a.rnnviz", harmless))
    other = Corpus.from_text("another text of the sender's. " * 40, "char", str(tmp_path / "other.txt"))
    assert window.open_session(_session_on(tmp_path, "b.rnnviz", other))
    window.controls.corpus.setCurrentIndex(window.controls.corpus.findData(str(secret)))
    assert window.controls.corpus_spec() == str(secret)
    window._on_reset()
    assert window.worker.trainer.corpus.text.startswith("a harmless text")
