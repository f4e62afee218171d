"""Each view given a real trace shows the right shapes, levels and exact values."""

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from qt_helpers import VOCAB, assert_heatmap, real_trace

from rnnviz.qt.views.common import IndexImage, configure_pyqtgraph, fmt, symmetric_levels
from rnnviz.qt.views.gradients import GradientBars
from rnnviz.qt.views.heatmap import SequenceHeatmap
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.predictions import PredictionBars
from rnnviz.qt.views.step_plot import token_ticks


@pytest.fixture(autouse=True)
def _pg(qapp):
    configure_pyqtgraph()


def test_heatmap_shows_units_by_steps_with_fixed_levels(qtbot):
    m = SequenceHeatmap("h", "h", "CET-CBD1", (-1.0, 1.0))
    qtbot.addWidget(m)
    data = np.linspace(-1, 1, 7 * 5).reshape(7, 5)  # (T, H)
    m.set_data(data, list("welcome"), [False] * 6 + [True])
    assert_heatmap(m, data.T)
    assert m.levels() == (-1.0, 1.0)
    assert m.image.image[0, 0] == 0 and m.image.image[-1, -1] == 255  # the ends of the colour map
    seen = []
    m.hovered.connect(seen.append)
    m._on_hover(6.2, 3.7)
    assert seen[-1].startswith("step 6 'e'  unit 3  h = ") and f"{data[6, 3]:.4g}" in seen[-1]
    assert "not in the vocabulary" in seen[-1]
    m._on_hover(9.0, 1.0)
    assert seen[-1] == ""


@pytest.mark.parametrize("alpha", [False, True])
def test_an_index_image_has_the_pixels_pyqtgraph_would_paint(qtbot, alpha):
    """IndexImage makes the 32-bit pixels itself (Qt converts an indexed image on every paint):
    they are pyqtgraph's own, with an alpha channel (premultiplied) or without."""
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 256, (13, 29), dtype=np.uint8)  # (rows y, columns x)
    table = rng.integers(0, 256, (256, 4 if alpha else 3), dtype=np.uint8)
    if alpha:
        table[:4, 3] = (0, 255, 1, 128)
    ours, theirs = IndexImage(), pg.ImageItem()
    for item in (ours, theirs):
        item.setImage(indices, autoLevels=False, levels=(0, 255))
    for lut in (table, table[::-1].copy()):  # a new map gives new pixels
        for item in (ours, theirs):
            item.setLookupTable(lut)
            item.render()
        assert ours.qimage.format() != theirs.qimage.format()  # not pyqtgraph's path
        got = ours.qimage.convertToFormat(QImage.Format.Format_ARGB32)
        want = theirs.qimage.convertToFormat(QImage.Format.Format_ARGB32)
        assert (got.width(), got.height()) == (29, 13)
        for y, x in np.ndindex(13, 29):  # every pixel
            a, b = got.pixelColor(int(x), int(y)), want.pixelColor(int(x), int(y))
            assert a.alpha() == b.alpha() == (lut[indices[y, x], 3] if alpha else 255), (x, y)
            if b.alpha():  # premultiplied and back: a channel may be off a little when alpha is small
                tol = 0 if b.alpha() == 255 else 255 // b.alpha() + 1
                assert all(abs(u - v) <= tol for u, v in zip(a.getRgb()[:3], b.getRgb()[:3], strict=True))


def test_symmetric_levels_are_the_largest_finite_magnitude():
    assert symmetric_levels(np.array([[0.5, -2.0], [1.0, 0.0]])) == (-2.0, 2.0)
    assert symmetric_levels(np.array([0.5, -2.0, np.nan, np.inf, -np.inf])) == (-2.0, 2.0)
    assert symmetric_levels(np.array([np.nan, np.inf])) == (-1.0, 1.0)  # nothing finite
    assert symmetric_levels(np.zeros(3)) == (-1e-6, 1e-6) and symmetric_levels(np.zeros(0)) == (-1.0, 1.0)


def test_heatmap_symmetric_levels_follow_data(qtbot):
    m = SequenceHeatmap("c", "c", "CET-CBD1", None)
    qtbot.addWidget(m)
    m.set_data(np.array([[0.5, -3.0], [2.0, 1.0]]), ["a", "b"])
    assert m.levels() == (-3.0, 3.0)
    assert_heatmap(m, np.array([[0.5, -3.0], [2.0, 1.0]]).T)


