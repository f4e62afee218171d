"""The window against hostile or slow files: sessions read off the GUI thread with Cancel, closing
while something is being read, bad model files, crafted interventions."""

import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QProgressDialog, QPushButton
from qt_helpers import open_main_window

from rnnviz.core.session_file import SessionCancelled
from rnnviz.core.trace import trace
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
    path = window.session_files.save_session(str(tmp_path / "s.rnnviz"))
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
    assert not window.session_files.open_session(path)
    assert window.worker is worker and len(ticks) >= 5 and window.session_files.load is None
    monkeypatch.undo()
    assert window.session_files.open_session(path)  # read for real, it opens


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
    assert window.session_files.open_session(_session_on(tmp_path, "a.rnnviz", harmless))
    other = Corpus.from_text("another text of the sender's. " * 40, "char", str(tmp_path / "other.txt"))
    assert window.session_files.open_session(_session_on(tmp_path, "b.rnnviz", other))
    window.controls.corpus.setCurrentIndex(window.controls.corpus.findData(str(secret)))
    assert window.controls.corpus_spec() == str(secret)
    window.reset()
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
import rnnviz.qt.loader as loader_module
tokenising = threading.Event()

class Watched(Corpus):  # says when the reader has begun tokenising (what it does is unchanged)
    @classmethod
    def from_text(cls, *args, **kwargs):
        tokenising.set()
        return Corpus.from_text(*args, **kwargs)

loader_module.Corpus = Watched
w.files.opener.message.connect(lambda text: print("opener:", text, flush=True))

def busy():
    if what == "corpus":  # the read is done, the tokenising under way: the slowest part to stop
        return w.files.opener.busy() and tokenising.is_set()
    if what == "finder":
        return w.unit_actions.analysis.busy
    if what == "export":
        return w.files.exporting
    if what == "rank":
        return w.units.ranking()
    return w.session_files.load is not None and w.session_files.load.thread.is_alive()

def start():
    if w.latest is None or w.text.probe.weights is None:
        if time.monotonic() - started > 120:
            print("the window never showed a model", flush=True)
            app.quit()
        else:
            QTimer.singleShot(20, start)
        return
    if what == "corpus":
        w.files.opener.open(path, "word", ask=False)
    elif what == "export":  # a long text: rendering its step-through takes seconds
        w.typing.editor.setPlainText("the keeper counted the ships in the harbour " * 4)
        QTimer.singleShot(0, lambda: w.files.export_animation(path))
    elif what == "rank":  # a catastrophic regular expression, matched in a child with a time limit
        w.tabs.setCurrentWidget(w.units)

        def rank():
            if w.units.analysis is None:
                QTimer.singleShot(50, rank)
                return
            w.units.feature.setCurrentText(r"(?:.|.)*$")
            w.units.rank()

        rank()
    elif what == "finder":
        text = open(path).read()
        corpus = Corpus.from_text(text, "char", path, vocab=w.worker.info.corpus.vocab)
        w.unit_actions.analysis.request(w.text.probe.weights, corpus, 0, limit=10**7)
    else:
        QTimer.singleShot(0, lambda: w.session_files.open_session(path))
    QTimer.singleShot(0, close)

def close():
    if not busy():
        if time.monotonic() - started < 120:
            QTimer.singleShot(2, close)
        else:  # the test fails with what it saw, instead of waiting for ever
            seen = w.files.opener.busy(), tokenising.is_set(), w.unit_actions.analysis.busy, w.files.exporting
            print(f"never saw it busy: {seen}", flush=True)
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


