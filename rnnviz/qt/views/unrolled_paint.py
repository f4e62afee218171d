"""Painting the unrolled network with QPainter, for the app's view and for exported frames alike.

Columns are time steps: the input x_t at the bottom, one cell per layer above it (h_t as a small
heatmap of every unit, the chosen unit outlined; the LSTM cell state c as a belt along the top
of each layer), the top predictions y_t and the loss above. Arrows carry h_(t-1) -> h_t; in the
backward phase dL/dh_t flows right to left, arrow width and colour by its magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPolygonF

from rnnviz.core.trace import Trace
from rnnviz.core.unroll import Frame, grad_shown, revealed
from rnnviz.qt.views.common import lut as cmap_lut
from rnnviz.qt.views.common import signed_cmap
from rnnviz.qt.views.equations import LINE_SUB, backward_equations, equations

__all__ = ["LINE_SUB", "View", "backward_equations", "equations", "paint", "panel_height", "unit_at"]

INK, MUTED, HILITE, GRAD = QColor("#222222"), QColor("#B0B0B0"), QColor("#E69F00"), QColor("#D55E00")
QUIET = QColor("#7A7A7A")  # text that is not the current sub-step's, still readable
INPUT_C, OUTPUT_C, LOSS_C = QColor("#009E73"), QColor("#0072B2"), QColor("#D55E00")
TAXONOMY = ("one-to-one", "one-to-many", "many-to-one", "many-to-many")
LEFT = 52  # the margin where rows are named


@dataclass
class View:
    """What to draw besides the trace: the frame, the visible columns, the chosen unit."""

    frame: Frame | None = None  # None: everything revealed, no gradient
    first: int = 0  # the leftmost column shown
    col_w: float = 96.0  # pixels per time step
    unit: int = 0
    layer: int = 0  # the layer whose chosen unit the detail panel explains
    loss_mode: str = "many-to-many"
    detail: dict | None = None  # core.unroll.frame_detail of the current frame, for the panel
    selected: int | None = None
    # The rectangles of what was drawn at the last paint: ("text", rect, text) and ("line", rect, "")
    # for arrows and belts (a test asserts no text meets another text or a line).
    drawn: list = field(default_factory=list)
    caption: str = ""  # the whole header caption when it had to be shortened (hover shows it)
    panel: str = ""  # the cell panel's whole lines when some had to be shortened (hover shows them)


def _lut() -> np.ndarray:
    return cmap_lut(signed_cmap())


def _colour(v: float, lut=None) -> QColor:
    lut = _lut() if lut is None else lut
    k = int(np.clip((v + 1) / 2 * 255, 0, 255))
    r, g, b = lut[k][:3]
    return QColor(int(r), int(g), int(b))


def columns(width: float, view: View, steps: int) -> range:
    n = max(1, int((width - LEFT - 8) // view.col_w))
    return range(view.first, min(steps, view.first + n))


def paint(p: QPainter, rect: QRectF, tr: Trace, view: View) -> None:
    """Draw the unrolled network of `tr` in `rect` (white background, dark ink: prints well)."""
    global _drawn
    view.drawn.clear()
    _drawn = view.drawn
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.fillRect(rect, QColor("white"))
    font = QFont(p.font())
    font.setPointSizeF(9)
    p.setFont(font)
    L, lut = tr.cfg.layers, _lut()
    top, bottom, layer_h, cell = _geometry(rect, tr, view)
    out_h, in_h, gap = OUT_H, IN_H, GAP
    frame = view.frame
    _header(p, rect, tr, view)
    cols = columns(rect.width(), view, tr.steps)
    x0 = rect.left() + LEFT
    for k, t in enumerate(cols):
        cx = x0 + k * view.col_w + view.col_w / 2
        gx = cx + max(7.0, cell * 0.35)  # where gradients run down, clear of the norms written at cx
        shown = frame is None or revealed(frame, t)
        current = frame is not None and frame.t == t
        # input x_t
        box = QRectF(cx - view.col_w / 2 + 6, bottom - in_h, view.col_w - 12, in_h - 6)
        _box(p, box, INPUT_C if shown else MUTED, current)
        if k == 0:
            _label(p, rect.left() + 2, box.center().y(), "input")
        p.setPen(INK if shown else MUTED)
        _fitted(p, box.adjusted(3, 0, -3, 0), [(f"x{t}  ", _tok(tr.tokens[t]), "")])
        y_cell = bottom - in_h - gap
        below = box.top()
        for n in range(L):
            cbox = QRectF(cx - cell / 2, y_cell - layer_h + 7, cell, cell)
            _arrow(p, QPointF(cx, below), QPointF(cx, cbox.bottom()), INK if shown else MUTED, 1.2)
            if n and frame is not None and grad_shown(frame, tr, t):  # dL/dh of layer n-1 from layer n
                _grad_down(p, tr, n - 1, t, QPointF(gx, cbox.bottom()), QPointF(gx, below))
            if shown:
                _state(p, cbox, tr.h[n, t], view.unit, lut)
            else:
                _box(p, cbox, MUTED, False)
            if current and frame.phase == "forward":
                p.setPen(QPen(HILITE, 3))
                p.drawRect(cbox.adjusted(-3, -3, 3, 3))
            if t > cols.start or t > 0:  # the recurrence h_(t-1) -> h_t (from the margin's edge)
                a = QPointF(max(cbox.left() - view.col_w + cell + 4, x0), cbox.center().y())
                b = cbox.center()
                _arrow(p, a, QPointF(cbox.left() - 2, b.y()), INK if shown else MUTED, 1.2)
            if tr.c is not None:  # the cell state's conveyor belt along the top of the layer
                belt_y = cbox.top() - 4
                p.setPen(QPen(MUTED, 3))
                p.drawLine(QPointF(cx - view.col_w / 2, belt_y), QPointF(cx + view.col_w / 2, belt_y))
                _record_line(QPointF(cx - view.col_w / 2, belt_y), QPointF(cx + view.col_w / 2, belt_y), 3)
                if shown:
                    v = float(tr.c[n, t, view.unit])
                    p.setBrush(_colour(math.tanh(v), lut))
                    p.setPen(QPen(INK, 0.8))
                    p.drawEllipse(QPointF(cx + cell / 2 - 4, belt_y), 4.5, 4.5)
            if k == 0:  # name the rows once, in the margin
                h_rect = _label(p, rect.left() + 2, cbox.center().y(), f"h, layer {n + 1}" if L > 1 else "h")
                if tr.c is not None:  # just above the h label, at the belt when there is room
                    _label(p, rect.left() + 2, min(cbox.top() - 4, h_rect.top() - 9), "c belt")
            if frame is not None and grad_shown(frame, tr, t):
                _grad(p, tr, n, t, cbox, view.col_w)
            below = cbox.top()
            y_cell -= layer_h + gap
        # outputs y_t and where the loss is taken
        obox = QRectF(cx - view.col_w / 2 + 4, top, view.col_w - 8, out_h - 8)
        _arrow(p, QPointF(cx, below), QPointF(cx, obox.bottom()), INK if shown else MUTED, 1.2)
        if frame is not None and grad_shown(frame, tr, t) and t == tr.target_step:  # from the loss
            _grad_down(p, tr, L - 1, t, QPointF(gx, obox.bottom()), QPointF(gx, below))
        _box(p, obox, OUTPUT_C if shown else MUTED, current)
        if k == 0:
            _label(p, rect.left() + 2, obox.center().y(), "output")
        loss = _loss_at(view.loss_mode, t, tr.steps)
        if shown:  # beside the L's own column, when a loss is taken here
            _outputs(p, obox.adjusted(2, 0, -15, 0) if loss else obox, tr, t)
        if loss:  # a loss is taken here: an L in the box's corner
            p.setPen(QPen(LOSS_C, 1.5))
            _text(p, QRectF(obox.right() - 15, obox.top() + 1, 13, 14), Qt.AlignmentFlag.AlignCenter, "L")
        if view.selected == t:
            p.setPen(QPen(GRAD, 1.5, Qt.PenStyle.DashLine))
            p.drawRect(QRectF(cx - view.col_w / 2 + 1, top - 18, view.col_w - 2, bottom - top + 18))
    if view.detail is not None and frame is not None:
        panel_h = panel_height(tr.cfg.arch)
        _panel(p, QRectF(rect.left() + 8, rect.bottom() - panel_h, rect.width() - 16, panel_h - 4), tr, view)
    p.restore()


OUT_H, IN_H, GAP = 56.0, 34.0, 18.0  # the output and input rows' heights, the gap between rows
HEADER_H = 34.0  # the caption and the taxonomy above the drawing


def _geometry(rect: QRectF, tr: Trace, view: View) -> tuple[float, float, float, float]:
    """top and bottom of the drawing, each layer's height, a cell's side."""
    L = tr.cfg.layers
    panel_h = panel_height(tr.cfg.arch) if view.detail is not None else 0.0
    top, bottom = rect.top() + HEADER_H, rect.bottom() - panel_h - 8
    layer_h = max(40.0, (bottom - top - OUT_H - IN_H - GAP * (L + 1)) / L)
    return top, bottom, layer_h, min(layer_h - 14, view.col_w - 30)


MIN_LAYER_H = 60.0  # a layer's row at its lowest: a readable square, and its labels apart


def needed_height(tr: Trace, detail: bool) -> float:
    """The height the drawing needs: the header, the output and input rows, every layer at
    MIN_LAYER_H, the gaps, and the cell panel when it is shown."""
    L = tr.cfg.layers
    panel_h = panel_height(tr.cfg.arch) if detail else 0.0
    return HEADER_H + OUT_H + IN_H + GAP * (L + 1) + L * MIN_LAYER_H + panel_h + 8


def unit_at(rect: QRectF, tr: Trace, view: View, x: float, y: float) -> tuple[int, int, int] | None:
    """(step, layer, unit) of the square of h under (x, y), as paint() draws them, else None."""
    top, bottom, layer_h, cell = _geometry(rect, tr, view)
    k = int((x - rect.left() - LEFT) // view.col_w)
    cols = columns(rect.width(), view, tr.steps)
    if not 0 <= k < len(cols) or cell <= 0:
        return None
    cx = rect.left() + LEFT + k * view.col_w + view.col_w / 2
    H = tr.cfg.hidden
    side = math.ceil(math.sqrt(H))
    for n in range(tr.cfg.layers):
        y_cell = bottom - IN_H - GAP - n * (layer_h + GAP)
        left, cell_top = cx - cell / 2, y_cell - layer_h + 7
        if left <= x < left + cell and cell_top <= y < cell_top + cell:
            u = int((y - cell_top) // (cell / side)) * side + int((x - left) // (cell / side))
            return (cols[k], n, u) if u < H else None
    return None


def panel_height(arch: str) -> float:
    """Room for the cell panel's title and its longest set of lines (forward or backward)."""
    return 30.0 + 18.0 * max(len(LINE_SUB[arch]), 4)