def test_token_ticks_thin_out_when_narrow():
    tokens = list("abcdefghij" * 5)
    assert len(token_ticks(tokens, None, 10_000)) == 50
    few = token_ticks(tokens, None, 110)
    assert len(few) == 10 and few[1][0] == 5.5
    assert token_ticks([" ", "x"], [False, True], 1000) == [(0.5, "\u2423"), (1.5, "x?")]


@pytest.mark.parametrize(
    "arch,maps,gates", [("lstm", (2, 2), "ifgo"), ("gru", (2, 0), "rzn"), ("rnn", (2, 0), "")]
)
def test_internals_view_draws_every_state_and_gate(qtbot, arch, maps, gates):
    tr = real_trace(arch, layers=2)
    v = InternalsView()
    qtbot.addWidget(v)
    v.set_trace(tr)
    assert (len(v.h_maps), len(v.c_maps)) == maps
    assert "".join(v.gate_maps) == gates
    for n, m in enumerate(v.h_maps):
        assert_heatmap(m, tr.h[n].T)
    for n, m in enumerate(v.c_maps):
        assert_heatmap(m, tr.c[n].T)
    v.show_box.setCurrentIndex(1)  # the gates shown (hidden, they wait)
    v.layer_box.setCurrentIndex(1)
    for g, m in v.gate_maps.items():
        assert_heatmap(m, tr.gates[g][1].T)
        assert m.levels() == ((-1.0, 1.0) if g in "gn" else (0.0, 1.0))
    v.set_selected(3)
    assert all(m.cursor.isVisible() and m.cursor.value() == 3.5 for m in v.h_maps)
    v.set_selected(None)
    assert not v.grads.cursor.isVisible()


def test_gradient_bars_are_log_norms(qtbot):
    tr = real_trace("rnn", layers=2, target_id=2)
    g = GradientBars()
    qtbot.addWidget(g)
    g.set_grads(tr.grad_h, tr.tokens, tr.target_step, tr.loss_label)
    floor = g.plot.getAxis("left")._tickLevels[0][0][0]
    for k, bar in enumerate(g.bars):
        heights = np.asarray(bar.opts["height"])
        np.testing.assert_allclose(heights + floor, np.log10(tr.grad_h[k]))
    seen = []
    g.hovered.connect(seen.append)
    g._on_hover(2.5, 0)
    assert (
        seen[-1]
        == f"step 2 'l'  ||dL/dh_t||  layer 1: {fmt(tr.grad_h[0, 2])}  layer 2: {fmt(tr.grad_h[1, 2])}"
    )


def test_gradient_bars_leave_out_zero_norms(qtbot):
    g = GradientBars()
    qtbot.addWidget(g)
    g.set_grads(np.array([[1e-3, 1e-2, 0.0]]), list("abc"), 1, "-log p('b')")
    assert list(g.bars[0].opts["x"]) == pytest.approx([0.5, 1.5])


def test_prediction_bars_rank_the_probabilities(qtbot):
    tr = real_trace("gru", layers=1)
    p = PredictionBars(k=4)
    qtbot.addWidget(p)
    p.set_probs(tr.probs[-1], VOCAB.tokens, "next")
    order = np.argsort(tr.probs[-1])[::-1][:4]
    assert [r[2] for r in p.rows] == list(order)
    assert [r[1] for r in p.rows] == pytest.approx(tr.probs[-1][order])


def test_word_ticks_leave_room_for_words():
    words = ["counted", "the", "ships", "and", "stars"] * 8
    assert len(token_ticks(words, None, 400)) <= 400 // (7 * 7)
    assert len(token_ticks(list("abcdefgh") * 5, None, 440)) == 40


def test_a_short_heatmap_labels_only_the_ends_of_its_axes(qtbot):
    m = SequenceHeatmap("i", "i", "viridis", (0.0, 1.0))
    qtbot.addWidget(m)
    m.set_data(np.random.default_rng(0).random((5, 128)), list("hello"))
    m.resize(400, 300)
    m.show()
    qtbot.waitUntil(lambda: m.plot.vb.height() > 150)
    assert len(m.colorbar.axis._tickLevels[0]) == 3 and m.plot.getAxis("left")._tickLevels is None
    m.resize(400, 90)  # a gate heatmap in a short window: 0, 50 and 100 ran together
    qtbot.waitUntil(lambda: m._short)
    assert [label for _, label in m.colorbar.axis._tickLevels[0]] == ["0", "1"]
    assert m.plot.getAxis("left")._tickLevels == [[(0.5, "0"), (127.5, "127")], []]
    m.resize(400, 300)
    qtbot.waitUntil(lambda: not m._short)
    assert m.plot.getAxis("left")._tickLevels is None