@pytest.mark.parametrize("what", ["corpus", "finder", "session", "export", "rank"])
def test_closing_while_reading_never_aborts(tmp_path, big_text, what):
    import subprocess
    import sys

    from rnnviz.core.corpus import Corpus

    path = big_text
    if what == "export":
        path = tmp_path / "steps.gif"
    if what == "session":  # a session carrying a big corpus copy: reading it takes a moment
        path = _session_on(
            tmp_path, "big.rnnviz", Corpus.from_text(big_text.read_text()[:8_000_000], "char", "x")
        )
    r = subprocess.run([sys.executable, "-c", CLOSE_DURING, what, str(path)], capture_output=True,
                       text=True, timeout=240)  # fmt: skip
    assert "closing while busy" in r.stdout, (r.stdout, r.stderr[-2000:])
    assert r.returncode == 0 and "exit clean" in r.stdout, r.stderr[-2000:]
    assert "QThread: Destroyed" not in r.stderr and "Signal source has been deleted" not in r.stderr
    assert "Traceback" not in r.stderr, r.stderr[-2000:]


def test_bad_model_files_give_a_dialog_and_the_app_falls_back(qtbot, tmp_path, window):
    from test_hardening import _bad_models

    from rnnviz.qt.main_window import MainWindow

    bad = _bad_models(tmp_path)
    for name, (data, _) in bad.items():
        (tmp_path / f"{name}.safetensors").write_bytes(data)
    worker = window.worker
    for name in bad:
        assert not window.files.open_model_file(str(tmp_path / f"{name}.safetensors"))  # File > Open model
        assert window.worker is worker and name in window.statusBar().currentMessage()
    w = MainWindow(model=str(tmp_path / "bfloat16.safetensors"))  # rnnviz BAD.safetensors
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.latest is not None, timeout=30_000)
    assert w.worker is not None and "BF16" in w.statusBar().currentMessage() + str(
        w.notify.last_dialog and w.notify.last_dialog.text()
    )
    w.close()


def test_a_session_of_a_thousand_interventions_opens_in_one_pass_with_one_message(qtbot, tmp_path, window):
    """1,000 interventions in a session (valid ones, a contradiction, a layer that does not exist,
    entries rnnviz never wrote): at most MAX_INTERVENTIONS act, the views are traced once, and the
    problems are told in one dialog, not one each."""
    from conftest import make_model

    from rnnviz.core.config import TrainConfig
    from rnnviz.core.corpus import Corpus
    from rnnviz.core.intervene import MAX_INTERVENTIONS
    from rnnviz.core.model import state_arrays
    from rnnviz.core.session_file import save_session

    corpus = Corpus.from_text("a short text for a small model. " * 40, "char", "x")
    model = make_model(vocab=len(corpus.vocab), hidden=6)
    units = [0, 2, 3, 4, 5]  # unit 1 is never zeroed
    saved = [{"layer": 0, "what": "h", "value": 0.0, "units": [units[n % 5]]} for n in range(990)]
    saved[1] = {"layer": 0, "what": "h", "value": 0.5, "units": [1]}  # contradicts the first: refused
    saved[2] = {"layer": 4, "what": "h", "value": 0.0, "units": None}  # no such layer
    saved[3] = "not an intervention"
    state = {"model_cfg": model.cfg, "vocab": corpus.vocab, "corpus": corpus,
             "train": TrainConfig(seed=1).to_dict(), "preset": None}  # fmt: skip
    plain = save_session(tmp_path / "plain.rnnviz", state, state_arrays(model), 1, "hello", {}, {})
    path = save_session(
        tmp_path / "many.rnnviz", state, state_arrays(model), 1, "hello", {"interventions": saved}, {}
    )
    boxes = []
    applied = []
    apply = window.unit_actions.apply_interventions
    window.unit_actions.apply_interventions = lambda: (applied.append(1), apply())
    real_warn = window.notify.warn
    window.notify.warn = lambda text, dialog=False: (boxes.append(text) if dialog else None, real_warn(text))
    try:
        assert window.session_files.open_session(str(plain)), (boxes, window.statusBar().currentMessage())
        assert window.session_files.open_session(str(path)), (boxes, window.statusBar().currentMessage())
    finally:
        del window.unit_actions.apply_interventions, window.notify.warn
    assert applied == [1]  # the views traced once for all the interventions, not once each
    assert (
        len(window.unit_actions.interventions) == MAX_INTERVENTIONS
    )  # the cap: the rest are counted, not applied
    assert [iv.units for iv in window.unit_actions.interventions[:3]] == [
        (0,),
        (5,),
        (0,),
    ]  # in order, the bad ones out
    boxes = [b for b in boxes if "not applied" in b]  # (the others: the session's corpus file, its batch)
    assert len(boxes) == 1, boxes  # one message for every problem
    assert boxes[0].startswith("many.rnnviz: not applied: intervention 4 is not one rnnviz wrote; and 3 more")
    assert f"{990 - 3 - MAX_INTERVENTIONS} more left out" in boxes[0] and "\n" not in boxes[0]
    assert (
        window.unit_actions.banner.isVisible()
        and f"and {MAX_INTERVENTIONS - 3} more" in window.unit_actions.banner_text.text()
    )
    qtbot.waitUntil(lambda: (window.text.last.trace.h[0][:, [0, 2, 3, 4, 5]] == 0).all(), timeout=30_000)
    tr = window.text.last.trace
    ref = trace(window.text.probe.weights, tr.ids, interventions=tuple(window.unit_actions.interventions))
    np.testing.assert_allclose(tr.h, ref.h, atol=1e-6)
    assert not (tr.h[0][:, 1] == 0).all()  # the contradiction (unit 1 at 0.5) was refused; unit 1 runs free


