"""Shared look and behaviour of the views: colour maps, levels, hover read-outs, titles."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QComboBox, QGraphicsItem, QLabel

# Signed values (tanh states, weights, signed gradients): diverging, colour-blind safe,
# symmetric levels. Values in [0, 1] (gates, probabilities): sequential. These are the defaults;
# the maps in use are signed_cmap() and positive_cmap() (the View menu changes them: qt.theme).
SIGNED_CMAP = "CET-CBD1"
POSITIVE_CMAP = "viridis"
SIGNED, POSITIVE = "signed", "positive"  # a view that follows the preference names its kind
_cmaps = {SIGNED: SIGNED_CMAP, POSITIVE: POSITIVE_CMAP}
# Line colours that stay apart for colour-blind readers (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")


def configure_pyqtgraph() -> None:
    """Call once, before any pyqtgraph item is created: plots take the system's light or dark colours."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, useOpenGL=False)
    app = QApplication.instance()
    if app is not None:
        pal = app.palette()
        pg.setConfigOptions(
            background=pal.color(QPalette.ColorRole.Base), foreground=pal.color(QPalette.ColorRole.Text)
        )


@cache
def colormap(name: str) -> pg.ColorMap:
    return pg.colormap.get(name)


def signed_cmap() -> str:
    """The colour map of signed values now (h, c, candidates, weights)."""
    return _cmaps[SIGNED]


def positive_cmap() -> str:
    """The colour map of values in [0, 1] now (the sigmoid gates)."""
    return _cmaps[POSITIVE]


def cmap_name(kind_or_name: str) -> str:
    """SIGNED or POSITIVE: the map of that kind now; anything else is a map's own name."""
    return _cmaps.get(kind_or_name, kind_or_name)


def set_cmap_names(signed: str, positive: str) -> None:
    """The maps views built from now on use (qt.theme.set_colormaps also re-colours the live ones)."""
    _cmaps[SIGNED], _cmaps[POSITIVE] = signed, positive


def lut(name: str) -> np.ndarray:
    """(256, 3) uint8 colours of a map, for pixels painted by hand."""
    return colormap(name).getLookupTable(nPts=256, alpha=False)


class IndexImage(pg.ImageItem):
    """An image of 8-bit colour indices (levels 0..255) and a 256-colour lookup table, turned into
    32-bit pixels by numpy when it changes. pyqtgraph's own path gives Qt an indexed image, which
    Qt converts again on every paint: at 256x200, drawImage took 0.37 against 0.07 ms, and
    pyqtgraph's render 0.4 ms more. Anything else (floats, other levels) is pyqtgraph's."""

    _table: np.ndarray | None = None  # the lookup table as 32-bit pixels, 0xAARRGGBB premultiplied
    _alpha = False  # the table has an alpha channel
    _pixels: np.ndarray | None = None  # the buffer the QImage reads (it does not copy it)

    def setLookupTable(self, lut, update=True):
        self._table = None
        super().setLookupTable(lut, update)

    def render(self):
        image, table = self.image, self._pixel_table()
        levels = None if self.levels is None else tuple(np.ravel(self.levels))
        if image is None or image.dtype != np.uint8 or image.ndim != 2 or table is None or levels != (0, 255):
            super().render()
            return
        self._pixels = np.ascontiguousarray(table[image])  # rows are y (row-major images)
        h, w = self._pixels.shape
        fmt = QImage.Format.Format_ARGB32_Premultiplied if self._alpha else QImage.Format.Format_RGB32
        self.qimage = QImage(self._pixels.data, w, h, 4 * w, fmt)
        self._renderRequired = self._unrenderable = False

    def _pixel_table(self) -> np.ndarray | None:
        """The (256, 3|4) uint8 lookup table as (256,) uint32 pixels; None for any other table."""
        lut = self.lut
        if self._table is None and isinstance(lut, np.ndarray) and lut.shape in ((256, 3), (256, 4)):
            c = lut.astype(np.uint32)
            self._alpha = lut.shape[1] == 4
            a = c[:, 3] if self._alpha else np.full(256, 255, np.uint32)
            rgb = (c[:, :3] * a[:, None] + 127) // 255  # premultiplied by alpha
            self._table = (a << 24) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
        return self._table


def legend_brush(alpha: int = 200) -> QColor:
    """A legend's or a line label's box: the plots' background, a little translucent (a change of
    theme swaps it for the new background: qt.theme)."""
    c = pg.mkColor(pg.getConfigOption("background"))
    c.setAlpha(alpha)
    return c


def is_dark(palette: QPalette) -> bool:
    """Light text on a dark base: colours chosen for a white page need their lighter twins."""
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


def foreground(alpha: int = 255) -> QColor:
    """The plots' text colour, for lines and labels that should read like the axes (and follow
    a change of theme like them)."""
    c = pg.mkColor(pg.getConfigOption("foreground"))
    c.setAlpha(alpha)
    return c