def test_unrolled_hover_names_the_square_painted_under_the_mouse(qtbot):
    """Hover on the unrolled drawing: the step, layer, unit and value of the square of h that is
    painted there (checked against the picture's own pixels)."""
    import torch

    from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
    from rnnviz.core.trace import TraceWeights, trace
    from rnnviz.qt.views.unrolled import UnrolledPanel
    from rnnviz.qt.views.unrolled_paint import _colour

    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=len(VOCAB), arch="lstm", layers=2, hidden=9)
    w = TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg)))
    tr = trace(w, VOCAB.ids(list("welcome")), tokens=list("welcome"), vocab=VOCAB.tokens, level="char")
    panel = UnrolledPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 620)
    panel.show()
    panel.set_trace(tr, w, "many-to-many")
    panel.anim.go(tr.steps - 1)  # the forward pass at its last step: every square painted in colour
    canvas = panel.canvas
    image = canvas.grab().toImage()
    hits, agree, seen = 0, 0, set()
    for x in range(0, canvas.width(), 3):
        for y in range(0, canvas.height(), 3):
            text = canvas.hover_text(x, y)
            if not text:
                continue
            t, layer, unit = (int(text.split()[1]), int(text.split("layer ")[1].split()[0]) - 1,
                              int(text.split("unit ")[1].split()[0]))  # fmt: skip
            v = tr.h[layer, t, unit]
            assert (
                tr.tokens[t] in text
                and f"h = {fmt(v)}" in text
                and f"c = {fmt(tr.c[layer, t, unit])}" in text
            )
            hits += 1
            agree += image.pixelColor(x, y).name() == _colour(float(v)).name()
            seen.add((t, layer, unit))
    assert hits and agree / hits > 0.9  # (the chosen unit's outline and the cell's border differ)
    assert {(t, n) for t, n, _ in seen} == {(t, n) for t in range(7) for n in range(2)}
    assert {u for *_, u in seen} == set(range(9))
    assert canvas.hover_text(2, 2) == ""  # the margin: nothing


def test_every_token_is_labelled_while_it_fits_then_evenly_thinned_and_said(qtbot):
    from rnnviz.qt.views.step_plot import LABEL_GAP, LABEL_PT, MIN_LABEL_PT, max_pair_width, token_layout

    text = list("The keeper counted the ships")
    ticks, every, pt = token_layout(text, None, 28 * 14)
    assert every == 1 and len(ticks) == 28 and [label for _, label in ticks][:4] == ["T", "h", "e", "\u2423"]
    assert pt == LABEL_PT
    smallest = max_pair_width(text, MIN_LABEL_PT) + LABEL_GAP  # px a step needs at the smallest size
    ticks, every, pt = token_layout(text, None, 28 * smallest + 1)  # shrunk, still every token
    assert every == 1 and len(ticks) == 28
    ticks, every, pt = token_layout(text, None, 28 * 3)
    assert every > 1 and pt == MIN_LABEL_PT
    assert {b[0] - a[0] for a, b in zip(ticks, ticks[1:], strict=False)} == {every}  # evenly spaced
    m = SequenceHeatmap("hidden state h", "h", "CET-CBD1", (-1.0, 1.0))
    qtbot.addWidget(m)
    m.set_data(np.zeros((28, 4)), text)
    m.resize(700, 200)
    m.show()
    qtbot.waitUntil(lambda: m.every == 1 and len(m.plot.getAxis("bottom").drawn) == 28)
    assert m.title() == "hidden state h"
    m.resize(300, 200)  # too narrow: the title says which tokens are labelled
    qtbot.waitUntil(lambda: m.every > 1 and "token" in m.title())
    assert len(m.plot.getAxis("bottom").drawn) == len(range(0, 28, m.every))


def test_gradient_axis_marks_unknown_tokens(qtbot):
    g = GradientBars()
    qtbot.addWidget(g)
    g.set_grads(np.array([[1e-3, 1e-2, 1.0]]), list("abc"), 2, "-log p('c')", [False, True, False])
    g.resize(600, 200)
    g.show()
    qtbot.waitUntil(lambda: g.plot.getAxis("bottom")._tickLevels is not None)
    assert [label for _, label in g.plot.getAxis("bottom")._tickLevels[0]] == ["a", "b?", "c"]


