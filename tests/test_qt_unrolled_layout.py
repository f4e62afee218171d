"""The unrolled drawing's geometry: no text drawn over another text, an arrow or a belt, at the
narrowest columns and the sizes of small and large screens (the painter records its rectangles)."""

import time

import pytest
import torch
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QImage, QPainter
from qt_helpers import VOCAB, PaintStamps

from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.core.trace import TraceWeights, trace
from rnnviz.core.unroll import frame_detail, frames
from rnnviz.qt.views.unrolled import MIN_COL
from rnnviz.qt.views.unrolled_paint import View, paint

TEXT = "welcome a cool mole came low"  # 28 steps, every character in the vocabulary


def unrolled(arch: str, layers: int, hidden: int = 16):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=len(VOCAB), arch=arch, layers=layers, hidden=hidden)
    w = TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg)))
    tokens = list(TEXT)
    return w, trace(w, VOCAB.ids(tokens), tokens=tokens, vocab=VOCAB.tokens, level="char")


def draw(tr, view: View, width: int, height: int) -> list:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    p = QPainter(image)
    paint(p, QRectF(0, 0, width, height), tr, view)
    p.end()
    return view.drawn


def overlaps(drawn: list) -> list:
    texts = [(r, s) for kind, r, s in drawn if kind == "text" and s.strip()]
    lines = [r for kind, r, _ in drawn if kind == "line"]
    bad = [(a, b) for i, (ra, a) in enumerate(texts) for rb, b in texts[i + 1 :] if ra.intersects(rb)]
    return bad + [(s, "a line") for r, s in texts if any(r.intersects(q) for q in lines)]


@pytest.mark.parametrize("arch,layers", [("lstm", 1), ("lstm", 2), ("lstm", 3), ("gru", 2), ("rnn", 1)])
@pytest.mark.parametrize("size", [(1000, 560), (1800, 900)])
def test_no_label_meets_another_or_an_arrow(qapp, arch, layers, size):
    w, tr = unrolled(arch, layers)
    seq = frames(tr)
    for frame in (seq[len(seq) - 10], seq[-1], seq[5]):  # backward mid-way, at step 0, forward
        for col_w in (MIN_COL, 120.0):
            detail = frame_detail(w, tr, frame, layers - 1, 3)
            view = View(frame=frame, first=0, col_w=col_w, unit=3, layer=layers - 1, detail=detail)
            drawn = draw(tr, view, *size)
            assert sum(kind == "text" for kind, _, _ in drawn) > 20
            assert overlaps(drawn) == [], (frame, col_w)


def test_the_loss_mark_has_a_corner_of_its_own(qapp):
    w, tr = unrolled("lstm", 2)
    drawn = draw(tr, View(col_w=MIN_COL), 1200, 700)
    marks = [r for kind, r, s in drawn if s == "L"]
    outputs = [r for kind, r, s in drawn if kind == "text" and "\n" in s]
    assert marks and outputs and not any(m.intersects(o) for m in marks for o in outputs)


def test_a_shortened_caption_is_whole_on_hover(qapp):
    w, tr = unrolled("lstm", 1)
    view = View(frame=frames(tr)[-3], col_w=MIN_COL)
    draw(tr, view, 500, 500)
    assert view.caption.startswith("LSTM 1x16 unrolled over 28 steps \u00b7 ")
    draw(tr, view, 2400, 500)
    assert view.caption == ""


def test_the_cell_panel_fits_its_lines_or_shows_them_whole_on_hover(qapp):
    w, tr = unrolled("lstm", 2)
    frame = frames(tr)[-5]
    view = View(frame=frame, col_w=MIN_COL, unit=3, layer=1, detail=frame_detail(w, tr, frame, 1, 3))
    drawn = draw(tr, view, 640, 560)  # the panel as wide as the Inside tab at 1440x900
    lines = [(r, s) for kind, r, s in drawn if s.startswith(("dL/d", "unit 3", "||dL"))]
    assert len(lines) == 4 and all(r.right() <= 640 - 8 for r, _ in lines)
    assert view.panel == "" or all(s.endswith("\u2026") or s in view.panel for _, s in lines)


def test_long_words_fit_their_boxes(qapp):
    """Word level at the narrowest columns: each input's "x_t word" and each output's predictions
    stay inside their boxes (the text shrinks to 7 pt, then the word is shortened)."""
    from rnnviz.core.corpus import Corpus

    corpus = Corpus.from_text("the keeper counted extraordinarily unforgettable lighthouses . " * 3, "word")
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=len(corpus.vocab), arch="lstm", layers=2, hidden=16)
    w = TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg)))
    ids = corpus.ids[:12]
    tokens = [corpus.vocab.tokens[i] for i in ids]
    tr = trace(w, ids, tokens=tokens, vocab=corpus.vocab.tokens, level="word")
    view = View(col_w=MIN_COL)
    drawn = draw(tr, view, 1200, 700)
    inputs = [r for kind, r, s in drawn if kind == "text" and s.startswith("x") and "  " in s]
    outputs = [r for kind, r, s in drawn if kind == "text" and s.count("\n") == 2]
    assert len(inputs) >= 8 and len(outputs) >= 8
    assert max(r.width() for r in inputs) <= MIN_COL - 18 + 0.5  # the input box, less its margins
    assert max(r.width() for r in outputs) <= MIN_COL - 12 + 0.5
    assert overlaps(drawn) == []


