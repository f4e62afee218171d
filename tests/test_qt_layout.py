"""The main window at the screen sizes the README names, offscreen: every visible one-line label
fits its width (or says the whole in its tooltip), every plot title fits its plot, the heatmaps
keep their minimum height, the time axes label every token of the default text, and the unrolled
drawing's texts meet no other text and no arrow. Geometry, not pixels; one window for all sizes."""

import time

import pytest
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QAbstractButton, QLabel

from rnnviz.qt.views.common import configure_pyqtgraph
from rnnviz.qt.views.internals import PLOT_MIN_HEIGHT
from rnnviz.qt.views.step_plot import StepPlot, plain

SIZES = ((1366, 768), (1440, 900), (1920, 1080), (2560, 1440))


def clipped_labels(window) -> list:
    """Visible one-line labels and buttons whose text is wider than they are, without a tooltip
    holding the whole text."""
    bad = []
    for label in window.findChildren(QLabel):
        text = label.text()
        if not label.isVisible() or label.wordWrap() or not text.strip() or "<" in text:
            continue
        if (
            label.fontMetrics().horizontalAdvance(text) > label.contentsRect().width()
            and label.toolTip() != text
        ):
            bad.append(text)
    for b in window.findChildren(QAbstractButton):
        text = b.text().replace("&", "")
        if b.isVisible() and text and b.fontMetrics().horizontalAdvance(text) > b.width() - 4:
            bad.append(f"button {text}")
    return bad


def clipped_titles(window) -> list:
    """Plot titles wider than their plot (a title the plot cannot hold is shortened)."""
    bad = []
    for m in window.findChildren(StepPlot):
        if m.isVisible():
            fm = QFontMetricsF(m.plot.titleLabel.item.font())
            if fm.horizontalAdvance(plain(m.title())) > m.plot.width():
                bad.append(m.title())
    return bad


def overlaps(drawn: list) -> list:
    texts = [(r, s) for kind, r, s in drawn if kind == "text" and s.strip()]
    lines = [r for kind, r, _ in drawn if kind == "line"]
    bad = [(a, b) for i, (ra, a) in enumerate(texts) for rb, b in texts[i + 1 :] if ra.intersects(rb)]
    return bad + [(s, "a line") for r, s in texts if any(r.intersects(q) for q in lines)]


@pytest.fixture(scope="module")
def main_window(qapp):
    """One window for every size (a window starts a training process: seconds)."""
    from rnnviz.qt.main_window import MainWindow

    configure_pyqtgraph()
    w = MainWindow()
    w.show()
    end = time.monotonic() + 20
    while (w.latest is None or w.last_probe.trace is None) and time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.01)
    assert w.last_probe.trace is not None
    yield w
    w.close()
    w.deleteLater()
    qapp.processEvents()


@pytest.fixture
def window(main_window, qtbot):
    return main_window, qtbot


@pytest.mark.parametrize("size", SIZES)
def test_nothing_clipped_and_heatmaps_readable(window, size):
    w, qtbot = window
    w.inside.setCurrentWidget(w.internals)
    w.resize(*size)
    qtbot.wait(200)  # the deferred title fits
    iv = w.internals
    shown = [m for m in iv.findChildren(StepPlot) if m.isVisible()]
    assert shown and clipped_labels(w) == [] and clipped_titles(w) == []
    if size[1] >= 900:  # the README's promise: at least PLOT_MIN_HEIGHT, no scrolling
        assert min(m.plot.vb.height() for m in shown) >= PLOT_MIN_HEIGHT
        assert not iv.page.verticalScrollBar().isVisible()
    if size[0] >= 1440:  # every token of the default 28-character text, on every time axis
        assert [len(m.plot.getAxis("bottom").drawn) for m in shown] == [28] * len(shown)
    for k in range(w.tabs.count()):  # the right-hand tabs
        w.tabs.setCurrentIndex(k)
        qtbot.wait(50)
        assert clipped_labels(w) == [], w.tabs.tabText(k)
    w.tabs.setCurrentIndex(0)


@pytest.mark.parametrize("size", SIZES)
def test_the_unrolled_view_backward_has_no_text_over_text_or_arrows(window, size):
    w, qtbot = window
    w.inside.setCurrentWidget(w.unrolled)
    w.resize(*size)
    panel = w.unrolled
    qtbot.waitUntil(lambda: len(panel.anim.frames) > 0)
    panel.anim.go(len(panel.anim.frames) - 5)  # backward, mid-way: arrows, norms and the panel
    panel.canvas.repaint()
    drawn = panel.canvas.view.drawn
    assert sum(kind == "text" for kind, _, _ in drawn) > 20
    assert overlaps(drawn) == [] and clipped_labels(w) == []
    w.inside.setCurrentWidget(w.internals)
