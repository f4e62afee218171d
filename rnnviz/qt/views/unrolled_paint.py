"""Painting the unrolled network with QPainter, for the app's view and for exported frames alike.

Columns are time steps: the input x_t at the bottom, one cell per layer above it (h_t as a small
heatmap of every unit, the chosen unit outlined; the LSTM cell state c as a belt along the top
of each layer, the S6's state s as a belt under it), the top predictions y_t and the loss above.
Arrows carry h_(t-1) -> h_t (through W_hh; in minGRU and minLSTM an elementwise decay, marked with
a circled dot, as where the S6's belt passes from one step to the next); in the backward phase
dL/dh_t (the S6: dL/ds_t) flows right to left, arrow width and colour by its magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen

from rnnviz.core.trace import Trace
from rnnviz.core.unroll import Frame, grad_shown, revealed
from rnnviz.qt.views.equations import LINE_SUB, backward_equations, equations
from rnnviz.qt.views.unrolled_marks import (
    GRAD,
    HILITE,
    INK,
    INPUT_C,
    LOSS_C,
    MUTED,
    OUTPUT_C,
    QUIET,
    arrow,
    colour,
    draw_text,
    fitted,
    outline,
    record_line,
    record_to,
    short_exp,
    signed_lut,
    state_grid,
    times,
    tok_label,
)

_colour, _lut = colour, signed_lut  # the names the theme's tests look for

__all__ = ["LINE_SUB", "View", "backward_equations", "equations", "paint", "panel_height", "unit_at"]

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


def columns(width: float, view: View, steps: int) -> range:
    n = max(1, int((width - LEFT - 8) // view.col_w))
    return range(view.first, min(steps, view.first + n))


def paint(p: QPainter, rect: QRectF, tr: Trace, view: View) -> None:
    """Draw the unrolled network of `tr` in `rect` (white background, dark ink: prints well)."""
    record_to(view.drawn)
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.fillRect(rect, QColor("white"))
    font = QFont(p.font())
    font.setPointSizeF(9)
    p.setFont(font)
    L, lut = tr.cfg.layers, signed_lut()
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
        outline(p, box, INPUT_C if shown else MUTED, current)
        if k == 0:
            _label(p, rect.left() + 2, box.center().y(), "input")
        p.setPen(INK if shown else MUTED)
        fitted(p, box.adjusted(3, 0, -3, 0), [(f"x{t}  ", tok_label(tr.tokens[t]), "")])
        y_cell = bottom - in_h - gap
        below = box.top()
        for n in range(L):
            cbox = QRectF(cx - cell / 2, y_cell - layer_h + 7, cell, cell)
            arrow(p, QPointF(cx, below), QPointF(cx, cbox.bottom()), INK if shown else MUTED, 1.2)
            if n and frame is not None and grad_shown(frame, tr, t):  # dL/dh of layer n-1 from layer n
                _grad_down(p, tr, n - 1, t, QPointF(gx, cbox.bottom()), QPointF(gx, below))
            if shown:
                state_grid(p, cbox, tr.h[n, t], view.unit, lut)
            else:
                outline(p, cbox, MUTED, False)
            if current and frame.phase == "forward":
                p.setPen(QPen(HILITE, 3))
                p.drawRect(cbox.adjusted(-3, -3, 3, 3))
            _through_time(p, tr, n, t, cbox, view, x0, INK if shown else MUTED, lut if shown else None)
            if k == 0:  # name the rows once, in the margin
                _row_labels(p, tr, n, cbox, rect.left() + 2)
            if frame is not None and grad_shown(frame, tr, t):
                _grad(p, tr, n, t, cbox, view.col_w)
            below = cbox.top()
            y_cell -= layer_h + gap
        # outputs y_t and where the loss is taken
        obox = QRectF(cx - view.col_w / 2 + 4, top, view.col_w - 8, out_h - 8)
        arrow(p, QPointF(cx, below), QPointF(cx, obox.bottom()), INK if shown else MUTED, 1.2)
        if frame is not None and grad_shown(frame, tr, t) and t == tr.target_step:  # from the loss
            _grad_down(p, tr, L - 1, t, QPointF(gx, obox.bottom()), QPointF(gx, below))
        outline(p, obox, OUTPUT_C if shown else MUTED, current)
        if k == 0:
            _label(p, rect.left() + 2, obox.center().y(), "output")
        loss = _loss_at(view.loss_mode, t, tr.steps)
        if shown:  # beside the L's own column, when a loss is taken here
            _outputs(p, obox.adjusted(2, 0, -15, 0) if loss else obox, tr, t)
        if loss:  # a loss is taken here: an L in the box's corner
            p.setPen(QPen(LOSS_C, 1.5))
            draw_text(p, QRectF(obox.right() - 15, obox.top() + 1, 13, 14), Qt.AlignmentFlag.AlignCenter, "L")
        if view.selected == t:
            p.setPen(QPen(GRAD, 1.5, Qt.PenStyle.DashLine))
            p.drawRect(QRectF(cx - view.col_w / 2 + 1, top - 18, view.col_w - 2, bottom - top + 18))
    if view.detail is not None and frame is not None:
        panel_h = panel_height(tr.cfg.arch)
        _panel(p, QRectF(rect.left() + 8, rect.bottom() - panel_h, rect.width() - 16, panel_h - 4), tr, view)
    p.restore()


OUT_H, IN_H, GAP = 56.0, 34.0, 18.0  # the output and input rows' heights, the gap between rows
HEADER_H = 34.0  # the caption and the taxonomy above the drawing


DECAY = {
    "mingru": "\u2299 (1\u2212z)",
    "minlstm": "\u2299 f\u2032",
    "ssm": "\u2299 e^\u0394A",
}  # the elementwise
# decay each modern cell multiplies its state by from one step to the next (no matrix W_hh)


def _through_time(p, tr: Trace, n: int, t: int, cbox: QRectF, view: View, x0: float, ink, lut) -> None:
    """What carries step t-1 into step t: the arrow h_(t-1) -> h_t (a matrix W_hh in an RNN, LSTM or
    GRU; minGRU, minLSTM: an elementwise decay, marked with a circled dot), an LSTM's cell state c
    on a belt along the top, or the S6's state s on a belt under the cell (its h_t is no state: no
    h arrow), the decay marked where one step's belt meets the next. lut None: not revealed yet."""
    col_w, cell, cx = view.col_w, cbox.width(), cbox.center().x()
    if tr.cfg.arch != "ssm" and t > 0:
        a = QPointF(max(cbox.left() - col_w + cell + 4, x0), cbox.center().y())
        arrow(p, a, QPointF(cbox.left() - 2, a.y()), ink, 1.2)
        if tr.cfg.modern and a.x() > x0 and cbox.left() - 2 - a.x() >= 20:  # from the cell before
            times(p, QPointF((a.x() + cbox.left() - 8) / 2, a.y()), ink)
    belt = tr.c if tr.c is not None else tr.state
    if belt is None:
        return
    y = cbox.top() - 4 if tr.c is not None else cbox.bottom() + 6
    left, right = QPointF(max(cx - col_w / 2, x0), y), QPointF(cx + col_w / 2, y)
    p.setPen(QPen(MUTED, 3))
    p.drawLine(left, right)
    record_line(left, right, 3)
    if tr.state is not None and t > 0 and cx - col_w / 2 > x0 + 1:  # (not on the margin's edge)
        times(p, QPointF(cx - col_w / 2, y), ink)
    if lut is None:
        return
    p.setPen(QPen(INK, 0.8))
    if tr.c is not None:  # c of the chosen unit, at the belt's right end
        p.setBrush(colour(math.tanh(float(tr.c[n, t, view.unit])), lut))
        p.drawEllipse(QPointF(cx + cell / 2 - 4, y), 4.5, 4.5)
    else:  # the channel's row of s by its entry of the largest size, at the left (the gradient
        row = belt[n, t, view.unit]  # arrives at the right)
        p.setBrush(colour(math.tanh(float(row[np.argmax(np.abs(row))])), lut))
        p.drawRect(QRectF(cx - cell / 2, y - 4, 8, 8))


