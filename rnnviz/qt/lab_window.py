"""LabWindow, the gradient lab: an RNN, an LSTM and a GRU trained side by side, and why RNNs forget.

The three models train in a training process of the window's own (qt.training_hosts.ProcessHost,
core.lab_loop.LabLoop there): this window never imports torch. Data flow: the session's
metrics_ready / figures_ready -> _on_metrics / _on_figures (keep, mark dirty) -> _on_frame (~30 Hz,
only when something arrived) -> setData on items built once.
"""

from __future__ import annotations

import time
from collections import deque
from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.config import MAX_LAYERS, TrainConfig, check_lr
from rnnviz.core.corpus import BUILTIN_PREFIX, BUILTINS, load_corpus
from rnnviz.core.errors import RnnvizError
from rnnviz.core.lab import ARCHS, DECAY_FROM, FAR_FRACTION, HORIZON_FRACTION, SATURATION
from rnnviz.core.lab_loop import MEASURE_EVERY, check_scale
from rnnviz.core.protocol import Scale, UndoScale
from rnnviz.core.session import LabSpec
from rnnviz.qt.lab_plots import arch_pen, decay_fit, new_plot, positive
from rnnviz.qt.lab_readouts import COLOURS, FAR, NAMES, PCT, LabReadouts
from rnnviz.qt.training_hosts import ProcessHost, RemoteTrainWorker
from rnnviz.qt.views.common import foreground, legend_brush, on_hover, readout_label
from rnnviz.qt.views.curves import set_curve
from rnnviz.qt.views.history import EVENT_CAP, History

FRAME_MS = 25  # a frame every 25 ms at most (40 Hz), as in the main window
CURVES_S = 0.1  # the loss curves at most 10 times a second
# The table's step and loss at most once a second: a new text re-lays out the window (a ~13 ms
# repaint of every plot, measured: benchmarks/frame_interval.py --window lab); its figures at once.
TABLE_S = 1.0
START_WAIT_S = 60.0  # the first Reset waits for the training process to load torch
MAX_HIDDEN = 256  # measuring costs O(window x H^3): the lab is for small models
SAT_GATES = {("lstm", "i"): "o", ("lstm", "f"): "t", ("lstm", "o"): "s", ("gru", "r"): "d", ("gru", "z"): "+"}
UNIT_LABEL = "1: below vanishes, above explodes"
# key -> (title, x label, y label, log y)
PLOTS = {
    "decay": ("Decay per 10 steps back (lower remembers longer)", "step",
              f"decades lost per 10 steps (k \u2265 {DECAY_FROM})", False),
    "loss": ("Training loss", "step", "loss (nats)", False),
    "grad": (f"\u2016dL/dh\u209c\u208b\u2096\u2016/\u2016dL/dh\u209c\u2016 (dashed {PCT}, {FAR}; dots: fit)",
             "distance k back from the target step", "geometric mean over the windows", True),
    "sigma": ("Largest singular value of the step's state map (LSTM: of (h, c))", "step of the probe window",
              "\u03c3_max", True),
    "sat": ("Gate saturation per unit (last layer)",
            f"fraction of steps below {SATURATION[0]} (left-saturated)",
            f"fraction of steps above {SATURATION[1]} (right-saturated)", False),
}  # fmt: skip
KEY = " &nbsp; ".join(
    [f"<b style='color:{COLOURS[a]}'>\u2501\u2501 {NAMES[a]}</b>" for a in ARCHS]
    + [
        f"<b style='color:{COLOURS['lstm']}'>\u254d\u254d LSTM cell path (max f\u209c)</b>",
        "\u00d7 gradient clipped",
    ]
    + ["<span style='color:gray'>hover a plot for exact values</span>"]
)


def _spin(lo, hi, value, tip: str, cls=QSpinBox):
    box = cls()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setToolTip(tip)
    box.setMaximumWidth(90)
    return box


