"""The main window with a minGRU, a minLSTM and a selective SSM (S6), as a user meets them: typed
text, the Inside view (h, the S6's state s, each cell's own gates, ||dL/ds_t|| for the S6), the
Units tab (its state box, the neuron finder on the S6's state norms, every intervention the cell
allows), the timeline, comparing two texts, saving and opening a session, exporting; each number
against a direct trace. One window per architecture (a window starts a training process)."""

import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from qt_helpers import assert_heatmap

from rnnviz.core.checkpoint import save_checkpoint
from rnnviz.core.corpus import load_corpus
from rnnviz.core.intervene import GATE_RANGE, Intervention, changeable
from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.core.patch import difference
from rnnviz.core.session import corpus_meta
from rnnviz.core.trace import TraceWeights, trace
from rnnviz.qt.views.common import configure_pyqtgraph

N = 5  # the S6's state size here: its B and C heatmaps have N rows, not H
TYPED = "The keeper counted"


def model_file(folder, arch: str, layers: int = 2, hidden: int = 12, state: int = N) -> str:
    """A fresh model of `arch` on the built-in story, saved as a checkpoint (no training)."""
    corpus = load_corpus("builtin:story", "char")
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=len(corpus.vocab), arch=arch, layers=layers, hidden=hidden, state=state)
    path = folder / f"{arch}-{layers}.safetensors"
    save_checkpoint(path, cfg, corpus.vocab, state_arrays(CharRNN(cfg)), {}, 0, corpus_meta(corpus))
    return str(path)


def settle(qapp, until, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not until() and time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.01)
    assert until(), "timed out"


def open_window(qapp, path: str, size=(1400, 880)):
    from rnnviz.qt.main_window import MainWindow

    configure_pyqtgraph()
    w = MainWindow(model=path, text=TYPED)
    w.resize(*size)
    w.show()
    settle(qapp, lambda: w.latest is not None and w.text.last.trace is not None and not w.text.pending)
    return w


def close(qapp, w) -> None:
    w.close()
    w.deleteLater()
    qapp.processEvents()


@pytest.fixture(scope="module", params=["mingru", "minlstm", "ssm"])
def window(request, qapp, tmp_path_factory):
    w = open_window(qapp, model_file(tmp_path_factory.mktemp(request.param), request.param))
    yield w
    close(qapp, w)


def direct(w, ivs=()):
    """The typed text's trace recomputed from the weights the window reads with."""
    tr = w.text.last.trace
    return trace(w.text.probe.weights, tr.ids, tokens=list(tr.tokens), vocab=tr.vocab, interventions=ivs)


def type_text(qtbot, w, text: str) -> None:
    w.typing.editor.clear()
    qtbot.keyClicks(w.typing.editor, text)
    qtbot.waitUntil(lambda: not w.text.pending, timeout=5000)
    assert "".join(w.text.last.trace.tokens) == text


def assert_shows(w, ref) -> None:
    """The Inside view draws `ref`'s own numbers: h, the S6's state, the gates of the layer shown
    (B and C with N rows), the gradient bars (||dL/ds_t|| for the S6)."""
    iv, cfg = w.internals, ref.cfg
    for n, m in enumerate(iv.h_maps):
        np.testing.assert_allclose(m.data.T, ref.h[n].T, atol=1e-12)
        assert_heatmap(m, m.data.T)
    n = iv.layer_box.currentIndex()
    for g, m in iv.gate_maps.items():
        np.testing.assert_allclose(m.data, ref.gates[g][n], atol=1e-12)
        rows = N if g in ("B", "C") else cfg.hidden
        assert m.image.image.shape == (rows, ref.steps)  # a heatmap of N rows for B_t and C_t
    if cfg.arch == "ssm":
        norms = np.sqrt((ref.state**2).sum(-1))
        for n, m in enumerate(iv.s_maps):
            np.testing.assert_allclose(m.data, norms[n], atol=1e-12)
        np.testing.assert_allclose(iv.grads.grad, ref.grad_state, rtol=1e-9, atol=1e-15)
        assert iv.grads.what == "s" and "||dL/ds_t||" in iv.grads._title
    else:
        np.testing.assert_allclose(iv.grads.grad, ref.grad_h, rtol=1e-9, atol=1e-15)
        assert iv.grads.what == "h" and iv.s_maps == []


