"""The gradient lab's plots: how each is made, the items every architecture draws in them (built
once, mixed into LabWindow as LabPlots), and the points its figures put on a log axis."""

from __future__ import annotations

from collections import deque
from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from rnnviz.core.config import ARCHS
from rnnviz.core.lab import DECAY_FROM, FAR_FRACTION, HORIZON_FRACTION, SATURATION, has_w_hh
from rnnviz.qt.lab_readouts import COLOURS, FAR, NAMES, PCT
from rnnviz.qt.views.common import (
    LogAxis,
    SteadyRange,
    cache_axes,
    foreground,
    legend_brush,
    on_hover,
    readout_label,
)
from rnnviz.qt.views.curves import set_curve
from rnnviz.qt.views.history import EVENT_CAP, History

SAT_GATES = {
    ("lstm", "i"): "o",
    ("lstm", "f"): "t",
    ("lstm", "o"): "s",
    ("gru", "r"): "d",
    ("gru", "z"): "+",
    ("mingru", "z"): "h",
    ("minlstm", "f"): "t1",
    ("minlstm", "i"): "p",
}  # fmt: skip  (the S6 has no gate in [0, 1]: Delta, B and C are not saturating gates)
UNIT_LABEL = "1: below vanishes, above explodes"
# key -> (title, x label, y label, log y)
PLOTS = {
    "decay": ("Decay per 10 steps back (lower remembers longer)", "step",
              f"decades lost per 10 steps (k \u2265 {DECAY_FROM})", False),
    "loss": ("Training loss", "step", "loss (nats)", False),
    "grad": (f"\u2016dL/dh\u209c\u208b\u2096\u2016/\u2016dL/dh\u209c\u2016 (dashed {PCT}, {FAR}; dots: fit)",
             "distance k back from the target step", "geometric mean over the windows", True),
    "sigma": ("Largest singular value of the state map (LSTM: of (h, c))", "step of the probe window",
              "\u03c3_max", True),
    "sat": ("Gate saturation per unit (last layer)",
            f"fraction of steps below {SATURATION[0]} (left-saturated)",
            f"fraction of steps above {SATURATION[1]} (right-saturated)", False),
}  # fmt: skip
ANSWERS_PLOT = (
    "Answers right on held-out lines (higher recalls more)",
    "step",
    "fraction of the answers",
    False,
)


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
    cache_axes(plot)  # (replaying an axis and its grid took ~2 ms on every paint of the plot)
    return widget


def grad_title(ssm: bool) -> str:
    """The ratio plot's title; with an S6 training, its curve is that of its state s."""
    if not ssm:
        return PLOTS["grad"][0]
    return PLOTS["grad"][0].replace(" (dashed", " (S6: of s; dashed")


def sigma_title(lstm: bool, modern: bool) -> str:
    """The spectrum plot's title: what the state map is for the models training (short enough for a
    third of a 1366-pixel screen beside its log axis)."""
    if not modern:
        return "Largest singular value of the " + (
            "state map (LSTM: of (h, c))" if lstm else "step's state map"
        )
    return "\u03c3_max of the state map (" + (
        "LSTM: (h, c); no W_hh: decays)" if lstm else "no W_hh: the largest decay)"
    )


def _cell(*widgets: QWidget) -> QWidget:
    """Widgets stacked; the first one stretches."""
    cell = QWidget()
    lay = QVBoxLayout(cell)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w, 1 if w is widgets[0] else 0)
    return cell


