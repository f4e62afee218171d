"""Two texts side by side in the app: B traced beside A, the Inside views showing A, B or A - B,
B's predictions, and the Patching tab, each checked against core.patch computed directly."""

import time

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from rnnviz.core.patch import aligned_labels, difference, patch, unit_effects
from rnnviz.core.trace import trace

A, B = "The keeper counted the", "A sailor counted the"


class Bot:
    """waitUntil without a test item: the window is shared by this module's tests."""

    @staticmethod
    def waitUntil(cond, timeout: int = 10_000) -> None:
        end = time.monotonic() + timeout / 1000
        while not cond():
            assert time.monotonic() < end, "timed out"
            QApplication.processEvents()
            time.sleep(0.005)


@pytest.fixture(scope="module")
def window(qapp):
    from rnnviz.qt.main_window import MainWindow
    from rnnviz.qt.views.common import configure_pyqtgraph

    configure_pyqtgraph()
    w, bot = MainWindow(), Bot()  # one window (and one training process) for the module
    w.resize(1400, 880)
    w.show()
    bot.waitUntil(lambda: w.latest is not None and w.text.last.trace is not None, 15_000)
    w.typing.editor.setPlainText(A)
    w.typing.compare.setText(B)
    bot.waitUntil(lambda: w.compare.last_b is not None and w.compare.last_b.trace is not None)
    yield w, bot
    w.close()
    w.deleteLater()
    QApplication.processEvents()


def traces(w):
    ids = w.text.probe.vocab.ids
    a = trace(w.text.probe.weights, ids(list(A)), list(A), w.text.probe.vocab.tokens)
    b = trace(w.text.probe.weights, ids(list(B)), list(B), w.text.probe.vocab.tokens)
    return a, b


