"""The marks the unrolled drawing is made of (core.unroll's frames, painted by unrolled_paint):
text, boxes, arrows, the grid of a state, each recording the rectangle it covers in the list
`record_to` was last given (View.drawn), so that a test can assert no text meets another text or
a line.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF

from rnnviz.qt.views.common import lut as cmap_lut
from rnnviz.qt.views.common import signed_cmap

INK, MUTED, HILITE, GRAD = QColor("#222222"), QColor("#B0B0B0"), QColor("#E69F00"), QColor("#D55E00")
QUIET = QColor("#7A7A7A")  # text that is not the current sub-step's, still readable
INPUT_C, OUTPUT_C, LOSS_C = QColor("#009E73"), QColor("#0072B2"), QColor("#D55E00")

_drawn: list = []  # where text and arrows record what they cover (View.drawn, set by record_to)


def record_to(drawn: list) -> None:
    """Record what is drawn from now on into `drawn` (emptied first)."""
    global _drawn
    drawn.clear()
    _drawn = drawn


_LUTS: dict[str, np.ndarray] = {}


def signed_lut() -> np.ndarray:
    """The signed colour map's 256 colours now (read-only; made once a map)."""
    name = signed_cmap()
    if name not in _LUTS:
        _LUTS[name] = cmap_lut(name)
        _LUTS[name].setflags(write=False)
    return _LUTS[name]


def colour(v: float, lut=None) -> QColor:
    lut = signed_lut() if lut is None else lut
    k = int(min(max((v + 1) / 2 * 255, 0.0), 255.0))  # (plain floats: numpy's clip of one number
    r, g, b = lut[k][:3]  # cost 10 us, a thousand times a frame)
    return QColor(int(r), int(g), int(b))


def draw_text(p: QPainter, r: QRectF, flags, text: str) -> QRectF:
    """drawText, recording the rectangle the text covers."""
    box = p.boundingRect(r, flags, text)
    p.drawText(r, flags, text)
    _drawn.append(("text", box, text))
    return box


def record_line(a: QPointF, b: QPointF, width: float) -> None:
    w = width / 2
    _drawn.append(("line", QRectF(a, b).normalized().adjusted(-w, -w, w, w), ""))


def tok_label(tok: str) -> str:
    return {"\n": "\u21b5", " ": "\u2423", "\t": "\u21e5"}.get(tok, tok)[:10]


def outline(p: QPainter, r: QRectF, colour: QColor, current: bool) -> None:
    p.setPen(QPen(HILITE if current else colour, 2.5 if current else 1.2))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRoundedRect(r, 4, 4)


def arrow(p: QPainter, a: QPointF, b: QPointF, colour: QColor, width: float) -> None:
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
    record_line(a, b, width)
    _drawn.append(("line", head.boundingRect(), ""))


MARK = 9.2  # the side of a circled dot: radius 4 and its 1.2 px pen


def times(p: QPainter, at: QPointF, ink: QColor) -> None:
    """A circled dot (an elementwise product) centred on a connection, recorded as a mark."""
    p.setPen(QPen(ink, 1.2))
    p.setBrush(QColor("white"))
    p.drawEllipse(at, 4.0, 4.0)
    p.setBrush(ink)
    p.drawEllipse(at, 1.2, 1.2)
    _drawn.append(("line", QRectF(at.x() - MARK / 2, at.y() - MARK / 2, MARK, MARK), ""))


def state_grid(p: QPainter, r: QRectF, h: np.ndarray, unit: int, lut) -> None:
    """Every unit of h_t as a square grid of colours; the chosen unit outlined."""
    H = len(h)
    side = math.ceil(math.sqrt(H))
    px = r.width() / side
    # One image of side x side pixels (the squares past H transparent), scaled without smoothing:
    # a square per unit, each the colour `colour` gives (one fillRect per unit cost ~3 ms a frame).
    k = np.clip((np.asarray(h, dtype=np.float64) + 1) / 2 * 255, 0, 255).astype(np.intp)
    rgba = np.zeros((side * side, 4), np.uint8)
    rgba[:H, :3], rgba[:H, 3] = np.asarray(lut)[k, :3], 255
    image = QImage(rgba.data, side, side, side * 4, QImage.Format.Format_RGBA8888)
    p.drawImage(QRectF(r.left(), r.top(), side * px, side * px), image)
    q = QRectF(r.left() + (unit % side) * px, r.top() + (unit // side) * px, px, px)
    p.setPen(QPen(INK, 1.5))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(q.adjusted(-1, -1, 1, 1))
    p.setPen(QPen(MUTED, 1))
    p.drawRect(r)


def short_exp(v: float) -> str:
    """6.5e-3 rather than 6.5e-03: a gradient norm in the room of half a column."""
    mantissa, exp = f"{v:.1e}".split("e")
    return f"{mantissa}e{int(exp)}"


_FITS: dict[tuple, tuple[float, str, float, float]] = {}  # fitted()'s layouts, by font, width and lines
_FITS_CAP = 20_000


def fitted(p: QPainter, r: QRectF, lines: list[tuple[str, str, str]]) -> None:
    """Lines of (prefix, token, suffix) centred in `r`, within its width: a long token shrinks the
    text (9, 8, then 7 pt), then is shortened with an ellipsis. The layout is measured once for a
    font, width and lines (the same every paint: measuring was a fifth of a paint)."""
    key = (p.font().key(), p.device().logicalDpiY(), round(r.width(), 2), tuple(lines))
    fit = _FITS.get(key)
    if fit is None:
        if len(_FITS) >= _FITS_CAP:
            _FITS.clear()
        fit = _FITS[key] = _fit(p, r, lines)
    pt, text, w, h = fit
    p.save()
    font = QFont(p.font())
    font.setPointSizeF(pt)
    p.setFont(font)
    p.drawText(r, Qt.AlignmentFlag.AlignCenter, text)
    _drawn.append(("text", QRectF(r.center().x() - w / 2, r.center().y() - h / 2, w, h), text))
    p.restore()


def _fit(p: QPainter, r: QRectF, lines: list[tuple[str, str, str]]) -> tuple[float, str, float, float]:
    """fitted()'s point size and text, and the size of the text's box (as boundingRect gives it)."""
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
    text = "\n".join(texts)
    box = p.boundingRect(QRectF(0, 0, r.width(), r.height()), Qt.AlignmentFlag.AlignCenter, text)
    p.restore()
    return pt, text, box.width(), box.height()
