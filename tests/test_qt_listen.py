"""The "Who listens to whom" tab (qt.views.listen, qt.listening): it draws core.listen's alpha (blank
above the diagonal), names both tokens on hover, follows the typed text and its choices through
its thread, and keeps its matrix square with legible, evenly thinned token labels in the main
window at 1366x768 and 1920x1080."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
from qt_helpers import VOCAB

from rnnviz.core.intervene import Intervention
from rnnviz.core.listen import listen
from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.core.probe import TextProbe
from rnnviz.core.trace import TraceWeights
from rnnviz.qt.listening import ListenController
from rnnviz.qt.views.common import configure_pyqtgraph, fmt, positive_cmap, signed_cmap
from rnnviz.qt.views.listen import LOG_DECADES, ListenView, _indices, _lut, power_of_ten

TEXT = "welcome, come all"


def _model(arch, layers=2, hidden=8):
    torch.manual_seed(0)
    cfg = ModelConfig(len(VOCAB), arch, layers=layers, hidden=hidden, state=4)
    return cfg, state_arrays(CharRNN(cfg))


@pytest.fixture
def controller(qtbot):
    """ListenController(probe, view) for a test, stopped and deleted after it."""
    made = []

    def make(probe, view):
        made.append(ListenController(probe, view))
        return made[-1]

    yield make
    for ctl in made:
        ctl.stop()
        ctl.deleteLater()
    qtbot.wait(10)


@pytest.fixture
def view(qtbot):
    configure_pyqtgraph()
    v = ListenView()
    qtbot.addWidget(v)
    v.resize(700, 560)
    v.show()
    qtbot.waitExposed(v)
    return v


def _hover(view, s: float, t: float) -> str:
    """The read-out with the mouse over column s, row t (a real mouse move over the scene)."""
    pos = view.plot.vb.mapViewToScene(pg_point(s, t))
    view.plot.scene().sigMouseMoved.emit(pos)
    return view.readout.text()


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_the_view_draws_alpha_below_the_diagonal_and_names_both_tokens(view):
    cfg, state = _model("lstm")
    w = TraceWeights.from_state(cfg, state)
    tokens = list(TEXT)
    lis = listen(w, VOCAB.ids(tokens), 1, tokens=tokens)
    view.set_model(cfg)
    view.set_listening(lis)
    T, a = len(tokens), lis.alpha
    hi = np.log10(np.nanmax(a))
    lo = max(np.log10(np.nanmin(a)), hi - LOG_DECADES)
    assert view.colorbar.levels() == pytest.approx((lo, hi))
    with np.errstate(divide="ignore"):
        expected = _indices(np.log10(a), lo, hi)
    np.testing.assert_array_equal(view.image.image, expected)
    assert (view.image.image[np.triu_indices(T, 1)] == 0).all()  # blank above the diagonal
    assert (view.image.image[np.tril_indices(T)] >= 1).all()
    np.testing.assert_array_equal(view.image.lut, _lut(positive_cmap()))
    assert view.image.lut[0, 3] == 0  # index 0 is transparent
    assert (
        _hover(view, 3.5, 12.5)
        == f"t=12 {TEXT[12]!r} listens to s=3 {TEXT[3]!r}: \u2016\u2202h_t/\u2202x_s\u2016 = {fmt(a[12, 3])}"
    )
    assert _hover(view, 12.5, 3.5).startswith(f"s=12 {TEXT[12]!r} comes after t=3 {TEXT[3]!r}")
    assert "Jacobian norm" in view.caption.text() and "not an attention" in view.caption.text()
    view.log.setChecked(False)  # linear: 0 .. the largest
    assert view.colorbar.levels() == pytest.approx((0.0, np.nanmax(a)))
    np.testing.assert_array_equal(view.image.image, _indices(a, 0.0, np.nanmax(a)))


def test_signed_alpha_gets_the_diverging_map_on_a_symmetric_log_scale(view):
    cfg, state = _model("ssm")
    w = TraceWeights.from_state(cfg, state)
    tokens = list(TEXT)
    view.set_model(cfg)
    assert view.channel.isVisible() and view.measure.count() == 2
    for lis in (listen(w, VOCAB.ids(tokens), 0, "along", tokens=tokens),
                listen(w, VOCAB.ids(tokens), 1, channel=5, tokens=tokens)):  # fmt: skip
        view.log.setChecked(True)
        view.set_listening(lis)
        m = np.nanmax(np.abs(lis.alpha))
        f = np.floor(np.log10(m)) - LOG_DECADES + 1  # the floor: 10^f, a power of ten
        assert view.colorbar.levels() == pytest.approx((f - np.log10(m), np.log10(m) - f))
        with np.errstate(divide="ignore", invalid="ignore"):
            shown = np.sign(lis.alpha) * np.clip(np.log10(np.abs(lis.alpha)) - f, 0, None)
        np.testing.assert_array_equal(view.image.image, _indices(shown, f - np.log10(m), np.log10(m) - f))
        labels = dict(view.colorbar.axis._tickLevels[0])
        assert labels[0.0] == "0" and labels[1.0] == power_of_ten(int(f) + 1)
        assert labels[-1.0] == "\u2212" + power_of_ten(int(f) + 1)
        np.testing.assert_array_equal(view.image.lut, _lut(signed_cmap()))
        view.log.setChecked(False)  # linear, symmetric
        assert view.colorbar.levels() == pytest.approx((-m, m))
        np.testing.assert_array_equal(view.image.image, _indices(lis.alpha, -m, m))
    assert "channel 5" in view.caption.text() and "hidden attention" in view.caption.text()
    assert _hover(view, 2.5, 4.5).endswith(f"\u03b1 = {fmt(lis.alpha[4, 2])}")


def test_rows_still_being_computed_are_blank_and_said_so(view):
    cfg, state = _model("gru", layers=1)
    w = TraceWeights.from_state(cfg, state)
    tokens = list(TEXT)
    view.set_model(cfg)
    view.set_listening(listen(w, VOCAB.ids(tokens[:8]), tokens=tokens[:8]), tokens)
    assert view.values.shape == (len(tokens),) * 2 and np.isnan(view.values[8:]).all()
    assert "computing: rows 0\u20137 of 17 so far" in view.caption.text()
    assert _hover(view, 2.5, 12.5).endswith("still being computed")
    assert view.tokens == tokens  # every column labelled from the start


@pytest.mark.parametrize("arch", ["lstm", "minlstm"])
def test_the_tab_follows_the_typed_text_its_choices_and_interventions(view, qtbot, controller, arch):
    cfg, state = _model(arch)
    probe = TextProbe()
    probe.set_weights(cfg, VOCAB, state)
    ctl = controller(probe, view)
    w = probe.weights
    rtol = 2e-4 if arch == "lstm" else 1e-12  # the app's Jacobian runs in float32

    def shows(text, layer=0, ivs=()):
        ref = listen(w, VOCAB.ids(list(text)), layer, interventions=ivs).alpha
        lis = view.listening
        return lis is not None and lis.steps == len(text) and not view.partial and np.allclose(
            lis.alpha, ref, rtol=rtol, atol=1e-9, equal_nan=True)  # fmt: skip

    ctl.follow(probe.run(TEXT))
    qtbot.waitUntil(lambda: shows(TEXT), timeout=10_000)
    ctl.follow(probe.run(TEXT + " me"))  # typed on
    qtbot.waitUntil(lambda: shows(TEXT + " me"), timeout=10_000)
    view.layer.setCurrentIndex(1)  # a choice in the view
    qtbot.waitUntil(lambda: shows(TEXT + " me", 1), timeout=10_000)
    assert view.caption.text().startswith(f"{cfg.name} layer 2")
    probe.interventions = (Intervention(0, "h", 0.0, (1, 2)),)
    ctl.follow(probe.run(TEXT))
    qtbot.waitUntil(lambda: shows(TEXT, 1, probe.interventions), timeout=10_000)
    view.hide()  # a hidden tab asks for nothing
    ctl.follow(probe.run("come"))
    assert ctl._asked is not None and len(ctl._asked[1][0]) == len(TEXT)
    view.show()  # shown again: brought up to date
    qtbot.waitUntil(lambda: shows("come", 1, probe.interventions), timeout=10_000)


# ---- the main window: the tab's layout at the README's smallest and largest screens ------------


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_the_tab_s_matrix_is_square_and_its_labels_legible_in_the_main_window(qtbot, size):
    from qt_helpers import open_main_window

    w = open_main_window(qtbot, timeout=60_000)  # (a training process starts: seconds on a busy machine)
    try:
        w.resize(*size)
        text = "The keeper counted the ships in the bay."
        w.text.set_text(text)
        w.inside.setCurrentWidget(w.listen)
        assert w.help._inside_topic() == "listen"  # its "?" explains it
        v = w.listen
        qtbot.waitUntil(lambda: v.listening is not None and v.listening.steps == len(text) and not v.partial,
                        timeout=20_000)  # fmt: skip
        qtbot.wait(50)
        w.repaint()
        v.glw.grab()  # paint: the axes keep the rectangles they drew
        vb, img = v.plot.vb, v.image.sceneBoundingRect()
        assert abs(img.width() - img.height()) <= 1.5  # square cells, a square matrix
        assert vb.sceneBoundingRect().adjusted(-1, -1, 1, 1).contains(img)
        side_min = {1366: 230, 1920: 420}[size[0]]
        assert img.width() >= side_min, (size, img.width())
        for side in ("bottom", "left"):
            drawn = v.plot.getAxis(side).drawn
            assert len(drawn) == len(range(0, len(text), v.every))  # every k-th, evenly
            rects = [r for r, _ in drawn]
            assert not [(a, b) for i, a in enumerate(rects) for b in rects[i + 1 :] if a.intersects(b)]
        assert v.every <= {1366: 2, 1920: 1}[size[0]]
        for label in (v.readout,):
            assert label.fontMetrics().horizontalAdvance(label.text()) <= label.contentsRect().width()
        for box in (v.layer, v.measure):
            assert box.isVisible() and box.width() >= box.minimumSizeHint().width()
        grid = v.glw.geometry()
        assert v.square.rect().contains(grid)
    finally:
        w.close()


def test_rows_are_shown_as_they_come_for_a_new_text_not_for_new_weights(monkeypatch, qtbot):
    import rnnviz.qt.listening as listening

    monkeypatch.setattr(listening, "PARTIAL_S", -1.0)  # every chunk of rows is shown
    cfg, state = _model("gru")
    w = TraceWeights.from_state(cfg, state)
    ids = np.array(VOCAB.ids(list(TEXT)))
    worker, shown = listening._Worker(), []
    worker.partial.connect(lambda lis, job: shown.append(lis.steps))
    for progressive in (True, False):
        shown.clear()
        job = listening._Job(
            w, ids, tuple(TEXT), np.zeros(len(ids), bool), 0, "norm", None, (), 1, progressive
        )
        worker.listener = None  # afresh
        whole = worker._listen(job)
        np.testing.assert_allclose(whole.alpha, listen(w, ids).alpha, rtol=2e-4, atol=1e-9, equal_nan=True)
        assert shown == ([4, 8, 12, 16] if progressive else [])
    worker.listener, worker.wanted = None, 5  # a newer text was asked for: this job stops at its next step
    assert worker._listen(job) is None


def test_new_weights_alone_wait_for_the_refresh_interval(view, qtbot, controller):
    cfg, state = _model("mingru")
    probe = TextProbe()
    probe.set_weights(cfg, VOCAB, state)
    ctl = controller(probe, view)
    ctl.follow(probe.run(TEXT))
    first = ctl.serial
    probe.set_weights(cfg, VOCAB, {k: v * 1.01 for k, v in state.items()})  # a training step later
    ctl.follow(probe.run(TEXT))
    assert ctl.serial == first and ctl.refresh.isActive()  # not at once: within REFRESH_S
    qtbot.waitUntil(lambda: ctl.serial == first + 1, timeout=5_000)
    assert ctl._asked[0] is probe.weights
    ref = listen(probe.weights, VOCAB.ids(list(TEXT))).alpha
    qtbot.waitUntil(lambda: np.allclose(view.listening.alpha, ref, equal_nan=True), timeout=10_000)


def test_the_app_collects_garbage_on_the_gui_thread_only(qapp):
    """Worker threads (this view's, the neuron finder's reader, loaders) never run the collector:
    the app turns automatic collection off and collects on a GUI-thread timer."""
    from rnnviz.qt.app import collect_on_gui_thread

    was = gc.isenabled()
    gc.enable()
    collector = collect_on_gui_thread()
    try:
        assert not gc.isenabled() and collector.timer.isActive()
        assert collector.timer.thread() is qapp.thread()
    finally:
        collector.timer.stop()
        (gc.enable if was else gc.disable)()
