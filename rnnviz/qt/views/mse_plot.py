"""MsePlot: a forecaster's training MSE per step (raw and smoothed) and its test MSE at each
evaluation, on a log axis, with the noise floor and the previous-value baseline as reference lines."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from rnnviz.core.snapshot import EvalMetrics, StepMetrics
from rnnviz.qt.views.common import (
    PALETTE,
    LogAxis,
    cache_axes,
    fmt,
    foreground,
    legend_brush,
    on_hover,
    readout_label,
)
from rnnviz.qt.views.curves import set_curve, translucent
from rnnviz.qt.views.history import History

EMA_ALPHA = 0.02  # a batch of 16 noisy values: the per-step MSE needs heavy smoothing to be read
TRAIN, TEST, FLOOR = PALETTE[0], PALETTE[5], PALETTE[2]
HINT = "Hover for exact values."


def _log_line(colour, label: str, position: float, below: bool) -> pg.InfiniteLine:
    """A dashed reference line, its label at `position` (0: left end, 1: right end) above or below."""
    anchor = (round(position), 0 if below else 1)
    opts = {"position": position, "anchors": [anchor, anchor], "color": colour, "fill": legend_brush(190)}
    pen = pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine)
    line = pg.InfiniteLine(0.0, 0, pen, label=label, labelOpts=opts)
    line.setZValue(5)  # above the raw curve (its label stays readable), below the smoothed and test ones
    return line


def _nice_ceil(v: float) -> float:
    """The smallest round number (1, 1.5, 2, 3, 4, 5, 6 or 8 x 10^k) that is at least v."""
    p = 10.0 ** math.floor(math.log10(max(v, 1.0)))
    return next(m * p for m in (1, 1.5, 2, 3, 4, 5, 6, 8, 10) if m * p >= v)


class MsePlot(QWidget):
    """Feed with `add_metrics` / `add_evaluation`; `refresh` from the GUI timer draws what arrived."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.train, self.smooth, self.test = History(), History(), History()
        self._ema: float | None = None
        self._x_set: tuple[float, float] | None = None  # the step range last set here
        self.graphics = pg.PlotWidget(
            axisItems={"left": LogAxis("left")}, labels={"bottom": "update step", "left": "MSE (log scale)"}
        )
        p = self.plot = self.graphics.getPlotItem()
        p.setTitle("Mean squared error while training", size="10pt")
        for side in ("left", "bottom"):
            p.getAxis(side).enableAutoSIPrefix(False)
        p.setLogMode(y=True)
        # No grid: pyqtgraph's grid doubled the cost of every repaint (~5 ms), time the trainer needs.
        p.setMenuEnabled(False)
        p.setClipToView(True)
        p.setDownsampling(auto=True, mode="peak")
        cache_axes(p)  # the axes blitted from a pixmap until they change
        # The legend under the plot, not over it: it covered the reference lines' labels and the curves.
        legend = pg.LegendItem(labelTextSize="8pt", colCount=2, brush=legend_brush())
        p.layout.addItem(legend, 4, 1)
        self.legend = legend
        self.raw_curve = p.plot(pen=pg.mkPen(translucent(TRAIN, 50), width=1), name="train MSE, each batch")
        self.smooth_curve = p.plot(
            pen=pg.mkPen(TRAIN, width=2), name=f"train MSE, smoothed (EMA {EMA_ALPHA})"
        )
        self.test_curve = p.plot(
            pen=pg.mkPen(TEST, width=2), symbol="o", symbolSize=5, symbolBrush=TEST, symbolPen=None,
            name="test MSE (held-out part)",
        )  # fmt: skip
        for curve in (self.smooth_curve, self.test_curve):
            curve.setZValue(10)
        for curve in (self.raw_curve, self.smooth_curve, self.test_curve):
            legend.addItem(curve, curve.name())
        self.floor_line = _log_line(FLOOR, "noise floor 1/3 (variance of 2u)", 0.03, below=True)
        self.prev_line = _log_line(foreground(), "predict the previous value", 0.5, below=False)
        for line in (self.floor_line, self.prev_line):
            p.addItem(line)
            line.setVisible(False)
        legend.addItem(pg.PlotDataItem(pen=self.floor_line.pen), "references (dashed)")
        self._dirty = False
        self.readout = readout_label()
        self.readout.setText(HINT)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.readout)
        on_hover(p, self._on_hover, lambda: self.readout.setText(HINT))

    def clear(self) -> None:
        for h in (self.train, self.smooth, self.test):
            h.clear()
        self._ema = None
        self._dirty = True
        self._x_set = None
        self.plot.enableAutoRange(x=False)

    def set_references(self, noise_floor: float | None, prev_value: float | None) -> None:
        """Horizontal lines at these MSEs (hidden when None)."""
        for line, v in ((self.floor_line, noise_floor), (self.prev_line, prev_value)):
            ok = v is not None and math.isfinite(v) and v > 0
            line.setVisible(ok)
            if ok:
                line.setValue(math.log10(v))  # the view's y is log10(MSE)
        if prev_value is not None:
            self.prev_line.label.setFormat(f"predict the previous value: {fmt(prev_value)}")

    def add_metrics(self, metrics: Sequence[StepMetrics]) -> None:
        ok = [m for m in metrics if not m.skipped and math.isfinite(m.loss) and m.loss > 0]
        if not ok:
            return
        smoothed = []
        for m in ok:
            self._ema = m.loss if self._ema is None else (1 - EMA_ALPHA) * self._ema + EMA_ALPHA * m.loss
            smoothed.append(self._ema)
        steps = [m.step for m in ok]
        self.train.extend(steps, [m.loss for m in ok])
        self.smooth.extend(steps, smoothed)
        self._dirty = True

    def add_evaluation(self, ev: EvalMetrics) -> None:
        if math.isfinite(ev.loss) and ev.loss > 0 and (not len(self.test) or ev.step > self.test.x[-1]):
            self.test.extend([ev.step], [ev.loss])
            self._dirty = True

    def refresh(self) -> None:
        if self._dirty:
            self._dirty = False
            for curve, h in ((self.raw_curve, self.train), (self.smooth_curve, self.smooth),
                             (self.test_curve, self.test)):  # fmt: skip
                set_curve(curve, h)
            self._follow_steps()

    def _follow_steps(self) -> None:
        """Widen the step axis in jumps (to round numbers): an axis whose range changes on every
        frame is laid out and repainted every time, which cost the trainer a third of its speed."""
        if not len(self.train):
            return
        vb = self.plot.vb
        if self._x_set is not None and tuple(vb.viewRange()[0]) != self._x_set:
            return  # the user zoomed or panned: leave the range alone
        last = float(self.train.x[-1])
        if self._x_set is None or last > 0.9 * self._x_set[1]:  # always some room ahead
            self.plot.setXRange(0, _nice_ceil(1.15 * last), padding=0.02)
            self._x_set = tuple(vb.viewRange()[0])

    def _on_hover(self, x: float, _y: float) -> None:
        parts = []
        for name, h in (("train MSE", self.train), ("smoothed", self.smooth), ("test MSE", self.test)):
            i = h.nearest(x)
            if i is not None:
                parts.append(f"{name} {fmt(h.y[i])} (step {int(h.x[i])})")
        self.readout.setText(" \u00b7 ".join(parts) if parts else HINT)
