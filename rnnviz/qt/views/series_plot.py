"""SeriesPlot: a real-valued series, its noise-free signal, a model's forecast of every target, the
train/test split, and one selected window (its inputs shaded, its target marked). Click to select
the window whose target is nearest; hover for exact values."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from rnnviz.core.series import Series
from rnnviz.qt.views.common import PALETTE, cache_axes, fmt, foreground, legend_brush, on_hover, readout_label
from rnnviz.qt.views.curves import translucent

POINTS, SIGNAL, FORECAST, WINDOW, TARGET = "#8a8a8a", PALETTE[0], PALETTE[1], PALETTE[4], PALETTE[5]
SIGNAL_NAME = "signal sin(0.02t) + 1"
HINT = "Click: the window whose target is nearest \u00b7 hover: t, value, forecast"


class SeriesPlot(QWidget):
    """Build once with `set_series`, then `set_forecast` as the model trains and `set_selected`."""

    target_clicked = Signal(int)  # t of the target nearest the click (a window of the current length)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.series: Series | None = None
        self.window = 1
        self.selected: int | None = None
        self.forecast_t = np.zeros(0, dtype=np.int64)  # target positions with a forecast
        self.forecast = np.zeros(0)
        self.graphics = pg.PlotWidget(labels={"bottom": "t (time step)", "left": "value x\u209c"})
        p = self.plot = self.graphics.getPlotItem()
        p.setTitle("Series, noise-free signal and the model's one-step forecast", size="10pt")
        for side in ("left", "bottom"):
            p.getAxis(side).enableAutoSIPrefix(False)
        # No grid: pyqtgraph's grid doubled the cost of every repaint (~5 ms), time the trainer needs.
        p.setMenuEnabled(False)
        p.setClipToView(True)
        p.setDownsampling(auto=True, mode="peak")
        cache_axes(p)  # the axes blitted from a pixmap until they change
        p.setMouseEnabled(x=True, y=False)
        self.legend = p.addLegend(offset=(6, 6), labelTextSize="8pt", brush=legend_brush(), colCount=3)
        self._build_items()
        self.readout = readout_label()
        self.readout.setText(HINT)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.readout)
        on_hover(p, self._on_hover, lambda: self.readout.setText(HINT))
        p.scene().sigMouseClicked.connect(self._on_click)

    def _build_items(self) -> None:
        p = self.plot
        self.region = pg.LinearRegionItem(
            movable=False, brush=translucent(WINDOW, 60), pen=pg.mkPen(WINDOW, width=1)
        )
        self.region.setZValue(-10)
        p.addItem(self.region)
        self.points = p.plot(
            pen=None, symbol="o", symbolSize=3, symbolPen=None, symbolBrush=POINTS, name="series x\u209c"
        )
        dash = pg.mkPen(SIGNAL, width=2, style=Qt.PenStyle.DashLine)
        self.signal = p.plot(pen=dash, name=SIGNAL_NAME)
        self.forecast_curve = p.plot(pen=pg.mkPen(FORECAST, width=1.5), name="forecast")
        self.target = pg.ScatterPlotItem(size=13, symbol="star", pen=pg.mkPen("k", width=1), brush=TARGET)
        self.predicted = pg.ScatterPlotItem(size=9, symbol="o", pen=pg.mkPen("k", width=1), brush=FORECAST)
        for item in (self.target, self.predicted):
            item.setZValue(20)
            p.addItem(item)
        self.legend.addItem(self.region_legend_item(), "selected window")
        self.legend.addItem(self.target, "its target")
        self.legend.addItem(self.predicted, "its forecast")
        opts = {
            "position": 0.03,
            "anchors": [(0.5, 1), (0.5, 1)],
            "color": foreground(),
            "fill": legend_brush(),
        }
        pen = pg.mkPen(foreground(170), width=1.5, style=Qt.PenStyle.DashDotLine)
        self.split_line = pg.InfiniteLine(0, 90, pen, label="train | test", labelOpts=opts)
        p.addItem(self.split_line)

    @staticmethod
    def region_legend_item() -> pg.BarGraphItem:
        return pg.BarGraphItem(x=[0], height=[1], width=1, brush=translucent(WINDOW, 90), pen=WINDOW)

    # ---- data ----------------------------------------------------------------------------
    def set_series(self, series: Series, window: int) -> None:
        """The whole series (and its signal, when known); forecasts and selection are cleared."""
        self.series, self.window = series, window
        t = np.arange(len(series.values), dtype=float)
        self.points.setData(t, series.values)
        known = series.signal is not None
        self.signal.setData(t, series.signal) if known else self.signal.setData([], [])
        self.signal.setVisible(known)
        listed = self.legend.getLabel(self.signal) is not None
        if listed and not known:
            self.legend.removeItem(self.signal)
        elif known and not listed:
            self.legend.addItem(self.signal, SIGNAL_NAME)
        self.split_line.setValue(series.split - 0.5)
        self.set_forecast(np.zeros(0, dtype=np.int64), np.zeros(0))
        self.selected = None
        self.region.setVisible(False)
        self.target.setData([], [])
        self._fit_range(series)

    def _fit_range(self, series: Series) -> None:
        """All values, with room at the top for the legend (y is fixed: only x pans and zooms)."""
        lo, hi = float(series.values.min()), float(series.values.max())
        span = max(hi - lo, 1e-9)
        self.plot.enableAutoRange(y=False)
        self.plot.setYRange(lo - 0.04 * span, hi + 0.3 * span, padding=0)
        self.plot.setXRange(0, len(series.values) - 1, padding=0.01)

    def set_forecast(self, t: np.ndarray, values: np.ndarray) -> None:
        """Forecasts `values` of the targets at positions `t` (increasing)."""
        self.forecast_t, self.forecast = np.asarray(t, dtype=np.int64), np.asarray(values, dtype=float)
        self.forecast_curve.setData(self.forecast_t.astype(float), self.forecast)
        self._mark_forecast()

    def set_selected(self, t: int | None) -> None:
        """Shade the inputs x[t - window .. t - 1] and mark the target x[t]."""
        self.selected = t
        if t is None or self.series is None:
            self.region.setVisible(False)
            self.target.setData([], [])
            self.predicted.setData([], [])
            return
        self.region.setRegion((t - self.window - 0.5, t - 0.5))
        self.region.setVisible(True)
        self.target.setData([t], [self.series.values[t]])
        self._mark_forecast()

    def forecast_at(self, t: int) -> float | None:
        i = int(np.searchsorted(self.forecast_t, t))
        return float(self.forecast[i]) if i < len(self.forecast_t) and self.forecast_t[i] == t else None

    def nearest_target(self, x: float) -> int | None:
        """The target position (window .. N-1) nearest to x."""
        if self.series is None or len(self.series.values) <= self.window:
            return None
        return int(np.clip(np.rint(x), self.window, len(self.series.values) - 1))

    def _mark_forecast(self) -> None:
        y = None if self.selected is None else self.forecast_at(self.selected)
        self.predicted.setData([], []) if y is None else self.predicted.setData([self.selected], [y])

    # ---- mouse ---------------------------------------------------------------------------
    def _on_click(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or not self.plot.vb.sceneBoundingRect().contains(
            ev.scenePos()
        ):
            return
        t = self.nearest_target(self.plot.vb.mapSceneToView(ev.scenePos()).x())
        if t is not None:
            ev.accept()
            self.target_clicked.emit(t)

    def _on_hover(self, x: float, _y: float) -> None:
        s = self.series
        t = int(np.rint(x))
        if s is None or not 0 <= t < len(s.values):
            self.readout.setText(HINT)
            return
        part = "train" if t < s.split else "test"
        text = f"t {t} ({part}) \u00b7 x {fmt(s.values[t])}"
        if s.signal is not None:
            text += f" \u00b7 signal {fmt(s.signal[t])}"
        f = self.forecast_at(t)
        if f is not None:
            text += f" \u00b7 forecast {fmt(f)} \u00b7 error {fmt(f - s.values[t])}"
        elif t < self.window:
            text += f" \u00b7 no forecast: {self.window} values must come before"
        self.readout.setText(text)