def test_typing_shows_the_cells_own_numbers(qtbot, window):
    w = window
    cfg = w.latest.model_cfg
    w.inside.setCurrentWidget(w.internals)
    w.internals.show_box.setCurrentIndex(2)  # everything: the gates too
    w.internals.layer_box.setCurrentIndex(1)
    type_text(qtbot, w, "the ships")
    assert_shows(w, direct(w))
    assert w.status.text().startswith(f"{cfg.name} 2x12" + (f", N = {N}" if cfg.arch == "ssm" else ""))
    assert w.controls.arch_name() == cfg.arch and w.controls.state.isEnabled() == (cfg.arch == "ssm")
    assert w.internals.show_box.itemText(0) == {"ssm": "h and s"}.get(cfg.arch, "h")
    assert all(cfg.name in m._title for m in w.internals.h_maps)
    gates = w.internals.gate_maps
    if cfg.arch == "minlstm":
        assert gates["f"].value_name == "f\u2032" and "f\u2032" in gates["f"]._title
        assert gates["i"].value_name == "i\u2032"
    for g, m in gates.items():
        if g in ("z", "f", "i"):
            assert m.levels() == (0.0, 1.0) and m.cmap_kind == "positive"
    if cfg.arch == "ssm":
        ref = direct(w)
        delta = ref.gates["delta"][1]  # > 0, levels of its own (99% of the values within them)
        assert gates["delta"].levels() == pytest.approx((0.0, np.percentile(delta, 99)))
        assert gates["delta"].cmap_kind == "positive"
        for g in ("B", "C"):
            lo, hi = gates[g].levels()
            assert gates[g].cmap_kind == "signed" and lo == -hi == pytest.approx(
                -np.percentile(abs(ref.gates[g][1]), 99)
            )
            assert gates[g].plot.getAxis("left").labelText == "state index n"
            ends = [t for _, t in gates[g].colorbar.axis._tickLevels[0]]
            v = ref.gates[g][1]  # the largest entries saturate, and the bar's ends say so
            assert (ends[0][0] == "\u2264") == (v.min() < lo) and (ends[-1][0] == "\u2265") == (v.max() > hi)
            assert v.min() < lo or v.max() > hi
        w.internals.s_box.setCurrentIndex(3)  # the entry n = 2 of every channel's state
        for n, m in enumerate(w.internals.s_maps):
            np.testing.assert_allclose(m.data, ref.state[n, :, :, 2], atol=1e-12)
            assert m.cmap_kind == "signed" and "n = 2" in m._title
            assert (
                m.levels()[1]
                == -m.levels()[0]
                == pytest.approx(np.percentile(abs(ref.state[n, :, :, 2]), 99))
            )
        qtbot.keyClick(w.typing.editor, "!")  # the next keystroke follows the choice
        qtbot.waitUntil(lambda: not w.text.pending, timeout=5000)
        np.testing.assert_allclose(w.internals.s_maps[0].data, direct(w).state[0, :, :, 2], atol=1e-12)
        w.internals.s_box.setCurrentIndex(0)
        assert w.internals.s_maps[0].cmap_kind == "positive" and w.internals.s_maps[0].levels()[0] == 0.0
        assert_shows(w, direct(w))
        w.internals.s_maps[1].cell_clicked.emit(2, 4)  # a channel's state: the Units tab shows its norm
        assert w.units.chosen() == (1, 4, "s")