def test_the_patching_tab_shows_the_matrix_and_the_units_of_a_cell(window):
    w, bot = window
    w.inside.setCurrentWidget(w.patching)
    bot.waitUntil(lambda: w.compare.patching is not None, timeout=10_000)
    a, b = traces(w)
    want = patch(w.text.probe.weights, a.ids, b.ids, None, "both", a.vocab, a.tokens, b.tokens)
    np.testing.assert_allclose(w.compare.patching.effect, want.effect, rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(w.patching.map.data, np.nan_to_num(want.effect.T), rtol=1e-9, atol=1e-12)
    caption = w.patching.caption.text()
    assert (
        f"log p {want.clean_logp:.3f} after A" in caption
        and "aligned at their ends (2 steps apart)" in caption
    )
    assert want.offset == -2 and not np.isnan(want.effect).any()  # B is the shorter: every step faces one
    w.patching.map.cell_clicked.emit(8, 0)  # step 8 of B, layer 1
    np.testing.assert_allclose(
        w.patching.unit_effects, unit_effects(w.text.probe.weights, a.ids, b.ids, want, 0, 8)
    )
    w.patching.state.setCurrentText("h only")
    bot.waitUntil(lambda: w.compare.patching.state == "h", timeout=5000)
    h_only = patch(w.text.probe.weights, a.ids, b.ids, None, "h")
    np.testing.assert_allclose(
        w.compare.patching.effect, h_only.effect, rtol=1e-9, atol=1e-12, equal_nan=True
    )
    w.patching.state.setCurrentText("h and c")


def test_the_inside_views_show_a_b_or_their_difference(window):
    w, bot = window
    w.inside.setCurrentWidget(w.internals)
    a, b = traces(w)
    w.typing.compare_mode.setCurrentIndex(1)
    np.testing.assert_allclose(w.internals.trace.h, b.h, atol=1e-5)  # the fast tracer, float32
    assert w.internals.trace.tokens == tuple(B)
    w.typing.compare_mode.setCurrentIndex(2)
    d = difference(a, b)
    assert w.internals.trace.tokens == aligned_labels(tuple(A), tuple(B))
    np.testing.assert_allclose(w.internals.trace.h, a.h[:, 2:] - b.h, atol=1e-5)
    np.testing.assert_allclose(w.internals.trace.h, d.h, atol=1e-5)
    lo, hi = w.internals.h_maps[0].levels()
    assert lo == -hi and hi == pytest.approx(np.abs(d.h).max(), rel=1e-3)  # signed, fitted to the data
    assert w.internals.h_maps[0]._title == "A \u2212 B: hidden state h, layer 1"
    w.typing.compare_mode.setCurrentIndex(0)
    assert w.internals.trace.tokens == tuple(A) and w.internals.h_maps[0].levels() == (-1.0, 1.0)
    assert w.internals.h_maps[0]._title == "hidden state h, layer 1"
    top = int(np.argmax(b.probs[-1]))
    assert w.typing.bars_b.text().startswith(f"B: {b.vocab[top]!r}".replace("' '", "'\u2423'"))


def test_no_second_text_no_comparison(window):
    w, bot = window
    w.typing.compare.setText("")
    assert not w.typing.compare_mode.isEnabled() and w.typing.bars_b.text() == " "
    w.inside.setCurrentWidget(w.patching)
    bot.waitUntil(lambda: w.compare.patching is None, timeout=5000)
    assert "compare with" in w.patching.caption.text()
    w.typing.compare.setText(A)  # the same text: nothing to locate, said in one line
    bot.waitUntil(lambda: "same probability" in w.patching.caption.text(), timeout=5000)
    w.typing.compare.setText(B)


def test_difference_and_labels_are_aligned_at_the_ends():
    from qt_helpers import real_trace

    a, b = real_trace(text="welcome"), real_trace(text="come")
    d = difference(a, b)
    assert d.tokens == ("c", "o", "m", "e") and d.steps == 4
    np.testing.assert_array_equal(d.h, a.h[:, 3:] - b.h)
    np.testing.assert_array_equal(d.gates["f"], a.gates["f"][:, 3:] - b.gates["f"])
    assert aligned_labels(("a", "b", "c"), ("x", "c")) == ("b|x", "c")


def test_show_opens_the_app_on_a_model_and_a_text(qtbot, tmp_path):
    """rnnviz.show(model, text): the app in a process of its own, on that model with that text
    typed (MainWindow(text=...) is what it runs: `rnnviz MODEL --text TEXT`)."""
    import rnnviz
    from rnnviz.core.corpus import assets_dir
    from rnnviz.core.session import DEFAULT_MODEL
    from rnnviz.qt.main_window import MainWindow

    w = MainWindow(model=str(assets_dir() / DEFAULT_MODEL), text="The keeper said")
    qtbot.addWidget(w)
    assert w.typing.editor.toPlainText() == "The keeper said"
    qtbot.waitUntil(lambda: w.text.last.trace is not None and w.text.last.trace.steps == 15, timeout=15_000)
    m = rnnviz.load(assets_dir() / DEFAULT_MODEL)
    app = rnnviz.show(m, "The keeper said")  # saved to a file of its own, then opened
    try:
        time.sleep(4)
        assert app.poll() is None, "the app ended at once"
        assert app.args[-2:] == ["--text", "The keeper said"] and rnnviz.load(app.args[3]).steps == m.steps
    finally:
        app.terminate()
        app.wait(10)


def test_file_import_opens_a_pytorch_model(window, tmp_path):
    """File > Import a PyTorch model: converted by `rnnviz import` in a process of its own, then
    opened; a state dict that does not fit its vocabulary is one message."""
    import json

    import torch
    from PySide6.QtWidgets import QMessageBox
    from safetensors.torch import save_file

    w, bot = window
    torch.manual_seed(0)
    rnn, fc = torch.nn.LSTM(5, 7), torch.nn.Linear(7, 5)
    sd = {
        **{f"lstm.{k}": v for k, v in rnn.state_dict().items()},
        **{f"fc.{k}": v for k, v in fc.state_dict().items()},
    }
    save_file({k: v.detach().contiguous() for k, v in sd.items()}, tmp_path / "mine.safetensors")
    (tmp_path / "vocab.json").write_text(json.dumps(list("abcde")))
    out = tmp_path / "mine.rnnviz.safetensors"
    w.files.import_model_files(str(tmp_path / "mine.safetensors"), str(tmp_path / "vocab.json"), str(out))
    bot.waitUntil(lambda: w.session.model_path == str(out) and w.latest is not None, 60_000)
    assert w.latest.model_cfg.hidden == 7 and w.latest.vocab.tokens == ("<unk>", *"abcde")
    (tmp_path / "four.json").write_text(json.dumps(list("abcd")))
    w.files.import_model_files(
        str(tmp_path / "mine.safetensors"), str(tmp_path / "four.json"), str(tmp_path / "x.st")
    )
    bot.waitUntil(
        lambda: w.notify.last_dialog is not None and "could not be imported" in w.notify.last_dialog.text(),
        60_000,
    )
    assert "the head has 5 outputs but the vocabulary has 4 tokens" in w.notify.last_dialog.text()
    assert isinstance(w.notify.last_dialog, QMessageBox)