def _button(text: str, slot, tip: str = "") -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(lambda _checked=False: slot())  # same thread; drops `checked`
    button.setToolTip(tip)
    return button


def _cell(*widgets: QWidget) -> QWidget:
    """Widgets stacked; the first one stretches."""
    cell = QWidget()
    lay = QVBoxLayout(cell)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w, 1 if w is widgets[0] else 0)
    return cell


class LabWindow(LabReadouts, QMainWindow):
    def __init__(self, corpus="builtin:story", hidden=64, layers=1, lr=3e-3, seed=0, parent=None):
        super().__init__(parent)
        self.setWindowTitle("rnnviz \u2014 gradient lab: RNN vs LSTM vs GRU")
        self.setObjectName("rnnviz-lab")
        self.resize(1400, 900)
        self.measure_every = MEASURE_EVERY
        self.host = ProcessHost(self)  # spawned now: it imports torch while this window builds
        self.worker: RemoteTrainWorker | None = None
        self.scale_applied = 1.0  # the product of the W_hh factors asked for since the models were made
        self.figs: dict = {}  # arch -> LabMeasurement, the latest
        self.last_metrics: dict = {}  # arch -> StepMetrics, the latest
        self._metrics_dirty = self._figs_dirty = False
        self._last_curves = self._last_table = 0.0  # when the loss curves and the table were drawn
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.addLayout(self._build_controls(corpus, hidden, layers, lr, seed))
        lay.addWidget(QLabel(KEY))
        lay.addLayout(self._build_plots(), 1)
        self.setCentralWidget(central)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)  # (a coarse timer drifts by up to 5 %)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._on_frame)
        self.reset(wait=False)  # shown at once: the models are built while torch loads

    # ---- layout --------------------------------------------------------------------------
    def _build_controls(self, corpus: str, hidden: int, layers: int, lr: float, seed: int) -> QHBoxLayout:
        self.corpus = QComboBox()
        for name, (_, desc) in BUILTINS.items():
            self.corpus.addItem(name, BUILTIN_PREFIX + name)
            self.corpus.setItemData(self.corpus.count() - 1, desc, Qt.ItemDataRole.ToolTipRole)
        self.corpus.setCurrentIndex(max(self.corpus.findData(corpus), 0))
        self.hidden = _spin(1, MAX_HIDDEN, hidden, "Hidden units of each model (applies on Reset)")
        self.layers = _spin(1, MAX_LAYERS, layers, "Layers of each model (applies on Reset)")
        self.seed = _spin(0, 2**31 - 1, seed, "The same seed for all three models (applies on Reset)")
        self.lr = QLineEdit(f"{lr:g}")
        self.lr.setMaximumWidth(70)
        self.lr.setToolTip("Learning rate of all three models: applies at once (Enter)")
        self.lr.editingFinished.connect(partial(self._tell, "lr", self.lr.text))
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._on_play)
        self.scale = _spin(0.1, 10.0, 1.5, "> 1 makes gradients explode, < 1 vanish", QDoubleSpinBox)
        self.scale.setSingleStep(0.1)
        self.scale_label = QLabel()
        row = QHBoxLayout()
        for text, w in (
            ("Corpus", self.corpus),
            ("Hidden", self.hidden),
            ("Layers", self.layers),
            ("Seed", self.seed),
            (None, _button("Reset", self.reset, "New models from the corpus, size and seed chosen here")),
            ("   Learning rate", self.lr),
            (None, self.play),
            (None, _button("Step", partial(self._tell, "step"), "One training step of each model")),
            ("   Scale W_hh \u00d7", self.scale),
            (
                None,
                _button("Apply", partial(self._tell, "scale", self.scale.value), "W_hh \u00d7= factor"),
            ),
            (None, _button("Undo", partial(self._tell, "undo"), "Divide out every factor applied")),
            (None, self.scale_label),
        ):
            if text:
                row.addWidget(QLabel(text))
            row.addWidget(w)
        row.addStretch(1)
        return row

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
        self.table = QLabel(wordWrap=True, alignment=Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        grid.addWidget(self.table, 1, 2)
        return grid

    def _build_items(self) -> None:
        p = self.plots
        self.loss = {a: History() for a in ARCHS}
        self.decays = {a: History() for a in ARCHS}  # decay_per_10 over training
        self.clipped = {a: deque(maxlen=EVENT_CAP) for a in ARCHS}  # (step, loss) of clipped steps
        # bottom left: the loss starts high and falls; it only rises (top right) when gradients explode
        p["loss"].addLegend(offset=(6, -6), labelTextSize="8pt", brush=legend_brush(170), colCount=2)
        self.loss_curves = {a: p["loss"].plot(pen=arch_pen(a, 1.5), name=NAMES[a]) for a in ARCHS}
        self.clip_marks = {
            a: p["loss"].plot(pen=None, symbol="x", symbolSize=6, symbolPen=arch_pen(a, 1.5)) for a in ARCHS
        }
        p["loss"].legend.addItem(pg.ScatterPlotItem(symbol="x", pen="#777"), "gradient clipped")
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
        legend = p["sat"].addLegend(offset=(-6, 6), labelTextSize="8pt")
        self.sat_points = {}
        for (arch, gate), symbol in SAT_GATES.items():
            item = pg.ScatterPlotItem(size=8, symbol=symbol, pen=arch_pen(arch, 1), brush=COLOURS[arch])
            p["sat"].addItem(item)
            legend.addItem(item, f"{NAMES[arch]} gate {gate}")
            self.sat_points[arch, gate] = item

    # ---- the session -------------------------------------------------------------------------
    def reset(self, wait: bool = True) -> None:
        """Three new models from the controls; the old ones (and their curves) go. The models are
        built in the training process; if they cannot be, the old ones go on. wait=False (when the
        window opens): adopted at once, a failure said when the process answers."""
        try:
            corpus = load_corpus(self.corpus.currentData(), "char")
            cfg = TrainConfig(lr=float(self.lr.text()), seed=self.seed.value(), clip=1.0)
            spec = LabSpec(
                corpus, self.hidden.value(), self.layers.value(), cfg, measure_every=self.measure_every
            )
            worker = self.host.session(spec)
            worker.metrics_ready.connect(self._on_metrics)
            worker.figures_ready.connect(self._on_figures)
            worker.failed.connect(self._on_failed)
            worker.notice.connect(self._on_failed)  # a message all the same (training goes on)
            worker.running_changed.connect(self._on_running)
            worker.start_failed.connect(self._on_start_failed)
            self.host.start(worker, START_WAIT_S if wait else None)
        except (RnnvizError, ValueError) as exc:
            self.statusBar().showMessage(f"Reset failed: {exc}", 10000)
            return
        if self.worker is not None:
            self.host.stop(self.worker)  # its late reports are ignored (_from_current)
        self.worker, self.scale_applied = worker, 1.0
        for h in (*self.loss.values(), *self.decays.values(), *self.clipped.values()):
            h.clear()
        self.figs, self.last_metrics = {}, {}
        self._metrics_dirty = self._figs_dirty = True
        self.play.setChecked(False)
        self._tell()
        self.timer.start()

    def showEvent(self, event) -> None:
        self.timer.start()
        super().showEvent(event)

    def closeEvent(self, event) -> None:
        """Closed, the lab pauses; its models are kept for when it is shown again."""
        self.timer.stop()
        self.play.setChecked(False)
        super().closeEvent(event)

    def shut_down(self) -> None:
        """End the training process (the app is closing)."""
        self.close()
        self.worker = None
        self.host.close()

    def _from_current(self) -> bool:
        return self.worker is not None and self.sender() is self.worker

    # ---- slots ---------------------------------------------------------------------------
    @Slot(object)
    def _on_metrics(self, batch: dict) -> None:
        if not self._from_current():
            return
        for arch, ms in batch.items():
            ok = [m for m in ms if not m.skipped and np.isfinite(m.loss)]
            self.loss[arch].extend([m.step for m in ok], [m.loss for m in ok])
            self.clipped[arch].extend((m.step, m.loss) for m in ok if m.clipped)
            if ms:
                self.last_metrics[arch] = ms[-1]
        self._metrics_dirty = True

    @Slot(object)
    def _on_figures(self, figs: dict) -> None:
        if not self._from_current():
            return
        for arch, f in figs.items():
            if len(self.decays[arch]) and f.step <= self.decays[arch].x[-1]:
                continue  # remeasured at the same step (e.g. after scaling W_hh): no new point
            if np.isfinite(f.decay_per_10):
                self.decays[arch].extend([f.step], [f.decay_per_10])
        self.figs = dict(figs)
        self._figs_dirty = True

    @Slot(str)
    def _on_start_failed(self, message: str) -> None:
        if self._from_current():
            self.statusBar().showMessage(f"The models could not be made: {message}", 15000)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._from_current():
            self.statusBar().showMessage(message)

    @Slot(bool)
    def _on_running(self, on: bool) -> None:
        if not self._from_current():
            return
        self.play.blockSignals(True)
        self.play.setChecked(on)
        self.play.blockSignals(False)
        self.play.setText("Pause" if on else "Play")

    def _on_play(self, on: bool) -> None:
        if self.worker is not None:
            self.worker.play() if on else self.worker.pause()
        self.play.setText("Pause" if on else "Play")

    def _tell(self, what: str | None = None, value=None) -> None:
        """Send the session a control ("lr", "step", "scale", "undo"; with float(value()) if
        given), checked here first: a bad value is a message and nothing is sent."""
        try:
            x = None if value is None else float(value())
            if what and self.worker is not None:
                self._send(what, x)
        except (RnnvizError, ValueError) as exc:
            self.statusBar().showMessage(str(exc), 10000)
        self.scale_label.setText(f"W_hh \u00d7 {self.scale_applied:.4g} applied")

    def _send(self, what: str, x: float | None) -> None:
        w = self.worker
        if what == "lr":
            check_lr(x)
            w.apply(lr=x)
        elif what == "step":
            w.step_once()
        elif what == "scale":
            check_scale(x)
            w.send(Scale(x))
            self.scale_applied *= x
        elif what == "undo":
            w.send(UndoScale())
            self.scale_applied = 1.0

    # ---- drawing -------------------------------------------------------------------------
    def _on_frame(self) -> None:
        """One thing a frame: the new figures, or the loss curves (at most 10 times a second)."""
        now = time.perf_counter()
        if self._figs_dirty:
            self._figs_dirty = False
            self._draw_figures()
        elif self._metrics_dirty and now - self._last_curves >= CURVES_S:
            self._metrics_dirty, self._last_curves = False, now
            for a in ARCHS:
                set_curve(self.loss_curves[a], self.loss[a])
                marks = np.array(self.clipped[a], dtype=float).reshape(-1, 2)
                self.clip_marks[a].setData(x=marks[:, 0], y=marks[:, 1])
            if now - self._last_table < TABLE_S:
                return
        else:
            return
        self._last_table = now
        self.table.setText(self._table_html())

    def _draw_figures(self) -> None:
        empty = np.zeros(0)
        for a in ARCHS:
            f = self.figs.get(a)
            set_curve(self.decay_curves[a], self.decays[a])
            self.grad_curves[a].setData(*positive(getattr(f, "grad_by_distance", None)))
            self.fit_lines[a].setData(*decay_fit(f))
            self.sigma_curves[a].setData(*positive(getattr(f, "sigma_by_step", None)))
        self.cell_curve.setData(*positive(getattr(self.figs.get("lstm"), "cell_sigma", None)))
        for (arch, gate), item in self.sat_points.items():
            f = self.figs.get(arch)
            left, right = f.saturation.get(gate, (empty, empty)) if f is not None else (empty, empty)
            item.setData(x=left, y=right)
