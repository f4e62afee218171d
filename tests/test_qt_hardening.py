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
    assert window.worker.info.corpus.text.startswith("a harmless text")


# ---- closing the window while something is being read: the process never aborts ---------------

CLOSE_DURING = r"""
import os, sys, threading, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from rnnviz.qt.views.common import configure_pyqtgraph
configure_pyqtgraph()
from rnnviz.qt.main_window import MainWindow
from rnnviz.core.corpus import Corpus
w = MainWindow(backend="thread")
w.show()
what, path = sys.argv[1], sys.argv[2]
started = time.monotonic()

def busy():
    if what == "corpus":  # the read is done, the tokenising under way: the slowest part to stop
        return w.opener.busy() and w.opener.progress is not None and w.opener.progress.value() >= 1000
    if what == "finder":
        return w.analysis.busy
    return w.session_load is not None and w.session_load.thread.is_alive()

def start():
    if w.latest is None or w.probe.weights is None:
        QTimer.singleShot(20, start)
        return
    if what == "corpus":
        w.opener.open(path, "word", ask=False)
    elif what == "finder":
        text = open(path).read()
        corpus = Corpus.from_text(text, "char", path, vocab=w.worker.info.corpus.vocab)
        w.analysis.request(w.probe.weights, corpus, 0, limit=10**7)
    else:
        QTimer.singleShot(0, lambda: w.open_session(path))
    QTimer.singleShot(0, close)

def close():
    if not busy():
        if time.monotonic() - started < 120:
            QTimer.singleShot(2, close)
        else:  # the test fails with what it saw, instead of waiting for ever
            print("never saw it busy", flush=True)
            app.quit()
        return
    print("closing while busy", flush=True)
    w.close()
    w.deleteLater()
    QTimer.singleShot(50, app.quit)

QTimer.singleShot(0, start)
app.exec()
w = None  # as main() returns: the window and what it holds are freed
import gc
gc.collect()
print("exit clean", flush=True)
"""


@pytest.fixture(scope="module")
def big_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.txt"
    line = "the keeper counted the ships in the harbour by the light of the moon.\n"
    path.write_text(line * 300_000)  # 21 MB
    return path


@pytest.mark.parametrize("what", ["corpus", "finder", "session"])
def test_closing_while_reading_never_aborts(tmp_path, big_text, what):
    import subprocess
    import sys

    from rnnviz.core.corpus import Corpus

    path = big_text
    if what == "session":  # a session carrying a big corpus copy: reading it takes a moment
        path = _session_on(
            tmp_path, "big.rnnviz", Corpus.from_text(big_text.read_text()[:8_000_000], "char", "x")
        )
    r = subprocess.run([sys.executable, "-c", CLOSE_DURING, what, str(path)], capture_output=True,
                       text=True, timeout=240)  # fmt: skip
    assert "closing while busy" in r.stdout, r.stderr[-2000:]
    assert r.returncode == 0 and "exit clean" in r.stdout, r.stderr[-2000:]
    assert "QThread: Destroyed" not in r.stderr and "Signal source has been deleted" not in r.stderr


def test_bad_model_files_give_a_dialog_and_the_app_falls_back(qtbot, tmp_path, window):
    from test_hardening import _bad_models

    from rnnviz.qt.main_window import MainWindow

    bad = _bad_models(tmp_path)
    for name, (data, _) in bad.items():
        (tmp_path / f"{name}.safetensors").write_bytes(data)
    worker = window.worker
    for name in bad:
        assert not window.open_model_file(str(tmp_path / f"{name}.safetensors"))  # File > Open model
        assert window.worker is worker and name in window.statusBar().currentMessage()
    w = MainWindow(model=str(tmp_path / "bfloat16.safetensors"))  # rnnviz BAD.safetensors
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.latest is not None, timeout=30_000)
    assert w.worker is not None and "BF16" in w.statusBar().currentMessage() + str(
        w.last_dialog and w.last_dialog.text()
    )
    w.close()