_drawn: list = []  # where _text and _arrow record what they draw (View.drawn, set by paint)


def _text(p: QPainter, r: QRectF, flags, text: str) -> QRectF:
    """drawText, recording the rectangle the text covers."""
    box = p.boundingRect(r, flags, text)
    p.drawText(r, flags, text)
    _drawn.append(("text", box, text))
    return box


def _record_line(a: QPointF, b: QPointF, width: float) -> None:
    w = width / 2
    _drawn.append(("line", QRectF(a, b).normalized().adjusted(-w, -w, w, w), ""))


def _label(p: QPainter, x: float, y: float, text: str) -> QRectF:
    p.setPen(QUIET)
    return _text(
        p, QRectF(x, y - 14, LEFT - 4, 28), Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap, text
    )


def _loss_at(mode: str, t: int, steps: int) -> bool:
    return mode == "many-to-many" or t == steps - 1


def _tok(tok: str) -> str:
    return {"\n": "\u21b5", " ": "\u2423", "\t": "\u21e5"}.get(tok, tok)[:10]


def _box(p: QPainter, r: QRectF, colour: QColor, current: bool) -> None:
    p.setPen(QPen(HILITE if current else colour, 2.5 if current else 1.2))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRoundedRect(r, 4, 4)


def _arrow(p: QPainter, a: QPointF, b: QPointF, colour: QColor, width: float) -> None:
    p.setPen(QPen(colour, width))
    p.drawLine(a, b)
    d = b - a
    n = math.hypot(d.x(), d.y()) or 1.0
    ux, uy = d.x() / n, d.y() / n
    s = 4 + width
    head = QPolygonF([b, QPointF(b.x() - s * ux + s * 0.6 * uy, b.y() - s * uy - s * 0.6 * ux),
                      QPointF(b.x() - s * ux - s * 0.6 * uy, b.y() - s * uy + s * 0.6 * ux)])  # fmt: skip
    p.setBrush(colour)
    p.drawPolygon(head)
    _record_line(a, b, width)
    _drawn.append(("line", head.boundingRect(), ""))


