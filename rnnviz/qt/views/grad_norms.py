"""GradNormHistory: per-parameter gradient norms ||dL/dW|| over training steps (log y), plus the
total norm and the clipping threshold. Fed like the training curves: add_metrics, then refresh."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QWidget

from rnnviz.core.snapshot import StepMetrics
from rnnviz.qt.views.common import LogAxis, SteadyRange, fmt, on_hover, readout_label
from rnnviz.qt.views.curves import GRAD_HISTORY_CAP, LINE_COLOURS, TOTAL, new_plot, set_curve, under_plots
from rnnviz.qt.views.history import History


class GradNormHistory(QWidget):
    """Per-parameter gradient norms ||dL/dW|| over training (log y), plus the total norm."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._graphics = pg.GraphicsLayoutWidget()
        self._plot = new_plot(
            self._graphics,
            0,
            "gradient norm \u2016\u2202L/\u2202W\u2016",
            axisItems={"left": LogAxis("left")},
        )
        self._plot.setLabel("bottom", "step")
        self._plot.setLogMode(y=True)
        self._plot.setLimits(xMin=0)
        self._range = SteadyRange(self._plot)
        self._legend = pg.LegendItem(labelTextSize="8pt", colCount=2)  # below: a dozen names would hide data
        self._graphics.addItem(self._legend, row=1, col=0)
        self._legend.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._lines: dict[str, tuple[History, pg.PlotDataItem]] = {}
        self._dirty = False
        self._hovering = False
        self._clip_line = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen(pg.getConfigOption("foreground"), width=1, style=Qt.PenStyle.DashLine),
            label="clip",
            labelOpts={"position": 0.97, "color": pg.getConfigOption("foreground")},
        )
        self._clip_line.setZValue(10)
        self._clip_line.setVisible(False)
        self._plot.addItem(self._clip_line, ignoreBounds=True)
        self.readout = readout_label()
        self.readout.setWordWrap(True)
        self.setLayout(under_plots(self._graphics, self.readout))
        on_hover(self._plot, self._on_hover, self._on_leave)

    def add_metrics(self, metrics: Sequence[StepMetrics]) -> None:
        """Append norms; zero and non-finite values are left out (a log axis cannot show them)."""
        steps = np.array([m.step for m in metrics], dtype=float)
        series = {TOTAL: [m.total_norm for m in metrics]}
        for name in dict.fromkeys(n for m in metrics for n in m.grad_norms):
            series[name] = [m.grad_norms.get(name, math.nan) for m in metrics]
        for name, values in series.items():
            v = np.array(values, dtype=float)
            ok = np.isfinite(v) & (v > 0)
            self._history(name).extend(steps[ok], v[ok])
        self._dirty = True

    def set_clip(self, value: float | None) -> None:
        """Draw the clipping threshold on the total norm (None: clipping off)."""
        self._clip_line.setVisible(value is not None)
        if value is not None:
            self._clip_line.setPos(math.log10(value))  # the axis is log10: lines sit in view coordinates

    def clear(self) -> None:
        for _, line in self._lines.values():
            self._plot.removeItem(line)
            self._legend.removeItem(line)
        self._lines.clear()
        self._range.clear()
        self._dirty = True
        self.refresh()

    def history_state(self) -> dict[str, np.ndarray]:
        """Every parameter's norms, as plain arrays (a saved session's history)."""
        return {name: h.state() for name, (h, _) in self._lines.items()}

    def restore_history(self, arrays: dict[str, np.ndarray]) -> None:
        self.clear()
        for name, xy in arrays.items():
            self._history(name).load(xy)
        self._dirty = True
        self.refresh()

    def refresh(self) -> None:
        """Push the buffers into the plot items; cheap when nothing arrived since the last call."""
        if not self._dirty:
            return
        self._dirty = False
        for history, line in self._lines.values():
            set_curve(line, history)
        total = self._lines.get(TOTAL)
        if total is not None and len(total[0]):
            ys = np.log10(np.concatenate([h.y for h, _ in self._lines.values() if len(h)]))  # log axis
            self._range.follow(total[0].x[0], total[0].x[-1], float(ys.min()), float(ys.max()))
        if not self._hovering:
            self._show_latest()

    def _history(self, name: str) -> History:
        if name not in self._lines:
            self._lines[name] = (History(GRAD_HISTORY_CAP), self._new_line(name))
        return self._lines[name][0]

    def _new_line(self, name: str) -> pg.PlotDataItem:
        if name == TOTAL:
            pen = pg.mkPen(pg.getConfigOption("foreground"), width=3)
        else:
            i = sum(n != TOTAL for n in self._lines)
            style = Qt.PenStyle.SolidLine if i < len(LINE_COLOURS) else Qt.PenStyle.DashLine
            pen = pg.mkPen(LINE_COLOURS[i % len(LINE_COLOURS)], width=1, style=style)
        line = self._plot.plot(pen=pen)
        self._legend.addItem(line, name)
        return line

    def _on_hover(self, x: float, y: float) -> None:
        """Every norm at the step nearest x (the total's steps are the reference)."""
        self._hovering = True
        total = self._lines.get(TOTAL)
        i = total[0].nearest(x) if total else None
        if i is None:
            self.readout.setText(" ")
            return
        self.readout.setText(self._values_text(total[0].x[i]))

    def _values_text(self, step: float) -> str:
        parts = [f"step {int(step)}"]
        for name, (history, _) in self._lines.items():
            j = history.nearest(step)
            value = fmt(history.y[j]) if j is not None and history.x[j] == step else "\u2013"
            parts.append(f"{name}\u00a0{value}")
        return "  ".join(parts)

    def _on_leave(self) -> None:
        self._hovering = False
        self._show_latest()

    def _show_latest(self) -> None:
        total = self._lines.get(TOTAL)
        self.readout.setText(self._values_text(total[0].x[-1]) if total and len(total[0]) else "no steps yet")