@pytest.mark.parametrize("mode", [0, 1])
def test_inside_view_keeps_every_shown_plot_readable(qtbot, mode):
    """The Inside view's room in the main window at 1440x900 (about 640x530), a 2-layer LSTM of
    256 units: what the Show box shows is on screen, each plot at least PLOT_MIN_HEIGHT tall."""
    from rnnviz.qt.views.internals import PLOT_MIN_HEIGHT

    tr = real_trace("lstm", layers=2, hidden=256)
    v = InternalsView()
    qtbot.addWidget(v)
    v.set_trace(tr)
    v.show_box.setCurrentIndex(mode)
    v.resize(640, 530)
    v.show()
    shown = [*(v.h_maps + v.c_maps if mode == 0 else v.gate_maps.values()), v.grads]
    qtbot.waitUntil(lambda: all(m.plot.vb.height() > 10 for m in shown))
    assert all(m.isVisibleTo(v) for m in shown)
    assert not v.page.verticalScrollBar().isVisible()
    assert min(m.plot.vb.height() for m in shown) >= PLOT_MIN_HEIGHT
    hidden = v.gate_maps.values() if mode == 0 else v.h_maps
    assert not any(m.isVisibleTo(v) for m in hidden)


def test_a_double_clicked_plot_fills_the_view_until_escape(qtbot):
    tr = real_trace("lstm", layers=2, hidden=32)
    v = InternalsView()
    qtbot.addWidget(v)
    v.set_trace(tr)
    v.resize(640, 530)
    v.show()
    m = v.c_maps[1]
    qtbot.waitUntil(lambda: m.plot.vb.height() > 10)
    before = m.height()
    m.maximise_requested.emit()
    qtbot.waitUntil(lambda: m.height() > 2 * before)
    assert [p for p in v._plots() if p.isVisible()] == [m]
    qtbot.keyClick(m.glw, Qt.Key.Key_Escape)
    assert v.maximised is None and all(p.isVisible() for p in (*v.h_maps, *v.c_maps, v.grads))


def test_inside_view_labels_every_token_up_to_the_documented_count(qtbot):
    """README: at 1440x900 (the Inside view about 645 px wide) every token of a 50-character text
    is labelled under a 1-layer model's heatmaps and the gradient bars."""
    text = "the keeper counted the ships and the stars of the s"[:50]
    vocab_text = "".join(ch if ch in VOCAB.tokens else "a" for ch in text)
    tr = real_trace("lstm", layers=1, hidden=32, text=vocab_text)
    v = InternalsView()
    qtbot.addWidget(v)
    v.set_trace(tr)
    v.resize(645, 530)
    v.show()
    shown = [v.h_maps[0], v.c_maps[0], v.grads]
    qtbot.waitUntil(lambda: all(len(m.plot.getAxis("bottom").drawn) > 0 for m in shown))
    assert [m.every for m in shown] == [1, 1, 1]
    assert all(len(m.plot.getAxis("bottom").drawn) == 50 for m in shown)


def test_prediction_bars_fit_long_words_and_their_caption(qtbot):
    p = PredictionBars(k=3)
    qtbot.addWidget(p)
    vocab = ["<unk>", "lantern", "a", "extraordinarily"]
    p.set_probs(np.array([0.1, 0.5, 0.3, 0.1]), vocab, "next after step 2 'zebra':")
    p.resize(260, 90)
    p.show()
    qtbot.waitUntil(lambda: len(p.drawn) == 7)
    texts = [shown for _, shown, _ in p.drawn]
    assert "next after step 2 'zebra':" in texts and "'lantern'" in texts and "'extraordinarily'" in texts
    assert all(r.right() <= p.width() for r, _, _ in p.drawn), (p.width(), p.drawn)
    p.resize(120, 90)  # narrow: shortened, the whole text on hover
    qtbot.waitUntil(lambda: p.drawn[0][1] != p.drawn[0][2])
    assert all(r.right() <= p.width() for r, _, _ in p.drawn), (p.width(), p.drawn)


def test_hidden_gate_maps_wait_for_the_trace_until_they_are_shown(qtbot):
    """Hidden (Show: h and c), the gates are not drawn on every keystroke; shown, they hold the
    latest trace's gates at once, the chosen layer's."""
    tr, later = real_trace("lstm", layers=2), real_trace("lstm", layers=2, text="welcome home")
    v = InternalsView()
    qtbot.addWidget(v)
    v.show_box.setCurrentIndex(1)
    v.set_trace(tr)
    v.show_box.setCurrentIndex(0)
    v.set_trace(later)
    assert v.gate_maps["f"].image.image.shape[1] == len("welcome")  # still the first trace's
    assert_heatmap(v.h_maps[0], later.h[0].T)  # (the states are current)
    v.show_box.setCurrentIndex(1)
    for g, m in v.gate_maps.items():
        assert_heatmap(m, later.gates[g][0].T)
    v.show_box.setCurrentIndex(0)
    v.set_trace(tr)
    v.maximise(v.gate_maps["i"])  # a gate maximised from a hidden panel is drawn too
    assert_heatmap(v.gate_maps["i"], tr.gates["i"][0].T)