def _state(p: QPainter, r: QRectF, h: np.ndarray, unit: int, lut) -> None:
    """Every unit of h_t as a square grid of colours; the chosen unit outlined."""
    H = len(h)
    side = math.ceil(math.sqrt(H))
    px = r.width() / side
    p.setPen(Qt.PenStyle.NoPen)
    for u in range(H):
        q = QRectF(r.left() + (u % side) * px, r.top() + (u // side) * px, px, px)
        p.fillRect(q, _colour(float(h[u]), lut))
    q = QRectF(r.left() + (unit % side) * px, r.top() + (unit // side) * px, px, px)
    p.setPen(QPen(INK, 1.5))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(q.adjusted(-1, -1, 1, 1))
    p.setPen(QPen(MUTED, 1))
    p.drawRect(r)


def _strength(tr: Trace, v: float) -> float:
    """1 for the largest gradient norm of the trace, falling to 0 twelve decades below it."""
    top = max(float(tr.grad_h.max()), 1e-300)
    return 1 + max(math.log10(v / top), -12.0) / 12 if v > 0 else 0.0


def _grad_pen(strength: float) -> QColor:
    colour = QColor(GRAD)
    colour.setAlphaF(0.25 + 0.75 * strength)
    return colour


def _grad(p: QPainter, tr: Trace, n: int, t: int, cbox: QRectF, col_w: float) -> None:
    """dL/dh_t arriving from step t+1: width and colour by log10 of the norm relative to the
    largest; the norm written under the cell."""
    v = float(tr.grad_h[n, t])
    strength = _strength(tr, v)
    y = cbox.bottom() + 6
    if t < tr.target_step:
        _arrow(p, QPointF(cbox.right() + col_w - cbox.width() - 4, y), QPointF(cbox.right() - 4, y),
               _grad_pen(strength), 1 + 6 * strength)  # fmt: skip
    p.setPen(GRAD)
    font = QFont(p.font())
    p.save()
    font.setPointSizeF(8)
    p.setFont(font)
    # Left of the input arrow (at the cell's middle), under the gradient arrow: nothing crosses it.
    label = QRectF(cbox.center().x() - col_w / 2 + 1, cbox.bottom() + 11, col_w / 2 - 4, 13)
    _text(p, label, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, short_exp(v))
    p.restore()


def short_exp(v: float) -> str:
    """6.5e-3 rather than 6.5e-03: a gradient norm in the room of half a column."""
    mantissa, exp = f"{v:.1e}".split("e")
    return f"{mantissa}e{int(exp)}"


def _grad_down(p: QPainter, tr: Trace, n: int, t: int, a: QPointF, b: QPointF) -> None:
    """The part of dL/dh^n_t coming from above (the loss, or layer n+1), drawn downwards."""
    v = float(tr.grad_above[n, t]) if tr.grad_above is not None else 0.0
    if v > 0:
        strength = _strength(tr, v)
        _arrow(p, a, b, _grad_pen(strength), 1 + 4 * strength)


def _outputs(p: QPainter, r: QRectF, tr: Trace, t: int) -> None:
    p.setPen(INK)
    if tr.values is not None:
        _text(p, r, Qt.AlignmentFlag.AlignCenter, f"y{t} = {tr.values[t]:.3f}")
        return
    top = np.argsort(tr.probs[t])[::-1][:3]
    _fitted(p, r, [("", _tok(tr.vocab[i]), f" {tr.probs[t, i]:.2f}") for i in top])


def _fitted(p: QPainter, r: QRectF, lines: list[tuple[str, str, str]]) -> None:
    """Lines of (prefix, token, suffix) centred in `r`, within its width: a long token shrinks the
    text (9, 8, then 7 pt), then is shortened with an ellipsis."""
    p.save()
    font = QFont(p.font())
    texts = ["".join(line) for line in lines]
    for pt in (9.0, 8.0, 7.0):
        font.setPointSizeF(pt)
        p.setFont(font)
        if max(p.fontMetrics().horizontalAdvance(s) for s in texts) <= r.width():
            break
    else:
        fm = p.fontMetrics()
        texts = [
            a + fm.elidedText(tok, Qt.TextElideMode.ElideRight, r.width() - fm.horizontalAdvance(a + b)) + b
            for a, tok, b in lines
        ]
    _text(p, r, Qt.AlignmentFlag.AlignCenter, "\n".join(texts))
    p.restore()


def _header(p: QPainter, rect: QRectF, tr: Trace, view: View) -> None:
    cfg = tr.cfg
    text = f"{cfg.arch.upper()} {cfg.layers}x{cfg.hidden} unrolled over {tr.steps} steps"
    if view.frame is not None:
        text += " \u00b7 " + view.frame.caption(tr)
    # the taxonomy, right-aligned, this training mode highlighted; the caption gets the rest
    kind = "many-to-one" if view.loss_mode == "many-to-one" else "many-to-many"
    fm = p.fontMetrics()
    widths = [fm.horizontalAdvance(name) + 12 for name in TAXONOMY]
    x = rect.right() - 8 - sum(widths) - 6 * (len(widths) - 1)
    room = max(int(x - rect.left() - 16), 0)
    p.setPen(INK)
    caption = fm.elidedText(text, Qt.TextElideMode.ElideRight, room)
    view.caption = text if caption != text else ""
    p.drawText(QRectF(rect.left() + 8, rect.top() + 4, room, 26), Qt.AlignmentFlag.AlignVCenter, caption)
    for name, w in zip(TAXONOMY, widths, strict=True):
        p.setPen(QPen(LOSS_C if name == kind else MUTED))
        r = QRectF(x, rect.top() + 6, w, 20)
        p.drawRoundedRect(r, 3, 3)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, name)
        x += w + 6


def _panel(p: QPainter, r: QRectF, tr: Trace, view: View) -> None:
    """The equations of the current cell for the chosen unit with their numbers: the forward
    pass's terms, or (backward) how dL/dh_t is made from step t+1 and from above."""
    d, f = view.detail, view.frame
    p.setPen(QPen(MUTED, 1))
    p.setBrush(QColor("#F7F7F7"))
    p.drawRoundedRect(r, 4, 4)
    forward = f.phase == "forward"
    if forward:
        lines = equations(tr.cfg.arch, tr.cfg.nonlinearity, d)
        title = f"inside the cell: layer {view.layer + 1}, step {f.t}, unit {view.unit}"
    else:
        lines = backward_equations(tr.cfg.arch, tr.cfg.nonlinearity, d, view.unit, tr.target_step)
        title = f"backpropagation through the cell: layer {view.layer + 1}, step {f.t}, unit {view.unit}"
    p.setPen(INK)
    _text(p, QRectF(r.left() + 8, r.top() + 2, r.width() - 16, 18), Qt.AlignmentFlag.AlignVCenter, title)
    mono = QFont("monospace")
    mono.setStyleHint(QFont.StyleHint.Monospace)
    room = r.width() - 24
    for pt in (9.0, 8.0, 7.0):  # the lines' width: a narrow window gets smaller type, then "..."
        mono.setPointSizeF(pt)
        p.setFont(mono)
        if max(p.fontMetrics().horizontalAdvance(line) for line in lines) <= room:
            break
    shown = [p.fontMetrics().elidedText(line, Qt.TextElideMode.ElideRight, room) for line in lines]
    view.panel = "\n".join(lines) if shown != lines else ""
    for k, line in enumerate(shown):
        on = not forward or f.sub < 0 or LINE_SUB[tr.cfg.arch][k] == f.sub
        p.setPen(INK if on else QUIET)
        _text(p, QRectF(r.left() + 12, r.top() + 22 + k * 18, room, 18), Qt.AlignmentFlag.AlignVCenter, line)