class LabPlots:
    """The lab's five plots and the table's place, each architecture's items in them, and drawing
    (mixed into LabWindow: it reads the window's histories and figures)."""

    def _build_plots(self) -> QGridLayout:
        grid = QGridLayout()
        self.plots: dict[str, pg.PlotItem] = {}
        self.readouts: dict[str, QLabel] = {}
        for k, (key, spec) in enumerate(PLOTS.items()):
            widget = new_plot(*spec)
            plot, label = widget.getPlotItem(), readout_label()
            self.plots[key], self.readouts[key] = plot, label
            on_hover(plot, partial(self._on_hover, key), partial(label.setText, " "))
            grid.addWidget(_cell(widget, label), k // 3, k % 3)
        self._build_items()
        # The ranges follow the data in steps, not on every frame: autorange re-laid out a plot's
        # axes on each new point (8-14 ms a paint, which held up the next frame).
        self.ranges = {
            k: SteadyRange(self.plots[k], ahead=k in ("decay", "loss")) for k in PLOTS if k != "sat"
        }
        self.table = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        grid.addWidget(self.table, 1, 2)
        return grid

    def _build_items(self) -> None:
        """Every architecture's items, built once: those of the models not training stay empty."""
        p = self.plots
        self.loss = {a: History() for a in ARCHS}
        self.decays = {a: History() for a in ARCHS}  # decay_per_10 over training
        self.answers = {a: History() for a in ARCHS}  # answer accuracy over training (line samples)
        self.clipped = {a: deque(maxlen=EVENT_CAP) for a in ARCHS}  # (step, loss) of clipped steps
        # bottom left: the loss starts high and falls; it only rises (top right) when gradients explode
        p["loss"].addLegend(offset=(6, -6), labelTextSize="8pt", brush=legend_brush(170), colCount=2)
        self.loss_curves = {a: p["loss"].plot(pen=arch_pen(a, 1.5)) for a in ARCHS}
        self.clip_marks = {
            a: p["loss"].plot(pen=None, symbol="x", symbolSize=6, symbolPen=arch_pen(a, 1.5)) for a in ARCHS
        }
        self.clip_key = pg.ScatterPlotItem(symbol="x", pen="#777")
        self.grad_curves = {a: p["grad"].plot(pen=arch_pen(a)) for a in ARCHS}
        grey = pg.mkPen("#777", width=1, style=Qt.PenStyle.DashLine)
        self.thresholds = [pg.InfiniteLine(np.log10(f), 0, grey) for f in (HORIZON_FRACTION, FAR_FRACTION)]
        self.fit_lines = {
            a: p["grad"].plot(pen=pg.mkPen(COLOURS[a], width=1, style=Qt.PenStyle.DotLine)) for a in ARCHS
        }
        self.decay_curves = {
            a: p["decay"].plot(pen=arch_pen(a), symbol="o", symbolSize=5, symbolBrush=COLOURS[a])
            for a in ARCHS
        }
        self.sigma_curves = {a: p["sigma"].plot(pen=arch_pen(a)) for a in ARCHS}
        self.cell_curve = p["sigma"].plot(pen=arch_pen("lstm", 2, dashed=True))
        pen, opts = (
            pg.mkPen("#777", width=1.5, style=Qt.PenStyle.DashLine),
            {"position": 0.02, "anchors": [(0, 1), (0, 1)], "color": foreground()},
        )
        self.unit_line = pg.InfiniteLine(0.0, 0, pen, label=UNIT_LABEL, labelOpts=opts)  # at log10(1) = 0
        p["sigma"].addItem(self.unit_line)
        for line in self.thresholds:
            p["grad"].addItem(line)
        p["sat"].plot([0, 1], [1, 0], pen=pg.mkPen("#999", width=1, style=Qt.PenStyle.DotLine))
        p["sat"].setRange(xRange=(0, 1), yRange=(0, 1), padding=0.03, disableAutoRange=True)
        p["sat"].addLegend(offset=(-6, 6), labelTextSize="8pt")
        self.sat_points = {}
        for (arch, gate), symbol in SAT_GATES.items():
            item = pg.ScatterPlotItem(size=8, symbol=symbol, pen=arch_pen(arch, 1), brush=COLOURS[arch])
            p["sat"].addItem(item)
            self.sat_points[arch, gate] = item

    def headline(self) -> dict:
        """What the top-left plot draws over training: the answer accuracy when the models read
        lines and are scored on their answers (recall), else the decay per 10 steps."""
        return self.answers if self.lines else self.decays

    def _show_plots_for(self, archs: tuple[str, ...]) -> None:
        """Legends and titles for the models now training."""
        title, _, ylabel, _ = ANSWERS_PLOT if self.lines else PLOTS["decay"]
        self.plots["decay"].setTitle(title, size="10pt")
        self.plots["decay"].setLabel("left", ylabel)
        loss, sat = self.plots["loss"].legend, self.plots["sat"].legend
        loss.clear()
        sat.clear()
        for a in archs:
            loss.addItem(self.loss_curves[a], NAMES[a])
        loss.addItem(self.clip_key, "gradient clipped")
        for (arch, gate), item in self.sat_points.items():
            if arch in archs:
                sat.addItem(item, f"{NAMES[arch]} gate {gate}")
        ssm, modern = "ssm" in archs, not all(has_w_hh(a) for a in archs)
        self.plots["grad"].setTitle(grad_title(ssm), size="10pt")
        self.plots["sigma"].setTitle(sigma_title("lstm" in archs, modern), size="10pt")

    def _draw_curves(self) -> None:
        for a in ARCHS:
            set_curve(self.loss_curves[a], self.loss[a])
            marks = np.array(self.clipped[a], dtype=float).reshape(-1, 2)
            self.clip_marks[a].setData(x=marks[:, 0], y=marks[:, 1])
        self._follow("loss")

    def _follow(self, *keys: str) -> None:
        """The plots' ranges to what their items span now (in view coordinates: log10 on a log axis)."""
        for k in keys:
            (x, y) = self.plots[k].vb.childrenBounds()
            if x is not None and y is not None:
                self.ranges[k].follow(x[0], x[1], y[0], y[1])

    def _draw_figures(self) -> None:
        empty = np.zeros(0)
        for a in ARCHS:
            f = self.figs.get(a)
            set_curve(self.decay_curves[a], self.headline()[a])
            self.grad_curves[a].setData(*positive(getattr(f, "grad_by_distance", None)))
            self.fit_lines[a].setData(*decay_fit(f))
            self.sigma_curves[a].setData(*positive(getattr(f, "sigma_by_step", None)))
        self.cell_curve.setData(*positive(getattr(self.figs.get("lstm"), "cell_sigma", None)))
        for (arch, gate), item in self.sat_points.items():
            f = self.figs.get(arch)
            left, right = f.saturation.get(gate, (empty, empty)) if f is not None else (empty, empty)
            item.setData(x=left, y=right)
        self._follow("decay", "grad", "sigma")