def test_every_intervention_the_cell_allows_through_the_units_tab(qtbot, window):
    w = window
    cfg = w.latest.model_cfg
    u = w.units
    type_text(qtbot, w, "the keeper")
    offered = [u.clamp_what.itemData(i) for i in range(u.clamp_what.count())]
    offered += [u.gate.itemData(i) for i in range(u.gate.count())]
    assert sorted(offered) == sorted(changeable(cfg))  # exactly what an intervention may set
    assert [u.state.itemData(i) for i in range(u.state.count())] == (
        ["h", "s"] if cfg.arch == "ssm" else ["h"]
    )
    intervene = next(b for b in u.findChildren(QPushButton) if b.text() == "Intervene")
    for what in changeable(cfg):
        u.show_unit(1, 3, "h")
        state = u.clamp_what.findData(what) >= 0
        (u.clamp_h if state else u.force_gate).setChecked(True)
        if state:
            u.clamp_what.setCurrentIndex(u.clamp_what.findData(what))
            u.h_value.setValue(0.4)
            value = 0.4
        else:
            u.gate.setCurrentIndex(u.gate.findData(what))
            lo, hi = GATE_RANGE.get(what, (0.0, 1.0))
            assert (u.gate_value.minimum(), u.gate_value.maximum()) == (lo, hi)  # delta: 0 to 10
            value = 2.5 if what == "delta" else 0.9
            u.gate_value.setValue(value)
        qtbot.mouseClick(intervene, Qt.MouseButton.LeftButton)
        iv = Intervention(1, what, value, (3,))
        assert w.unit_actions.interventions == [iv] and iv.describe() in w.unit_actions.banner_text.text()
        tr, ref = w.text.last.trace, direct(w, (iv,))
        for k in ("h", "grad_h", "state", "grad_state"):
            a, b = getattr(tr, k), getattr(ref, k)
            assert (a is None) == (b is None) and (a is None or np.allclose(a, b, rtol=1e-12, atol=1e-15)), k
        for g in cfg.gates:
            np.testing.assert_allclose(tr.gates[g], ref.gates[g], rtol=1e-12, atol=1e-15)
        assert not np.allclose(tr.probs, direct(w).probs)  # it changed the network
        w.internals.show_box.setCurrentIndex(2)
        assert_shows(w, ref)
        w.unit_actions.clear_interventions()
    assert w.unit_actions.interventions == []


def test_the_neuron_finder_reads_the_cells_states(qtbot, window):
    w = window
    cfg = w.latest.model_cfg
    w.tabs.setCurrentWidget(w.units)
    qtbot.waitUntil(lambda: w.units.analysis is not None, timeout=60_000)
    st = w.units.analysis.states
    ids = w.session.info.corpus.ids[:200]
    ref = trace(w.text.probe.weights, ids)
    np.testing.assert_allclose(st.h[:, :200], ref.h, atol=1e-10)
    if cfg.arch == "ssm":  # the activation of "s": the norm of a channel's state row
        np.testing.assert_allclose(st.s[:, :200], np.sqrt((ref.state**2).sum(-1)), atol=1e-10)
        w.units.show_unit(0, 5, "s")
        assert w.units.chosen() == (0, 5, "s") and w.units.text.toHtml().count("background-color") > 500
    else:
        assert st.s is None and st.c is None
    type_text(qtbot, w, "the keeper")
    w.tabs.setCurrentWidget(w.trajectory)  # the path of the typed text over the corpus's states
    qtbot.waitUntil(lambda: len(w.trajectory.path) == w.text.last.trace.steps, timeout=10_000)
    label = "Output h of layer" if cfg.arch == "ssm" else "Hidden state h of layer"  # the S6's h is no state
    assert w.trajectory.layer_label.text() == label
    w.tabs.setCurrentWidget(w.units)
    w.units.feature.setCurrentText("after_space")
    w.units.rank()
    qtbot.waitUntil(lambda: not w.units.ranking(), timeout=30_000)
    states = {w.units.table.item(r, 2).text() for r in range(w.units.table.rowCount())}
    assert "units ranked" in w.units.status.text() and states <= set(st.names)
    w.tabs.setCurrentIndex(0)


def test_weights_tab_timeline_and_the_w_hh_that_is_not_there(qtbot, window):
    w = window
    cfg = w.latest.model_cfg
    w.tabs.setCurrentWidget(w.weights)
    keys = [w.weights.combo.itemData(i) for i in range(w.weights.combo.count())]
    assert sorted(keys) == sorted(w.latest.weights) and not any("weight_hh" in k for k in keys)
    assert (
        w.weights.note.isVisible() and f"A {cfg.name} has no recurrent matrix W_hh" in w.weights.note.text()
    )
    w.timeline.bar.every.setValue(2)
    w.worker.step_once(4)
    qtbot.waitUntil(lambda: w.latest.weights_step >= 4, timeout=60_000)
    steps = [s for s, _ in w.timeline.timeline.points]
    assert steps[0] == 0 and len(steps) >= 2
    w.timeline.bar.slider.setValue(0)  # back to the fresh weights
    old = w.timeline.timeline.points[0][1]
    tr = w.text.last.trace
    ref = trace(TraceWeights.from_state(cfg, old), tr.ids)
    np.testing.assert_allclose(tr.h, ref.h, atol=2e-5)
    w.timeline.bar.slider.setValue(w.timeline.bar.slider.maximum())  # live again
    qtbot.waitUntil(lambda: w.timeline.bar.live, timeout=5000)
    w.tabs.setCurrentIndex(0)


