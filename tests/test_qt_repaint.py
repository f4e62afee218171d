"""What a keystroke repaints: a plot over the text's steps whose length changed is painted once, its
view's transform already set (pyqtgraph set it inside the paint, which dirtied the plot again and
painted it a second time); a token axis draws the same labels without pyqtgraph's QPicture; the
heatmap's colour indices are those of the plain formula, NaN and infinities included."""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QGraphicsItem

from rnnviz.qt.views.common import configure_pyqtgraph
from rnnviz.qt.views.gradients import GradientBars
from rnnviz.qt.views.heatmap import SequenceHeatmap, quantise

TEXT = list("the keeper counted the ships that passed the point")


@pytest.fixture(autouse=True)
def _pg(qapp):
    configure_pyqtgraph()


class PaintCounter(QObject):
    def __init__(self, widget):
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def settle(qtbot) -> None:
    for _ in range(5):
        QApplication.processEvents()
        qtbot.wait(5)


@pytest.mark.parametrize("kind", ["heatmap", "bars"])
def test_a_plot_whose_text_grew_is_painted_once(qtbot, kind):
    if kind == "heatmap":
        plot = SequenceHeatmap("hidden state h", "h", "signed", (-1.0, 1.0))

        def show(T):
            plot.set_data(np.linspace(-1, 1, T * 8).reshape(T, 8), TEXT[:T])
    else:
        plot = GradientBars()

        def show(T):
            plot.set_grads(np.geomspace(1e-6, 1.0, 2 * T).reshape(2, T), TEXT[:T], T - 1, "-log p('e')")

    qtbot.addWidget(plot)
    plot.resize(400, 200)
    plot.show()
    qtbot.waitExposed(plot)
    show(20)
    settle(qtbot)
    viewport = plot.glw.viewport()
    counter = PaintCounter(viewport)
    for T in (21, 22, 21):  # a character typed, another, one deleted
        counter.count = 0
        show(T)
        assert not plot.plot.vb._matrixNeedsUpdate  # the new range is already the view's transform
        settle(qtbot)
        assert counter.count == 1
        assert plot.plot.vb.viewRange()[0] == [0, T]


def test_a_token_axis_draws_every_label_with_or_without_its_cache(qtbot):
    m = SequenceHeatmap("h", "h", "signed", (-1.0, 1.0))
    qtbot.addWidget(m)
    m.resize(600, 200)
    m.show()
    qtbot.waitExposed(m)
    m.set_data(np.zeros((len(TEXT), 4)), TEXT)
    settle(qtbot)
    axis = m.plot.getAxis("bottom")
    drawn = []
    for mode in (QGraphicsItem.CacheMode.DeviceCoordinateCache, QGraphicsItem.CacheMode.NoCache):
        axis.setCacheMode(mode)
        axis.picture = None
        image = QImage(800, 100, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        p = QPainter(image)
        axis.paint(p, None, None)
        p.end()
        drawn.append([(r.getRect(), label) for r, label in axis.drawn])
        assert np.frombuffer(image.constBits(), np.uint8).any()  # something was drawn
    assert drawn[0] == drawn[1] and len(drawn[0]) == len(axis._tickLevels[0])


def reference_quantise(a, lo, hi):
    scaled = np.nan_to_num((np.asarray(a, dtype=np.float32) - lo) * (255.0 / max(hi - lo, 1e-30)))
    return np.ascontiguousarray(np.clip(scaled + 0.5, 0, 255), dtype=np.uint8)


def test_quantise_is_the_plain_formula_with_nan_and_infinities():
    rng = np.random.default_rng(0)
    for _ in range(40):
        a = rng.standard_normal((30, 17)) * 10 ** rng.uniform(-3, 3)
        a.flat[rng.integers(0, a.size, 12)] = rng.choice([np.nan, np.inf, -np.inf, 1e38, -1e38], 12)
        lo, hi = sorted(rng.standard_normal(2) * 3)
        for arr in (a, a.T, a.astype(np.float32)):
            q = quantise(arr, lo, hi)
            assert q.flags.c_contiguous and q.dtype == np.uint8
            np.testing.assert_array_equal(q, reference_quantise(arr, lo, hi))


def test_the_training_curves_are_painted_once_a_refresh_when_their_range_moves(qtbot):
    """The loss, accuracy and bits plots take their new range at once (EagerViewBox): a refresh
    whose points moved the range was painted twice, the second pass ~15 ms after the first."""
    from test_qt_curves import evaluation, run

    from rnnviz.qt.views.curves import TrainingCurves

    view = TrainingCurves()
    qtbot.addWidget(view)
    view.resize(460, 560)
    view.show()
    qtbot.waitExposed(view)
    metrics = run(400)
    view.add_metrics(metrics[:20])
    view.refresh()
    settle(qtbot)
    counter = PaintCounter(view._graphics.viewport())
    moved = 0
    for k in range(20, 400, 20):  # a refresh every 20 steps; the x range grows in jumps
        before = view._plots["loss"].vb.viewRange()[0]
        counter.count = 0
        view.add_metrics(metrics[k : k + 20])
        view.add_evaluation(evaluation(k + 20, 3.0 - k / 400))
        view.refresh()
        assert not any(p.vb._matrixNeedsUpdate for p in view._plots.values())
        settle(qtbot)
        assert counter.count == 1, k
        moved += view._plots["loss"].vb.viewRange()[0] != before
    assert moved >= 2  # (the range did move)