def test_interventions_are_checked_once_each_in_order_and_capped():
    """accept_interventions against layer_edits, the check it speeds up: the same verdicts."""
    from conftest import make_model

    from rnnviz.core.errors import ConfigError
    from rnnviz.core.intervene import MAX_INTERVENTIONS, Intervention, accept_interventions, layer_edits

    cfg = make_model(vocab=5, hidden=6).cfg
    h0 = Intervention(0, "h", 0.0, (1,))
    cands = [h0, Intervention(0, "h", 0.3, (2,)), Intervention(3, "h", 0.0), Intervention(0, "z", 1.0),
             Intervention(0, "h", 0.0, (2, 3)), Intervention(0, "h", 0.0, (9,))]  # fmt: skip
    accepted, problems = accept_interventions(cands, cfg)
    slow = []
    for iv in cands:  # the slow way: the whole list checked again for each
        try:
            layer_edits([*slow, iv], cfg)
            slow.append(iv)
        except ConfigError:
            pass
    assert accepted == slow == [cands[0], cands[4]] and len(problems) == 4
    assert "already set to 0" in problems[0] and "layer must be 1 to 2" in problems[1]
    many = [Intervention(0, "h", 0.0, (n % 6,)) for n in range(1000)]
    accepted, problems = accept_interventions(many, cfg, existing=[cands[0]])
    assert len(accepted) == MAX_INTERVENTIONS - 1 and problems == [
        f"{1000 - MAX_INTERVENTIONS + 1} more left out: at most {MAX_INTERVENTIONS} act at once"
    ]


def test_a_session_named_at_launch_opens_and_a_bad_one_falls_back(qtbot, tmp_path):
    """`rnnviz FILE.rnnviz` (and the desktop file's `rnnviz %f`): the session opens, --text replacing
    its typed text; a file that is not a session gets a dialog, and the default model goes on."""
    from rnnviz.core.corpus import Corpus
    from rnnviz.qt.main_window import MainWindow

    saved = Corpus.from_text("a saved text to go on with. " * 40, "char", "x")
    path = _session_on(tmp_path, "s.rnnviz", saved)
    w = MainWindow(model=path, text="to go")
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.worker is not None and w.worker.info.model_cfg.hidden == 6, timeout=60_000)
    assert w.typing.editor.toPlainText() == "to go" and "Opened" in w.statusBar().currentMessage()
    w.close()
    bad = tmp_path / "bad.rnnviz"
    bad.write_bytes(b"\x80\x04 not a zip")
    w = MainWindow(model=str(bad))
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.notify.last_dialog is not None, timeout=60_000)
    assert "bad.rnnviz is not an rnnviz session" in w.notify.last_dialog.text()
    assert w.worker is not None and w.worker.info.model_cfg.hidden != 6  # the default model goes on
    w.close()