def test_compare_save_open_and_export(qtbot, qapp, window, tmp_path):
    w = window
    cfg = w.latest.model_cfg
    w.inside.setCurrentWidget(w.internals)
    type_text(qtbot, w, "the keeper said")
    w.typing.compare.setText("a keeper said")
    w.typing.compare_mode.setCurrentIndex(2)  # A - B, aligned at the ends
    a, b = w.compare.last_a.trace, w.compare.last_b.trace
    d = difference(a, b)
    np.testing.assert_allclose(w.internals.trace.h, d.h, atol=1e-12)
    assert all(m._title.startswith("A \u2212 B: ") for m in w.internals.gate_maps.values())
    if cfg.arch == "ssm":
        k = min(a.steps, b.steps)
        np.testing.assert_allclose(d.state, a.state[:, -k:] - b.state[:, -k:])
        np.testing.assert_allclose(w.internals.s_maps[0].data, np.sqrt((d.state[0] ** 2).sum(-1)), atol=1e-12)
        np.testing.assert_allclose(w.internals.grads.grad, a.grad_state[:, -k:])
    w.typing.compare.setText("")
    w.typing.compare_mode.setCurrentIndex(0)
    # a session of this cell, with an intervention and the Units tab's choice, saved and opened again
    what = changeable(cfg)[-1]
    iv = Intervention(0, what, 0.0 if what in ("h", "s") else 0.5, (2,))
    w.unit_actions.add_intervention(iv)
    w.units.show_unit(0, 2, "s" if cfg.arch == "ssm" else "h")
    path = w.session_files.save_session(str(tmp_path / "modern.rnnviz"))
    w.unit_actions.clear_interventions()
    assert w.session_files.open_session(path)
    settle(qapp, lambda: w.latest is not None and w.latest.model_cfg == cfg)
    assert w.unit_actions.interventions == [iv]
    assert w.units.chosen() == (0, 2, "s" if cfg.arch == "ssm" else "h")
    c = w.controls
    assert (
        c.arch_name() == cfg.arch
        and c.state.value() == cfg.state
        and c.state.isEnabled() == (cfg.arch == "ssm")
    )
    assert c.model_config(cfg.vocab_size) == cfg  # the settings give this model back (Reset)
    np.testing.assert_allclose(w.text.last.trace.h, direct(w, (iv,)).h, atol=1e-12)
    w.unit_actions.clear_interventions()
    # the Inside view exported as a picture and a drawing, titled with the cell's name
    png, svg = tmp_path / "inside.png", tmp_path / "inside.svg"
    assert w.session_files.export_to(w.internals, str(png), 1.0)
    assert w.session_files.export_to(w.internals, str(svg))
    assert png.stat().st_size > 10_000 and cfg.name in svg.read_text()