# ---- minGRU, minLSTM, S6: the elementwise decay drawn and named, at the window's two screen sizes ----
MODERN = ("mingru", "minlstm", "ssm")
# The unrolled tab's drawing in the main window at 1366x768 and 1920x1080 (measured offscreen); the
# drawing is at least as tall as it needs (needed_height), the tab scrolls the rest.
CANVAS = {"1366x768": (618, 299), "1920x1080": (983, 611)}


@pytest.mark.parametrize("arch", MODERN)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("screen", CANVAS)
def test_modern_cells_no_label_meets_another_or_an_arrow(qapp, arch, layers, screen):
    from rnnviz.qt.views.unrolled_marks import MARK
    from rnnviz.qt.views.unrolled_paint import DECAY, columns, needed_height

    w, tr = unrolled(arch, layers)
    width, height = CANVAS[screen]
    height = max(height, int(needed_height(tr, True)) + 1)
    seq, detailed = frames(tr), frames(tr, detail=True)
    for frame, first in ((seq[len(seq) - 10], 0), (seq[-1], 0), (seq[5], 0), (detailed[7], 0), (seq[-8], 3)):
        for col_w in (MIN_COL, 120.0):
            detail = frame_detail(w, tr, frame, layers - 1, 3)
            view = View(frame=frame, first=first, col_w=col_w, unit=3, layer=layers - 1, detail=detail)
            drawn = draw(tr, view, width, height)
            texts = [s for kind, _, s in drawn if kind == "text"]
            assert overlaps(drawn) == [], (frame, col_w)
            assert texts.count(DECAY[arch]) == layers  # the decay named once per layer, in the margin
            assert (texts.count("s belt") == layers) == (arch == "ssm")
            marks = [r for kind, r, _ in drawn if kind == "line" and r.width() == r.height() == MARK]
            shown = len(columns(width, view, tr.steps))
            assert len(marks) == layers * (
                shown - 1
            )  # each step's decay from the one before (not in the margin)
            title = "inside the cell" if frame.phase == "forward" else "backpropagation through the cell"
            assert any(s.startswith(title) for s in texts)
            assert all(r.right() <= width - 8 for kind, r, s in drawn if kind == "text" and "=" in s)
            assert view.caption.startswith(("minGRU", "minLSTM", "S6")) or view.caption == ""


def test_the_drawing_paints_at_the_windows_frames_once_each_and_loses_no_update(qtbot):
    """Following a frame timer (as the main window's), the drawing paints only at the end of a
    tick (flush): steps of the playing step-through between two ticks make one paint, of the last
    step's frame, after the tick; with the timer stopped it paints when asked."""
    from rnnviz.qt.views.unrolled import UnrolledPanel

    panel = UnrolledPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 500)
    panel.show()
    qtbot.waitExposed(panel)
    w, tr = unrolled("lstm", 1)
    panel.set_trace(tr, w, "many-to-many")
    qtbot.wait(60)  # (its paint)
    canvas, painted, ticks = panel.canvas, [], []
    stamps = PaintStamps(lambda: painted.append(time.perf_counter()))  # (kept)
    canvas.installEventFilter(stamps)
    frames = QTimer()
    frames.setInterval(25)
    frames.timeout.connect(lambda: (ticks.append(time.perf_counter()), canvas.flush()))
    canvas.follow_frames(frames)
    panel.anim.step(1)  # the timer stopped: painted when asked
    qtbot.waitUntil(lambda: len(painted) == 1, timeout=1000)
    frames.start()
    qtbot.waitUntil(lambda: len(ticks) >= 1, timeout=1000)
    qtbot.wait(40)
    assert len(painted) == 1  # ticks with nothing asked paint nothing
    panel.anim.step(1)
    panel.anim.step(1)  # two steps between two ticks
    asked = time.perf_counter()
    assert canvas._due and len(painted) == 1
    qtbot.waitUntil(lambda: len(painted) == 2, timeout=1000)
    tick = max(t for t in ticks if t <= painted[1])
    assert tick >= asked  # painted after the tick that followed the steps, not before
    assert canvas.view.frame == panel.anim.frames[3]  # the last step's frame is what was drawn
    qtbot.wait(80)
    assert len(painted) == 2  # nothing more: the two steps made one paint
    frames.stop()
