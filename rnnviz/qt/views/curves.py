"""Training curves (loss, accuracy, bits per token) and per-parameter gradient norms over steps.

Both views keep their history in bounded buffers (`History`): hours of training cost O(cap) memory.
Feed them with `add_metrics` / `add_evaluation` (cheap, no repaint) and call `refresh` from the GUI
timer when new data arrived.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from rnnviz.core.overfit import HeldOutTrend, held_out_trend
from rnnviz.core.snapshot import EvalMetrics, StepMetrics
from rnnviz.qt.views.common import (
    PALETTE,
    EagerViewBox,
    SteadyRange,
    cache_axes,
    fmt,
    on_hover,
    readout_label,
)
from rnnviz.qt.views.history import Events, History

GRAD_HISTORY_CAP = 5_000  # per parameter: a dozen lines of 20k points made each refresh cost ~10 ms
EMA_ALPHA = 0.1
AXIS_WIDTH = 64  # px, the same for stacked plots so their x axes line up

# metric attribute -> (axis label, short name in read-outs)
METRICS = {
    "loss": ("loss (nats)", "loss"),
    "accuracy": ("accuracy", "accuracy"),
    "bits_per_token": ("bits / token", "bits/token"),
}
TRAIN, HELD_OUT, SKIPPED, CLIPPED = PALETTE[0], PALETTE[1], PALETTE[5], PALETTE[7]
LINE_COLOURS = PALETTE[:6]  # no yellow (faint on white) or grey (near the total's foreground colour)
TOTAL = "total"


def skipped_text(m: StepMetrics) -> str:
    what = "loss" if not math.isfinite(m.loss) else "gradient"
    return f"step {m.step}: non-finite {what}, step skipped"


def clipped_text(m: StepMetrics) -> str:
    return f"step {m.step}: gradient clipped (norm {fmt(m.total_norm)} before clipping)"


def translucent(colour: str | QColor, alpha: int) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


def set_curve(curve: pg.PlotDataItem, history: History) -> None:
    """Copies, so compacting the buffer later never changes what the item holds; nothing when the
    curve shows these points already (a curve with symbols costs ~0.4 ms a setData, and the
    held-out curves change once in eval_every steps)."""
    if getattr(curve, "shown_version", None) == history.version:
        return
    curve.setData(history.x.copy(), history.y.copy())
    curve.shown_version = history.version


class LaneViewBox(EagerViewBox):
    """Auto-range leaves a lane under the data, where event marks sit without hiding it."""

    LANE = 0.1  # fraction of the data's y span

    def suggestPadding(self, axis: int) -> float:
        return self.LANE if axis == 1 else super().suggestPadding(axis)


def new_plot(graphics: pg.GraphicsLayoutWidget, row: int, label: str, **kwargs) -> pg.PlotItem:
    """A plot in `row` of graphics; kwargs go to addPlot (viewBox, axisItems). Its view takes a new
    range at once (EagerViewBox: else a plot whose range moved was painted twice)."""
    kwargs["viewBox"] = kwargs.get("viewBox") or EagerViewBox()
    plot = graphics.addPlot(row=row, col=0, **kwargs)
    plot.setLabel("left", label)
    plot.getAxis("left").setWidth(AXIS_WIDTH)
    for side in ("left", "bottom"):
        plot.getAxis(side).enableAutoSIPrefix(False)  # no "(x0.001)" on accuracy, plain step numbers
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setClipToView(True)
    plot.setDownsampling(auto=True, mode="peak")
    plot.setMenuEnabled(False)
    cache_axes(plot)
    return plot


def under_plots(graphics: QWidget, *row: QWidget) -> QVBoxLayout:
    """Plots on top, then one row of widgets (the last one stretches)."""
    layout = QVBoxLayout()
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(graphics, 1)
    bottom = QHBoxLayout()
    for i, w in enumerate(row):
        bottom.addWidget(w, 1 if i == len(row) - 1 else 0)
    layout.addLayout(bottom)
    return layout


class TrainingCurves(QWidget):
    """Loss, accuracy and bits per token over training steps; train and held-out. The best
    held-out step is marked, and a line says when held-out loss has been rising since."""

    best_changed = Signal(object)  # the best held-out step (int), or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trend: HeldOutTrend | None = None
        self._trend_of = 0  # the held-out loss history's version the trend was found in
        self._train = {m: History() for m in METRICS}
        self._ema = {m: History() for m in METRICS}
        self._held_out = {m: History() for m in METRICS}
        self._ema_last: dict[str, float] = {}
        self._skipped, self._clipped = Events(), Events()
        self._dirty = False
        self._over: set[str] = set()  # plots under the mouse
        self._graphics = pg.GraphicsLayoutWidget()
        self._plots = {
            m: new_plot(self._graphics, row, label, viewBox=LaneViewBox() if m == "loss" else None)
            for row, (m, (label, _)) in enumerate(METRICS.items())
        }
        self._curves = {m: self._add_curves(m, plot) for m, plot in self._plots.items()}
        self._skipped_marks, self._clipped_marks = self._add_marks(self._plots["loss"])
        self._hint = pg.TextItem(
            "Press Play (F5) to train", anchor=(0.5, 0.5), color=pg.getConfigOption("foreground")
        )
        self._plots["loss"].addItem(self._hint, ignoreBounds=True)
        self._hint.setPos(5.0, 0.5)  # the middle of the empty plot's range (SteadyRange: 0..10 x 0..1)
        dashed = pg.mkPen(PALETTE[5], width=1.5, style=Qt.PenStyle.DashLine)
        self._marks = [pg.InfiniteLine(angle=90, pen=dashed) for _ in self._plots]
        for line, plot in zip(self._marks, self._plots.values(), strict=True):
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
        self._link_axes()
        self._ranges = {
            m: SteadyRange(plot, LaneViewBox.LANE if m == "loss" else 0.05) for m, plot in self._plots.items()
        }
        self.smooth = QCheckBox("smooth")
        self.smooth.setToolTip(f"Show an exponential moving average of the train curves (alpha {EMA_ALPHA})")
        self.smooth.toggled.connect(self._on_smooth_toggled)
        self.readout = readout_label()
        self._best_mark = self._plots["loss"].plot(
            pen=None, symbol="star", symbolSize=14, symbolPen=pg.mkPen(HELD_OUT), symbolBrush=None,
            name="best held-out",
        )  # fmt: skip
        self.overfit = QLabel()
        self.overfit.setWordWrap(True)
        self.overfit.setStyleSheet(f"color: {PALETTE[5]}; font-weight: bold;")
        self.overfit.hide()
        self.setLayout(under_plots(self._graphics, self.smooth, self.readout))
        self.layout().insertWidget(0, self.overfit)
        for m, plot in self._plots.items():
            on_hover(plot, partial(self._on_hover, metric=m), partial(self._on_leave, m))

    def add_metrics(self, metrics: Sequence[StepMetrics]) -> None:
        """Append steps; skipped steps become event marks, never curve points."""
        for m in metrics:
            if m.skipped:
                self._skipped.add(m.step, skipped_text(m))
            elif m.clipped:
                self._clipped.add(m.step, clipped_text(m))
        kept = [m for m in metrics if not m.skipped]
        steps = np.array([m.step for m in kept], dtype=float)
        for name in METRICS:
            values = np.array([getattr(m, name) for m in kept], dtype=float)
            ok = np.isfinite(values)
            self._train[name].extend(steps[ok], values[ok])
            self._ema[name].extend(steps[ok], self._smoothed(name, values[ok]))
        self._dirty = True

    def add_evaluation(self, ev: EvalMetrics) -> None:
        for name in METRICS:
            value = getattr(ev, name)
            if math.isfinite(value):
                self._held_out[name].extend([ev.step], [value])
        self._dirty = True

    def history_state(self) -> dict[str, np.ndarray]:
        """Every curve's points and every mark, as plain arrays (a saved session's history)."""
        out = {}
        for kind, store in (("train", self._train), ("ema", self._ema), ("held_out", self._held_out)):
            out.update({f"{kind}/{m}": h.state() for m, h in store.items()})
        for kind, events in (("skipped", self._skipped), ("clipped", self._clipped)):
            out[f"{kind}/steps"], out[f"{kind}/texts"] = events.state()
        return out

    def restore_history(self, arrays: dict[str, np.ndarray]) -> None:
        """The curves of a saved session (history_state); missing pieces stay empty."""
        self.clear()
        for kind, store in (("train", self._train), ("ema", self._ema), ("held_out", self._held_out)):
            for m, h in store.items():
                if f"{kind}/{m}" in arrays:
                    h.load(arrays[f"{kind}/{m}"])
        for kind, events in (("skipped", self._skipped), ("clipped", self._clipped)):
            if f"{kind}/steps" in arrays and f"{kind}/texts" in arrays:
                events.load(arrays[f"{kind}/steps"], arrays[f"{kind}/texts"])
        self._ema_last = {m: float(h.y[-1]) for m, h in self._ema.items() if len(h)}
        self._dirty = True
        self.refresh()

    def mark_step(self, step: int | None) -> None:
        """A dashed line at the step the typed text's views show (the training timeline), or none."""
        for line in self._marks:
            line.setVisible(step is not None)
            if step is not None:
                line.setValue(step)

    def clear(self) -> None:
        self.mark_step(None)
        for h in (*self._train.values(), *self._ema.values(), *self._held_out.values()):
            h.clear()
        self._ema_last.clear()
        self._skipped.clear()
        self._clipped.clear()
        for r in self._ranges.values():
            r.clear()
        self._dirty = True
        self.refresh()

    def refresh(self) -> None:
        """Push the buffers into the plot items; cheap when nothing arrived since the last call."""
        if not self._dirty:
            return
        self._dirty = False
        smooth = self.smooth.isChecked()
        for name, (train, ema, held_out) in self._curves.items():
            set_curve(train, self._train[name])
            set_curve(held_out, self._held_out[name])
            if smooth:
                set_curve(ema, self._ema[name])
        for marks, events in ((self._skipped_marks, self._skipped), (self._clipped_marks, self._clipped)):
            if getattr(marks, "shown_version", None) != events.version:
                steps = events.steps()
                marks.setData(x=steps, y=np.zeros_like(steps))
                marks.shown_version = events.version
        self._show_trend()
        self._hint.setVisible(len(self._train["loss"]) == 0)
        steps = self._train["loss"].x
        for name, r in self._ranges.items():
            ys = [h.y for h in (self._train[name], self._held_out[name]) if len(h)]
            if ys and len(steps):
                y = np.concatenate(ys)
                r.follow(steps[0], steps[-1], float(y.min()), float(y.max()))
        if not self._over:
            self._show_latest()

    def _show_trend(self) -> None:
        """The best held-out step's mark, and the line saying held-out loss has risen since."""
        held_out = self._held_out["loss"]
        if held_out.version == self._trend_of:
            return  # no new held-out point: the same trend
        self._trend_of = held_out.version
        trend = held_out_trend(held_out.x, held_out.y)
        old = self.trend.best_step if self.trend else None
        self.trend = trend
        self._best_mark.setData([trend.best_step] if trend else [], [trend.best_loss] if trend else [])
        text = trend.message() if trend else ""
        self.overfit.setText(
            text + (" (the star marks that step; Best on the timeline goes back to it)" if text else "")
        )
        self.overfit.setVisible(bool(text))
        if (trend.best_step if trend else None) != old:
            self.best_changed.emit(trend.best_step if trend else None)

    def _add_curves(self, name: str, plot: pg.PlotItem) -> tuple[pg.PlotDataItem, ...]:
        if name == "loss":
            background = translucent(pg.mkColor(pg.getConfigOption("background")), 190)
            # Under the plot, not over it (it covered the held-out curve); named items join it.
            plot.legend = pg.LegendItem(colCount=2, brush=background, labelTextSize="8pt")
            plot.layout.addItem(plot.legend, 4, 1)
        train = plot.plot(pen=pg.mkPen(TRAIN, width=1), name="train")
        ema = plot.plot(pen=pg.mkPen(TRAIN, width=2))
        ema.setVisible(False)
        held_out = plot.plot(
            pen=pg.mkPen(HELD_OUT, width=2),
            symbol="o",
            symbolSize=6,
            symbolPen=None,
            symbolBrush=HELD_OUT,
            name="held-out",
        )
        plot.setLimits(xMin=0, yMin=0, yMax=1 if name == "accuracy" else None)
        return train, ema, held_out

    def _add_marks(self, plot: pg.PlotItem) -> tuple[pg.ScatterPlotItem, pg.ScatterPlotItem]:
        """Skipped and clipped steps along the bottom edge of the plot, whatever its y range."""
        skipped = pg.ScatterPlotItem(
            symbol="t1", size=11, pen=None, brush=SKIPPED, name="skipped (non-finite)"
        )
        clipped = pg.ScatterPlotItem(symbol="|", size=9, pen=None, brush=CLIPPED, name="grad clipped")
        for marks in (clipped, skipped):
            plot.addItem(marks, ignoreBounds=True)
        plot.vb.sigYRangeChanged.connect(self._on_loss_range_changed)
        return skipped, clipped

    def _link_axes(self) -> None:
        plots = list(self._plots.values())
        for plot in plots[1:]:
            plot.setXLink(plots[0])
        for plot in plots[:-1]:
            plot.getAxis("bottom").setStyle(showValues=False)
        plots[-1].setLabel("bottom", "step")

    def _smoothed(self, name: str, values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        e = self._ema_last.get(name)
        for i, v in enumerate(values.tolist()):
            e = v if e is None else e + EMA_ALPHA * (v - e)
            out[i] = e
        if e is not None:
            self._ema_last[name] = e
        return out

    def _on_smooth_toggled(self, on: bool) -> None:
        for train, ema, _ in self._curves.values():
            train.setPen(pg.mkPen(translucent(TRAIN, 90) if on else TRAIN, width=1))
            ema.setVisible(on)
        self._dirty = True
        self.refresh()

    def _on_loss_range_changed(self, _vb: pg.ViewBox, y_range: tuple[float, float]) -> None:
        y = y_range[0] + 0.04 * (y_range[1] - y_range[0])
        self._skipped_marks.setPos(0, y)
        self._clipped_marks.setPos(0, y)

    def _on_hover(self, x: float, y: float, metric: str = "loss") -> None:
        """Show the exact values of `metric` at the step nearest x, and a marked step near it."""
        self._over.add(metric)
        parts = [self._value_text(metric, x)]
        x0, x1 = self._plots[metric].vb.viewRange()[0]
        tolerance = max(1.0, 0.01 * (x1 - x0))
        near = [e.near(x, tolerance) for e in (self._skipped, self._clipped)]
        parts += [text for _, text in sorted(filter(None, near), key=lambda e: abs(e[0] - x))[:1]]
        self.readout.setText("   \u2502  ".join(p for p in parts if p) or " ")

    def _on_leave(self, metric: str) -> None:
        self._over.discard(metric)
        if not self._over:
            self._show_latest()

    def _value_text(self, metric: str, x: float) -> str:
        train, held_out, short = self._train[metric], self._held_out[metric], METRICS[metric][1]
        i = train.nearest(x)
        if i is None:
            return ""
        text = f"step {int(train.x[i])}  {short} {fmt(train.y[i])}"
        if self.smooth.isChecked():  # train and its average hold the same steps: same indices
            text += f" (smoothed {fmt(self._ema[metric].y[i])})"
        j = held_out.nearest(x)
        if j is not None:
            text += f"  (held-out {fmt(held_out.y[j])} at step {int(held_out.x[j])})"
        return text

    def _show_latest(self) -> None:
        loss = self._train["loss"]
        if not len(loss):
            self.readout.setText("no steps yet")
            return
        parts = [f"latest: step {int(loss.x[-1])}"]
        parts += [
            f"{short} {fmt(self._train[m].y[-1])}" for m, (_, short) in METRICS.items() if len(self._train[m])
        ]
        if len(self._held_out["loss"]):
            parts.append(f"held-out loss {fmt(self._held_out['loss'].y[-1])}")
        events = f"{self._skipped.total} skipped, {self._clipped.total} clipped"
        self.readout.setText("  ".join(parts) + f"   \u2502  {events}")