def symmetric_levels(a: np.ndarray, floor: float = 1e-6) -> tuple[float, float]:
    """(-m, m) with m the largest finite |value|: zero always sits in the middle of the map."""
    m = float(np.abs(a).max()) if a.size else 1.0
    if not np.isfinite(m):  # the largest finite one (a copy: only when there are others)
        finite = a[np.isfinite(a)]
        m = float(np.abs(finite).max()) if finite.size else 1.0
    m = max(m, floor)
    return -m, m


class ReadoutLabel(QLabel):
    """A one-line label that never widens its window: too long for its width, it is drawn elided
    and its tooltip holds the whole text (text() is always the whole text)."""

    def setText(self, text: str) -> None:
        super().setText(text)
        self._update_tip()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_tip()

    def fits(self) -> bool:
        return self.fontMetrics().horizontalAdvance(self.text()) <= self.contentsRect().width()

    def _update_tip(self) -> None:
        self.setToolTip("" if self.fits() else self.text())

    def paintEvent(self, event) -> None:
        if self.fits():
            super().paintEvent(event)
            return
        p = QPainter(self)
        r = self.contentsRect()
        p.setPen(self.palette().color(QPalette.ColorRole.Text))
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, r.width())
        p.drawText(r, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
        p.end()


def readout_label() -> QLabel:
    """The one-line label under a plot where hover shows exact values."""
    label = ReadoutLabel(" ")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet("color: palette(text); font-family: monospace;")
    label.setMinimumWidth(10)
    return label


def on_hover(plot: pg.PlotItem, fn: Callable[[float, float], None], leave: Callable[[], None]) -> None:
    """Call fn(x, y) in data coordinates while the mouse is over `plot`'s view box, else leave()."""

    def moved(pos) -> None:
        if plot.vb.sceneBoundingRect().contains(pos):
            p = plot.vb.mapSceneToView(pos)
            fn(p.x(), p.y())
        else:
            leave()

    plot.scene().sigMouseMoved.connect(moved)


def fmt(v: float) -> str:
    """A number as a person reads it: 4 significant digits, scientific when tiny or huge."""
    if not np.isfinite(v):
        return "non-finite"
    return f"{v:.3e}" if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5) else f"{v:.4g}"


def show_token(tok: str) -> str:
    """A token made visible: spaces, newlines and tabs get symbols."""
    return {" ": "\u2423", "\n": "\u21b5", "\t": "\u21e5", "": "\u2205"}.get(tok, tok)


class TokenAxis(pg.AxisItem):
    """The bottom axis of a plot over a text's steps: the labels set with setTicks (one per shown
    token), laid out from remembered text widths. pyqtgraph's own layout measures every label
    with a painter on every change (~0.7 ms an axis, and nine axes change on every keystroke)."""

    def __init__(self, *args, **kwargs):
        super().__init__("bottom", *args, **kwargs)
        self._widths: dict[str, float] = {}
        self.pt = 0.0  # the labels' size in points (0: the painter's font)
        self.drawn: list[tuple[QRectF, str]] = []  # the labels' rectangles at the last paint

    def set_labels(self, ticks: list[tuple[float, str]], pt: float) -> None:
        """One label per tick, at `pt` points."""
        if pt != self.pt:
            self.pt = pt
            font = QFont(QApplication.font())
            font.setPointSizeF(pt)
            self._widths.clear()
            # Not setStyle: it re-lays the axis out, and this runs while the plot is being laid out.
            self.style["tickFont"] = font
            self.picture = None
            self.update()
        self.setTicks([ticks, []])

    def paint(self, p, opt, widget):
        """Drawn straight onto the painter. pyqtgraph records an axis into a QPicture and plays it
        back, twice the work, to spare repainting it; a token axis is cached as a pixmap already
        (token_plot), so this runs only when its labels or range changed (measured: 0.15 against
        0.5 ms, on each of the Inside view's plots on every keystroke)."""
        if self.cacheMode() == QGraphicsItem.CacheMode.NoCache:
            super().paint(p, opt, widget)
            return
        p.save()
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        specs = self.generateDrawSpecs(p)
        if specs is not None:
            self.drawPicture(p, *specs)
        p.restore()

    def generateDrawSpecs(self, p):
        if self._tickLevels is None or not self.style["showValues"] or self.range[1] == self.range[0]:
            return super().generateDrawSpecs(p)
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        fm = QFontMetricsF(p.font())
        bounds = self.mapRectFromParent(self.geometry())
        top, height = bounds.top(), fm.height() * 0.8
        scale = bounds.width() / (self.range[1] - self.range[0])
        offset = self.range[0] * scale
        tick_pen, tick, gap = (
            self.tickPen(),
            max(0, self.style["tickLength"]),
            self.style["tickTextOffset"][1],
        )
        ticks, texts = [], []
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextDontClip
        for v, label in self._tickLevels[0] if self._tickLevels else ():
            x = v * scale - offset
            if not 0 <= x <= bounds.width():
                continue
            ticks.append((tick_pen, pg.Point(x, top), pg.Point(x, top + tick)))
            w = self._widths.get(label)
            if w is None:
                w = self._widths[label] = fm.horizontalAdvance(label)
            # Centred on its step, but kept within the axis: a word at either end is not cut off.
            left = min(max(x - w / 2, 0.0), bounds.width() - w) if w < bounds.width() else x - w / 2
            texts.append((QRectF(left, top + tick + gap, w, height), flags, label))
        self.drawn = [(r, label) for r, _, label in texts]
        axis = (self.pen(), bounds.topLeft() + pg.Point(-1, 1), bounds.topRight() + pg.Point(1, 1))
        return axis, ticks, texts


