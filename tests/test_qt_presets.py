"""The Presets menu in the main window: last-letter words and the fable train there, with their
figures beside the references, and the typed text read the way the model was trained."""

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from rnnviz.core.checkpoint import load_checkpoint
from rnnviz.core.trace import TraceWeights, trace
from rnnviz.qt.main_window import MainWindow
from rnnviz.qt.views.common import configure_pyqtgraph


@pytest.fixture
def window(qtbot, qapp):
    configure_pyqtgraph()
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    w.show()
    qtbot.waitUntil(lambda: w.latest is not None, timeout=10_000)
    yield w
    w.close()


def train(qtbot, w, steps: int) -> None:
    """`steps` updates, then wait until the weights and the preset's figures after them have come."""
    end = (w.latest.updates if w.latest else 0) + steps
    w.worker.step_once(steps)
    qtbot.waitUntil(lambda: w.latest is not None and w.latest.weights_step >= end, timeout=60_000)
    if w.presets.preset is not None:
        qtbot.waitUntil(lambda: w.figures.doc.get("steps", -1) >= end, timeout=10_000)
    w._new_weights, w._last_retrace = True, 0.0
    w._on_frame()


def figure(w, label: str) -> str:
    t = w.figures.table
    for r in range(t.rowCount()):
        if t.item(r, 0).text() == label:
            return t.item(r, 1).text()
    raise AssertionError(f"no row {label!r}")


def test_words_preset_trains_and_shows_each_words_guess(qtbot, window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Presets")
    titles = [a.text() for a in menu.actions()]
    assert len(titles) == 5 and titles[0].startswith("Last-letter words")
    menu.actions()[0].trigger()
    assert window.tabs.currentWidget() is window.figures
    assert window.controls.samples.currentData() == "words" and not window.controls.loss_mode.isEnabled()
    train(qtbot, window, 150)
    snap = window.latest
    w = TraceWeights.from_state(snap.model_cfg, snap.weights)
    rows = window.figures.words
    assert rows.rowCount() == 30
    right = 0
    for r in range(rows.rowCount()):  # each guess, recomputed with the numpy trace of the word
        word = rows.item(r, 0).text()
        probs = trace(w, snap.vocab.encode(word[:-1])).probs[-1]
        assert rows.item(r, 2).text() == snap.vocab.tokens[int(np.argmax(probs))]
        right += rows.item(r, 2).text() == word[-1]
    assert figure(window, "accuracy") == f"{right / 30:.1%}"
    assert figure(window, "reference: always the most frequent target") == "30.0%"
    # the typing box reads the last word only, and completes it with one letter
    window.typing.editor.setPlainText("hello welcom")
    tr = window.text.last.trace
    assert "".join(tr.tokens) == "welcom" and "last word only" in window.typing.info.text()
    assert window.typing.continuation.text().endswith(
        f"{snap.vocab.tokens[int(np.argmax(tr.probs[-1]))]}</b>"
    )
    # a Reset on the preset's own data keeps the preset, with the changed settings
    window.controls.hidden.setValue(16)
    window.reset()
    assert window.presets.preset.name == "words" and window.worker.info.model_cfg.hidden == 16


def test_fable_reads_three_words_and_names_unknown_ones(qtbot, window, tmp_path, monkeypatch):
    window.presets.open_preset("fable")
    assert window.typing.editor.toPlainText() == "Then came a"
    train(qtbot, window, 120)
    assert float(figure(window, "accuracy").rstrip("%")) > 50
    assert any(
        label.startswith("reference: the tutorial's 2-layer LSTM(512)") for label in figure_labels(window)
    )
    window.typing.editor.setPlainText("the wet zebra came a")
    tr = window.text.last.trace
    assert tr.tokens == ("zebra", "came", "a")  # the model's 3-word window
    info = window.typing.info.text()
    assert "reads the last 3 tokens only" in info and "not in the vocabulary: 'zebra'" in info
    assert len(window.typing.continuation.text()) > len("the wet zebra came a")
    # saved with its preset, reopened with it
    path = tmp_path / "fable.safetensors"
    monkeypatch.setattr("rnnviz.qt.file_actions.QFileDialog.getSaveFileName", lambda *a, **k: (str(path), ""))
    window.files.save_model()
    assert load_checkpoint(path).meta["preset"] == "fable"
    monkeypatch.setattr("rnnviz.qt.file_actions.QFileDialog.getOpenFileName", lambda *a, **k: (str(path), ""))
    window.presets.open_preset("words")
    window.files.open_model()
    assert window.presets.preset.name == "fable" and window.text.probe.window == 3


def figure_labels(w) -> list[str]:
    return [w.figures.table.item(r, 0).text() for r in range(w.figures.table.rowCount())]


def test_a_preset_that_cannot_load_says_so(window, monkeypatch):
    from rnnviz.core.errors import CorpusError

    def broken(*_a, **_k):
        raise CorpusError("cannot read the fable")

    monkeypatch.setattr("rnnviz.qt.preset_actions.load_source", broken)
    before = window.worker
    window.presets.open_preset("fable")
    assert window.worker is before  # the model that was training goes on
    assert (
        isinstance(window.notify.last_dialog, QMessageBox)
        and "cannot read" in window.notify.last_dialog.text()
    )


def test_sine_preset_and_value_models_open_the_forecaster(qtbot, window, tmp_path):
    window.presets.open_preset("sine")
    sw = window.presets.series_window
    assert sw is not None and sw.isVisible() and sw.info.model_cfg.regression
    before = window.worker
    # a saved forecaster opened from the main window goes to the same window; the main one goes on
    from rnnviz.cli.presets import save_preset_model
    from rnnviz.core.presets import PRESETS, load_source, preset_trainer
    from rnnviz.core.session import spec_from_checkpoint

    trainer = preset_trainer(PRESETS["sine"], load_source(PRESETS["sine"]), device="cpu", seq_len=12)
    path = tmp_path / "sine.safetensors"
    save_preset_model(path, trainer, "sine")
    window.session.start(spec_from_checkpoint(str(path), "builtin:story"))
    assert window.worker is before and sw.info.cfg.seq_len == 12
    window.close()
    assert not sw.isVisible() and sw.host.process.process.poll() is not None  # its training process ended
