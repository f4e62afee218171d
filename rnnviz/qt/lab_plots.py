"""The gradient lab's plots: how each is made, and the points its figures put on a log axis."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from rnnviz.core.lab import DECAY_FROM
from rnnviz.qt.lab_readouts import COLOURS
from rnnviz.qt.views.common import LogAxis


def arch_pen(arch: str, width: float = 2.0, dashed: bool = False) -> pg.QtGui.QPen:
    style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
    return pg.mkPen(COLOURS[arch], width=width, style=style)


def positive(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of the finite, positive points of y: a log axis cannot show the others."""
    y = np.asarray(() if y is None else y, dtype=float)
    ok = np.isfinite(y) & (y > 0)
    return np.flatnonzero(ok).astype(float), y[ok]


def decay_fit(f) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares line decay_per_10 comes from, over distances [DECAY_FROM, window)."""
    if f is None or not np.isfinite(f.decay_per_10) or len(f.grad_by_distance) <= DECAY_FROM:
        return np.zeros(0), np.zeros(0)
    k = np.arange(DECAY_FROM, len(f.grad_by_distance), dtype=float)
    logs = np.log10(f.grad_by_distance[DECAY_FROM:])
    y = logs.mean() - f.decay_per_10 / 10 * (k - k.mean())  # the fit passes through the centroid
    return k, 10**y


def new_plot(title: str, xlabel: str, ylabel: str, log_y: bool) -> pg.PlotWidget:
    axes = {"left": LogAxis("left")} if log_y else None
    widget = pg.PlotWidget(axisItems=axes, labels={"bottom": xlabel, "left": ylabel})
    plot = widget.getPlotItem()
    plot.setTitle(title, size="10pt")
    for side in ("left", "bottom"):  # "step (x0.001)" is no way to label steps
        plot.getAxis(side).enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)
    plot.setLogMode(y=log_y)
    return widget