def test_the_settings_offer_every_architecture_by_name_and_the_ssms_state_size(qtbot):
    from rnnviz.core.config import TrainConfig
    from rnnviz.qt.controls import ControlsPanel

    c = ControlsPanel()
    qtbot.addWidget(c)
    names = [c.arch.itemText(i) for i in range(c.arch.count())]
    assert names == ["LSTM", "GRU", "RNN", "minGRU", "minLSTM", "S6 (selective SSM)"]
    assert c.arch_name() == "lstm" and not c.state.isEnabled() and c.state.value() == 16
    c.set_arch("ssm")
    assert c.state.isEnabled() and not c.nonlinearity.isEnabled() and "Reset" in c.pending.text()
    assert (c.state.minimum(), c.state.maximum()) == (1, 256)
    c.state.setValue(7)
    cfg = c.model_config(40)
    assert (cfg.arch, cfg.state) == ("ssm", 7)
    c.set_arch("minlstm")
    assert not c.state.isEnabled() and c.model_config(40).arch == "minlstm"
    c.clear_pending()
    c.show_config("builtin:story", "char", ModelConfig(vocab_size=40, arch="ssm", state=32), TrainConfig())
    assert c.arch.currentText() == "S6 (selective SSM)" and c.state.value() == 32 and c.state.isEnabled()
    assert c.pending.text() == "" and c.model_config(40) == ModelConfig(vocab_size=40, arch="ssm", state=32)
    c.show_config("builtin:story", "char", ModelConfig(vocab_size=40, arch="mingru"), TrainConfig())
    assert c.arch.currentText() == "minGRU" and not c.state.isEnabled()


# ---- the S6 (the tallest Inside view: h and s of each layer; Delta, B and C) at the README's sizes ----
SIZES = ((1366, 768), (1920, 1080))


@pytest.fixture(scope="module", params=[1, 2], ids=["1 layer", "2 layers"])
def ssm_window(request, qapp, tmp_path_factory):
    path = model_file(tmp_path_factory.mktemp("ssm-layout"), "ssm", request.param, hidden=64, state=16)
    w = open_window(qapp, path)
    yield w
    close(qapp, w)


def drawn_height(m) -> float:
    """The height on screen (px) of a heatmap's image: all its rows, not a strip inside the plot."""
    return m.image.mapRectToScene(m.image.boundingRect()).height()


@pytest.mark.parametrize("size", SIZES, ids=["1366x768", "1920x1080"])
def test_the_s6_inside_view_is_legible(qtbot, ssm_window, size):
    from test_qt_layout import clipped_labels, clipped_titles

    from rnnviz.qt.views.internals import PLOT_MIN_HEIGHT
    from rnnviz.qt.views.step_plot import plain

    w, iv = ssm_window, ssm_window.internals
    w.inside.setCurrentWidget(iv)
    w.resize(*size)
    for mode in (0, 1, 2):
        iv.show_box.setCurrentIndex(mode)
        qtbot.wait(250)  # the deferred titles fit
        maps = [m for m in iv._maps() if m.isVisible()]
        expected = {0: len(iv.h_maps) + len(iv.s_maps), 1: 3, 2: 2 * len(iv.h_maps) + 3}[mode]
        assert len(maps) == expected and clipped_labels(w) == [] and clipped_titles(w) == [], mode
        for m in maps:  # a heatmap, not a strip: its rows (N for B and C) share PLOT_MIN_HEIGHT at least
            rows = m.data.shape[1]
            assert drawn_height(m) >= PLOT_MIN_HEIGHT and drawn_height(m) / rows >= PLOT_MIN_HEIGHT / rows
            assert rows == (16 if m in (iv.gate_maps["B"], iv.gate_maps["C"]) else 64)
            assert m._title in plain(m.title()), (m._title, m.title())  # whole: "layer 2" is read
        assert iv.grads.plot.vb.height() >= PLOT_MIN_HEIGHT
        if size[1] >= 1080 and mode < 2:  # what the Show box asks for fits without scrolling
            assert not iv.page.verticalScrollBar().isVisible()
        for box in (iv.show_box, iv.s_box, iv.layer_box):
            if box.isVisible():  # the choice is read whole
                assert box.fontMetrics().horizontalAdvance(box.currentText()) <= box.width() - 20
    iv.show_box.setCurrentIndex(0)
    for k in range(w.tabs.count()):  # the right-hand tabs (Units: the state box, "s", Delta's range)
        w.tabs.setCurrentIndex(k)
        qtbot.wait(50)
        assert clipped_labels(w) == [], w.tabs.tabText(k)
    w.tabs.setCurrentWidget(w.units)
    qtbot.wait(50)
    for box in (w.units.state, w.units.clamp_what, w.units.gate):  # every choice read whole: "\u0394 (step)"
        texts = [box.itemText(i) for i in range(box.count())]
        assert all(box.fontMetrics().horizontalAdvance(t) <= box.width() - 20 for t in texts), texts
    w.tabs.setCurrentIndex(0)