class EagerViewBox(pg.ViewBox):
    """A view box that takes a new range (or size) at once. pyqtgraph defers the view's new
    transform to the next paint (prepareForPaint), and setting it there marks every item in the
    view dirty again after the paint began: every plot whose range changed was painted twice, the
    second time in a pass of its own (measured: the h, c and gradient plots on each keystroke
    that changes the text's length)."""

    def updateViewRange(self, forceX=False, forceY=False):
        super().updateViewRange(forceX, forceY)
        self.updateMatrix()


def token_plot(min_height: int = 90) -> tuple[pg.GraphicsLayoutWidget, pg.PlotItem]:
    """A plot over the time steps of a text: pans along x only, no menu, room for token labels,
    and no SI prefixes (their labels would be redrawn on every range change)."""
    glw = pg.GraphicsLayoutWidget()
    glw.setMinimumHeight(min_height)
    glw.ci.setContentsMargins(2, 2, 2, 2)  # the plot's room goes to the data, not to a frame
    plot = glw.addPlot(viewBox=EagerViewBox(), axisItems={"bottom": TokenAxis()})
    plot.setMenuEnabled(False)
    plot.hideButtons()
    plot.setMouseEnabled(x=True, y=False)
    plot.getAxis("bottom").setHeight(24)
    for side in ("left", "bottom", "right", "top"):
        plot.getAxis(side).enableAutoSIPrefix(False)
    cache_axes(plot)
    return glw, plot


def cache_axes(plot: pg.PlotItem) -> None:
    """Axes drawn once into a pixmap and blitted after: an axis's grid lines span the whole plot,
    so every change inside the plot repainted its tick labels (~1 ms an axis, measured)."""
    for side in ("left", "bottom", "right", "top"):
        plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def nice_ceiling(v: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= v (v > 0)."""
    p = 10.0 ** np.floor(np.log10(v))
    return float(next(m * p for m in (1, 2, 5, 10) if m * p >= v))


class SteadyRange:
    """A plot's view range that follows the data without moving on every new point (autorange
    re-lays the axes out, ~2 ms each, on every refresh): x starts at the first step (0 for a fresh
    model, the saved step count for a model trained on) and grows in jumps, 1.25x at a time, to
    round numbers of steps; y changes only when the data leaves it or fills less than half of it.
    Once the user pans or zooms, the range is theirs until clear(). ahead=False: x is the data's
    own extent (a curve over a fixed window, not over training steps)."""

    def __init__(self, plot: pg.PlotItem, lane: float = 0.05, ahead: bool = True):
        self.plot, self.lane = plot, lane  # lane: room under the data, a fraction of its span
        self.ahead = ahead
        plot.enableAutoRange(x=False, y=False)
        plot.vb.sigRangeChangedManually.connect(self._on_user)
        self.clear()

    def clear(self) -> None:
        self.user = False
        self._x, self._y = (0.0, 10.0), (0.0, 1.0)
        self.plot.setRange(xRange=self._x, yRange=self._y, padding=0)

    def _on_user(self, *_args) -> None:
        self.user = True

    def follow(self, first_x: float, last_x: float, y_lo: float, y_hi: float) -> None:
        if self.user:
            return
        x0 = 0.0 if first_x <= 1 else first_x - 1
        x = self._x
        if not self.ahead:
            x = (first_x, max(last_x, first_x + 1))
        elif last_x > x[1] or x[0] != x0:
            x = (x0, x0 + nice_ceiling(max(1.25 * (last_x - x0), 10.0)))
        y, span = self._y, max(y_hi - y_lo, 1e-9 * max(abs(y_hi), 1.0), 1e-12)
        if y_lo < y[0] or y_hi > y[1] or span < 0.5 * (y[1] - y[0]):
            y = (y_lo - max(self.lane, 0.05) * span, y_hi + 0.05 * span)
        if (x, y) != (self._x, self._y):
            self._x, self._y = x, y
            self.plot.setRange(xRange=x, yRange=y, padding=0)


class LogAxis(pg.AxisItem):
    """A log axis labelled at 1, 2 and 5 times powers of ten only: the other labels crowd together."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        strings = super().tickStrings(values, scale, spacing)
        if not self.logMode:
            return strings
        return [
            s if round(10 ** (v % 1)) in (1, 2, 5, 10) else "" for v, s in zip(values, strings, strict=True)
        ]


def compact(box: QComboBox, chars: int = 8) -> QComboBox:
    """A combo box as narrow as `chars` characters, whatever its longest item."""
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(chars)
    return box