def _row_labels(p: QPainter, tr: Trace, n: int, cbox: QRectF, x: float) -> None:
    """A layer's names in the margin: h, the belt (c, s), the modern cells' decay."""
    L = tr.cfg.layers
    h_rect = _label(p, x, cbox.center().y(), f"h, layer {n + 1}" if L > 1 else "h")
    if tr.c is not None:  # just above the h label, at the belt when there is room
        _label(p, x, min(cbox.top() - 4, h_rect.top() - 9), "c belt")
    if tr.cfg.modern:
        p.save()
        font = QFont(p.font())
        font.setPointSizeF(8)
        p.setFont(font)
        if tr.state is not None:  # at the belt, under the h label, and its decay under it
            belt = _label(p, x, max(cbox.bottom() + 6, h_rect.bottom() + 8), "s belt")
            _label(p, x, belt.bottom() + 7, DECAY["ssm"])
        else:
            _label(p, x, h_rect.bottom() + 8, DECAY[tr.cfg.arch])
        p.restore()


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


def _label(p: QPainter, x: float, y: float, text: str) -> QRectF:
    p.setPen(QUIET)
    return draw_text(
        p, QRectF(x, y - 14, LEFT - 4, 28), Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap, text
    )


def _loss_at(mode: str, t: int, steps: int) -> bool:
    return mode == "many-to-many" or t == steps - 1


