"""Re-colouring the pyqtgraph plots already built, after a change of theme (qt.theme).

pyqtgraph reads its `foreground` and `background` options when an item is made; an item made
under the old theme keeps the old colours. Here every plot of every window swaps them: whatever
was drawn in the old foreground (axes, titles, legend text, reference lines, hints) takes the new
one, whatever was filled with the old background (views, legends, line labels) the new one, each
keeping its own transparency. Colours of their own (the Okabe-Ito lines) stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QApplication, QGraphicsView, QWidget


class Swap:
    """Old foreground -> new foreground, old background -> new background (alpha kept)."""

    def __init__(self, old_fg, old_bg, fg, bg):
        self.pairs = [(pg.mkColor(old_fg), pg.mkColor(fg)), (pg.mkColor(old_bg), pg.mkColor(bg))]

    def colour(self, c: QColor) -> QColor | None:
        """The new colour for c, or None when c is neither old colour."""
        for old, new in self.pairs:
            if c.rgb() == old.rgb() and old.rgb() != new.rgb():
                out = QColor(new)
                out.setAlpha(c.alpha())
                return out
        return None

    def pen(self, pen: QPen) -> QPen | None:
        c = self.colour(pen.color()) if pen.style() != Qt.PenStyle.NoPen else None
        if c is None:
            return None
        out = QPen(pen)
        out.setColor(c)
        return out

    def brush(self, brush: QBrush) -> QBrush | None:
        c = self.colour(brush.color()) if brush.style() != Qt.BrushStyle.NoBrush else None
        return None if c is None else QBrush(c)


def graphics_views() -> Iterator[QGraphicsView]:
    """Every pyqtgraph view in every top-level window (shown or not)."""
    for top in QApplication.topLevelWidgets():
        views = top.findChildren(QGraphicsView)
        if isinstance(top, QGraphicsView):
            views.insert(0, top)
        yield from (v for v in views if isinstance(v, pg.GraphicsView))


def all_widgets() -> Iterator[QWidget]:
    for top in QApplication.topLevelWidgets():
        yield top
        yield from top.findChildren(QWidget)


def restyle_plots(old_fg, old_bg) -> int:
    """Swap the old theme's plot colours for pyqtgraph's current options everywhere; returns how
    many views were restyled."""
    swap = Swap(old_fg, old_bg, pg.getConfigOption("foreground"), pg.getConfigOption("background"))
    n = 0
    for view in graphics_views():
        n += 1
        background = getattr(view, "_background", "default")
        if background == "default" or (background is not None and swap.colour(pg.mkColor(background))):
            view.setBackground("default")
        items = view.scene().items()
        for item in items:  # legends first: their labels are LabelItems, recoloured below
            if isinstance(item, pg.LegendItem):
                _legend(item, swap)
        for item in items:
            _item(item, swap)
    return n


def _legend(legend: pg.LegendItem, swap: Swap) -> None:
    brush, pen = swap.brush(legend.brush()), swap.pen(legend.pen())
    if brush is not None:
        legend.setBrush(brush)
    if pen is not None:
        legend.setPen(pen)
    text = legend.labelTextColor()
    if text is not None and swap.colour(pg.mkColor(text)) is not None:
        legend.setLabelTextColor(swap.colour(pg.mkColor(text)))
    legend.update()


def _item(item, swap: Swap) -> None:
    if isinstance(item, pg.AxisItem):
        _axis(item, swap)
    elif isinstance(item, pg.LabelItem):
        colour = item.opts.get("color")
        new = None if colour is None else swap.colour(pg.mkColor(colour))
        item.setText(item.text, **({} if new is None else {"color": new}))
    elif isinstance(item, pg.TextItem):  # also the labels of InfiniteLines
        new, fill = swap.colour(item.color), swap.brush(item.fill)
        if new is not None:
            item.setColor(new)
        if fill is not None:
            item.fill = fill
            item.update()
    elif isinstance(item, pg.InfiniteLine):
        pen = swap.pen(item.pen)
        if pen is not None:
            item.setPen(pen)
    elif isinstance(item, pg.PlotDataItem):
        pen = item.opts.get("pen")
        new = None if pen is None else swap.pen(pg.mkPen(pen))
        if new is not None:
            item.setPen(new)
    elif isinstance(item, pg.ViewBox):
        background = item.state.get("background")
        new = None if background is None else swap.colour(pg.mkColor(background))
        if new is not None:
            item.setBackgroundColor(new)


def _axis(axis: pg.AxisItem, swap: Swap) -> None:
    pen, text = swap.pen(axis.pen()), swap.pen(axis.textPen())
    if pen is not None:
        axis.setPen(pen)
    if text is not None:
        axis.setTextPen(text)
    if pen is None and text is None:
        return
    axis.picture = None  # tick labels are drawn into a cached picture
    axis.update()