def test_robust_levels_saturate_a_few_outliers_and_the_bar_says_so(qtbot):
    from rnnviz.qt.views.common import SIGNED
    from rnnviz.qt.views.heatmap import bar_label, positive_levels, robust_levels

    assert [bar_label(v) for v in (0.5, -0.00795, 3e-5, 12345.6, 0.0)] == [
        "0.5",
        "-0.008",
        "3e-05",
        "1e+04",
        "0",
    ]
    data = np.linspace(-1, 1, 400).reshape(40, 10)
    data[3, 4], data[5, 6] = 50.0, -80.0  # two outliers among 400 values
    m = SequenceHeatmap("S6 output h", "h", SIGNED, robust_levels)
    qtbot.addWidget(m)
    m.set_data(data, list("ab" * 20))
    hi = np.percentile(np.abs(data), 99)
    assert m.levels() == pytest.approx((-hi, hi)) and hi < 2  # the colours go to the 400 - 4, not to 80
    assert_heatmap(m, data.T)
    ends = [t for _, t in m.colorbar.axis._tickLevels[0]]
    assert ends == ["\u2264" + bar_label(-hi, 3), "0", "\u2265" + bar_label(hi, 3)]
    assert positive_levels(np.abs(data)) == pytest.approx((0.0, np.percentile(np.abs(data), 99)))
    m.restyle("norm", "\u2016s\u2016", "viridis", positive_levels)  # another quantity from now on
    m.set_data(np.abs(data[:, :3]), list("ab" * 20))
    assert m.levels()[0] == 0.0 and m.cmap == "viridis" and m.value_name == "\u2016s\u2016"
    m.set_difference(True)  # a difference: signed, symmetric, whatever the quantity
    m.set_data(data, list("ab" * 20))
    assert m.levels() == (-80.0, 80.0) and m._title == "A \u2212 B: norm"
    m.restyle("entry", "s[2]", SIGNED, robust_levels)
    assert m._title == "A \u2212 B: entry" and m.fixed_levels is None


@pytest.mark.parametrize("arch", ["mingru", "minlstm", "ssm"])
def test_internals_view_draws_a_modern_cells_states_gates_and_gradients(qtbot, arch):
    tr = real_trace(arch, layers=2)
    v = InternalsView()
    qtbot.addWidget(v)
    v.set_trace(tr)
    v.show_box.setCurrentIndex(2)
    v.layer_box.setCurrentIndex(1)
    assert list(v.gate_maps) == list(tr.cfg.gates) and v.c_maps == []
    for n, m in enumerate(v.h_maps):
        assert_heatmap(m, tr.h[n].T)
    for g, m in v.gate_maps.items():
        assert_heatmap(m, tr.gates[g][1].T)  # B and C: N = 16 rows (the default state size)
        assert m.data.shape[1] == (16 if g in "BC" else 6)
    grad = tr.grad_state if arch == "ssm" else tr.grad_h
    np.testing.assert_array_equal(v.grads.grad, grad)
    assert v.grads.plot.getAxis("left").labelText == ("||dL/ds_t||" if arch == "ssm" else "||dL/dh_t||")
    assert len(v.s_maps) == (2 if arch == "ssm" else 0) and v.s_box.isVisibleTo(v) == (arch == "ssm")
    if arch == "ssm":
        assert [v.s_box.itemText(i) for i in (0, 1, 16)] == [
            "\u2016s\u2016 (norm of N = 16)",
            "n = 0",
            "n = 15",
        ]
        for n, m in enumerate(v.s_maps):
            assert_heatmap(m, np.linalg.norm(tr.state[n], axis=-1).T)
        v.s_box.setCurrentIndex(16)
        for n, m in enumerate(v.s_maps):
            assert_heatmap(m, tr.state[n, :, :, 15].T)
        clicked = []
        v.unit_clicked.connect(lambda *a: clicked.append(a))
        v.s_maps[1].cell_clicked.emit(0, 3)
        assert clicked == [(1, 3, "s")]