def _strength(tr: Trace, v: float) -> float:
    """1 for the largest gradient norm of the trace (of h, or of the S6's s), falling to 0 twelve
    decades below it."""
    top = max(float(tr.grad_h.max()), 1e-300)
    if tr.grad_state is not None:
        top = max(top, float(tr.grad_state.max()))
    return 1 + max(math.log10(v / top), -12.0) / 12 if v > 0 else 0.0


def _grad_pen(strength: float) -> QColor:
    colour = QColor(GRAD)
    colour.setAlphaF(0.25 + 0.75 * strength)
    return colour


def _grad(p: QPainter, tr: Trace, n: int, t: int, cbox: QRectF, col_w: float) -> None:
    """dL/dh_t arriving from step t+1 (the S6: dL/ds_t, along its state's belt): width and colour by
    log10 of the norm relative to the largest; the norm written under the cell."""
    v = float(tr.grad_h[n, t] if tr.grad_state is None else tr.grad_state[n, t])
    strength = _strength(tr, v)
    y = cbox.bottom() + 6
    if t < tr.target_step:
        arrow(p, QPointF(cbox.right() + col_w - cbox.width() - 4, y), QPointF(cbox.right() - 4, y),
               _grad_pen(strength), 1 + 6 * strength)  # fmt: skip
    p.setPen(GRAD)
    font = QFont(p.font())
    p.save()
    font.setPointSizeF(8)
    p.setFont(font)
    # Left of the input arrow (at the cell's middle), under the gradient arrow: nothing crosses it.
    label = QRectF(cbox.center().x() - col_w / 2 + 1, cbox.bottom() + 11, col_w / 2 - 4, 13)
    draw_text(p, label, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, short_exp(v))
    p.restore()


def _grad_down(p: QPainter, tr: Trace, n: int, t: int, a: QPointF, b: QPointF) -> None:
    """The part of dL/dh^n_t coming from above (the loss, or layer n+1), drawn downwards."""
    v = float(tr.grad_above[n, t]) if tr.grad_above is not None else 0.0
    if v > 0:
        strength = _strength(tr, v)
        arrow(p, a, b, _grad_pen(strength), 1 + 4 * strength)


def _outputs(p: QPainter, r: QRectF, tr: Trace, t: int) -> None:
    p.setPen(INK)
    if tr.values is not None:
        draw_text(p, r, Qt.AlignmentFlag.AlignCenter, f"y{t} = {tr.values[t]:.3f}")
        return
    top = np.argsort(tr.probs[t])[::-1][:3]
    fitted(p, r, [("", tok_label(tr.vocab[i]), f" {tr.probs[t, i]:.2f}") for i in top])


def _header(p: QPainter, rect: QRectF, tr: Trace, view: View) -> None:
    cfg = tr.cfg
    text = f"{cfg.name} {cfg.layers}x{cfg.hidden} unrolled over {tr.steps} steps"
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
    draw_text(p, QRectF(r.left() + 8, r.top() + 2, r.width() - 16, 18), Qt.AlignmentFlag.AlignVCenter, title)
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
        draw_text(
            p, QRectF(r.left() + 12, r.top() + 22 + k * 18, room, 18), Qt.AlignmentFlag.AlignVCenter, line
        )
