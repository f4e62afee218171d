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
    while (w.latest is None or w.text.last.trace is None) and time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.01)
    assert w.text.last.trace is not None
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


# ---- HiDPI (scale 2) and word level, in a child: the scale factor is the process's -----------------
HIDPI_CHILD = r"""
import json, os, sys, time
os.environ["QT_SCALE_FACTOR"] = "2"
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication
app = QApplication([])
import test_qt_layout as L
from rnnviz.qt.main_window import MainWindow
from rnnviz.qt.views.step_plot import StepPlot

def settle(w, ms=300):
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)

def axis_problems(w):
    bad = []
    for m in w.findChildren(StepPlot):
        if not m.isVisible() or not m.tokens:
            continue
        image = QImage(8, 8, QImage.Format.Format_RGB32)  # (a plot scrolled out of sight is not
        painter = QPainter(image)  # painted: lay its labels out as a paint would)
        m.plot.getAxis("bottom").generateDrawSpecs(painter)
        painter.end()
        axis = m.plot.getAxis("bottom")
        drawn, bounds = axis.drawn, axis.mapRectFromParent(axis.geometry())
        want = -(-len(m.tokens) // m.every)  # every k-th token, from the first
        rects = [r for r, _ in drawn]
        cut = [s for r, s in drawn if r.left() < -0.5 or r.right() > bounds.width() + 0.5]
        if cut:
            bad.append(f"{m.title()}: labels past the axis' ends: {cut}")
        if len(drawn) < want - 1:
            bad.append(f"{m.title()}: {len(drawn)} labels drawn for {len(m.tokens)} tokens, every {m.every}")
        if any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1:]):
            bad.append(f"{m.title()}: labels overlap")
        if m.every > 1 and "token" not in m.title() + m.glw.toolTip():
            bad.append(f"{m.title()}: thinned without saying so")
    return bad

out = {}
for name, model, text in json.loads(sys.argv[1]):
    w = MainWindow(model=model, text=text)
    w.show()
    end = time.monotonic() + 60
    while (w.latest is None or w.text.last.trace is None) and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    w.resize(1280, 720)  # logical pixels: a 2560x1440 screen at scale 2
    w.inside.setCurrentWidget(w.internals)
    settle(w)
    found = {"device_pixel_ratio": w.devicePixelRatio(), "tokens": len(w.text.last.trace.tokens),
             "width": w.width(), "slider": w.timeline.bar.slider.width()}
    found["labels"], found["titles"] = L.clipped_labels(w), L.clipped_titles(w)
    found["axes"] = axis_problems(w)
    for k in range(w.tabs.count()):
        w.tabs.setCurrentIndex(k)
        settle(w, 80)
        found["labels"] += [f"{w.tabs.tabText(k)}: {t}" for t in L.clipped_labels(w)]
    w.inside.setCurrentWidget(w.unrolled)
    settle(w)
    panel = w.unrolled
    panel.anim.go(len(panel.anim.frames) - 5)
    panel.canvas.repaint()
    found["unrolled"] = [list(map(str, pair)) for pair in L.overlaps(panel.canvas.view.drawn)]
    found["unrolled_texts"] = sum(kind == "text" for kind, _, _ in panel.canvas.view.drawn)
    out[name] = found
    w.close()
    w.deleteLater()
    settle(w, 100)
print(json.dumps(out))
"""


def test_hidpi_scale_2_and_word_level_nothing_clipped(tmp_path):
    """A 2560x1440 screen at scale 2 (1280x720 logical) with the default model, and a 2-layer
    word-level LSTM of 256 units on 40 typed words: no label clipped, no title cut, every time
    axis labels every token or says which it labels (no two labels meeting), and the unrolled
    drawing has no text over text or arrows."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from test_cli import run

    words = tmp_path / "words.safetensors"
    run("train", "--corpus", "builtin:story", "--level", "word", "--layers", 2, "--hidden", 256,
        "--steps", 2, "--out", words)  # fmt: skip
    typed = "the keeper counted the ships in the harbour by the light of the moon and " * 3
    cases = [("default", None, None), ("word", str(words), " ".join(typed.split()[:40]))]
    here = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-c", HIDPI_CHILD, json.dumps(cases)], capture_output=True,
                       text=True, timeout=300, cwd=here, env=env)  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    found = json.loads(p.stdout.strip().splitlines()[-1])
    for name, f in found.items():
        assert f["device_pixel_ratio"] == 2.0, name
        assert f["width"] == 1280 and f["slider"] >= 50, (name, f)  # the window fits the screen
        assert f["labels"] == [] and f["titles"] == [] and f["axes"] == [], (name, f)
        assert f["unrolled"] == [] and f["unrolled_texts"] > 20, (name, f)
    assert found["word"]["tokens"] == 40
