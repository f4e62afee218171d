"""SeriesWindow, the noisy-sine forecaster (preset "sine"): an RNN reads a window of past values
and forecasts the next one; the series, the forecasts, the MSE and the network's inside on one window.

Training runs in a training process of this window's own (qt.training_hosts.ProcessHost, the
main window's protocol): this window never imports torch. Data flow: the session's snapshots ->
_on_snapshot (keep the latest, queue the metrics) -> _on_frame (~30 Hz): curves and the trace of
the selected window (numpy, from the latest weights) at most 10 times a second; the figures with
the forecast of every target, which the training process computes ten times a second of training
(core.scoring.PresetMonitor) -> _on_figures -> the series plot and the figures table.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from rnnviz.core.errors import RnnvizError
from rnnviz.core.presets import PRESETS, load_source, preset_spec
from rnnviz.core.protocol import SessionInfo
from rnnviz.core.series import SINE, Series
from rnnviz.core.session import TrainerSpec
from rnnviz.core.snapshot import Snapshot
from rnnviz.core.trace import Trace, TraceWeights, trace_series
from rnnviz.qt.series_controls import SeriesControls
from rnnviz.qt.training_hosts import ProcessHost, RemoteTrainWorker
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.mse_plot import MsePlot
from rnnviz.qt.views.series_plot import SeriesPlot

FRAME_MS = 25  # a frame every 25 ms at most (40 Hz), as in the main window
CURVES_S = 0.1  # the MSE curves and the progress: at most 10 times a second
RETRACE_S = 0.1  # forecasts and the selected window's trace: at most 10 times a second
COST_FACTOR = 5  # GUI work may take at most 1 / COST_FACTOR of the time (long file series)
EVAL_EVERY = 50
START_WAIT_S = 30.0  # a Reset waits this long for the training process to build the model
PRESET = PRESETS["sine"]
SERIES_HINT = "Hover: values \u00b7 click: select a step \u00b7 double-click: maximise"


class SeriesWindow(QMainWindow):
    def __init__(self, parent=None, source_spec: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("rnnviz \u2014 noisy-sine forecaster")
        self.setObjectName("rnnviz-series")
        self.resize(1440, 900)
        self.host = ProcessHost(self)  # spawned now: it imports torch while this window builds
        self.worker: RemoteTrainWorker | None = None
        self.spec: TrainerSpec | None = None  # the current session's, for Reset and a reopened window
        self.source: Series | None = None
        self.latest: Snapshot | None = None
        self.selected: int | None = None
        self.trace: Trace | None = None
        self.figures_doc: dict = {}
        self._figures: dict | None = None  # figures come in, to be shown at the next frame
        self.forecast_updates = self.scored_updates = -1  # the updates of the weights last shown
        self.traced_updates = -1  # those of the weights the selected window was last traced with
        self._new_metrics = self._trace_due = False
        self._last_curves = 0.0  # when the MSE curves were last drawn
        self._next_trace = 0.0
        self._build()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)  # (a coarse timer drifts by up to 5 %)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._on_frame)
        self.timer.start()
        try:
            source = load_source(PRESET, source_spec)
        except RnnvizError as exc:  # a bad file: say so, and forecast the built-in sine instead
            self._say(f"{exc}; showing {SINE} instead", 15_000)
            source = load_source(PRESET)
        self._start(preset_spec(PRESET, source, device="cpu"), wait=False)

    # ---- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        self.controls = c = SeriesControls(PRESET)
        c.play.toggled.connect(self._on_play)
        c.step.clicked.connect(self.step_once)
        c.reset.clicked.connect(self.reset)
        self.series_plot = SeriesPlot()
        self.series_plot.target_clicked.connect(self.select)
        self.mse = MsePlot()
        self.internals = InternalsView(hint=SERIES_HINT)
        self.internals.step_clicked.connect(self.internals.set_selected)
        self.inside_title = QLabel()
        self.inside_title.setWordWrap(True)
        inside = QWidget()
        lay = QVBoxLayout(inside)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.inside_title)
        lay.addWidget(self.internals, 1)
        plots = QSplitter(Qt.Orientation.Vertical)
        plots.addWidget(self.series_plot)
        plots.addWidget(self.mse)
        plots.setSizes([460, 420])
        split = QSplitter(Qt.Orientation.Horizontal)  # the inside gets the full height: LSTM gates need it
        for w in (c, plots, inside):
            split.addWidget(w)
        split.setStretchFactor(1, 1)
        split.setSizes([270, 640, 530])
        self.setCentralWidget(split)
        for keys, slot in (("Space", c.play.toggle), ("F5", c.play.toggle), ("F6", self.step_once)):
            # A text field (learning rate, spin boxes) takes Space for itself: Qt offers it the key first.
            QShortcut(QKeySequence(keys), self, activated=slot)

    # ---- sessions ------------------------------------------------------------------------
    @property
    def info(self) -> SessionInfo | None:
        """What is known of the current session (its settings, its data)."""
        return self.worker.info if self.worker is not None else None

    def open_spec(self, spec: TrainerSpec) -> bool:
        """Show and train a value model made elsewhere (a saved model, a preset's spec)."""
        if not spec.model_cfg.regression or not isinstance(spec.corpus, Series):
            self._say("this window forecasts numbers: the model must read and predict values")
            return False
        try:
            self._start(spec)
        except RnnvizError as exc:
            self._say(f"cannot show this model: {exc}")
            return False
        return True

    def open_source(self, spec: str) -> bool:
        """A fresh model (the settings on the left) on another series: builtin:sine or a file of numbers."""
        try:
            source = load_source(PRESET, spec)
            self._start(self._spec_from_controls(source))
        except (RnnvizError, ValueError) as exc:
            self._say(f"cannot open {spec}: {exc}")
            return False
        return True

    def reset(self) -> None:
        """Fresh weights with the architecture, size, window and learning rate on the left."""
        try:
            self._start(self._spec_from_controls(self.source))
        except (RnnvizError, ValueError) as exc:
            self._say(f"Reset failed: {exc}")
            return
        self.series_plot.graphics.setFocus()  # out of the text fields: Space plays
        self._say("Model re-created with fresh weights: press Play (Space) to train", 6000)

    def _spec_from_controls(self, source: Series) -> TrainerSpec:
        c, base = self.controls, self.info
        model = dict(arch=c.arch.currentData(), hidden=c.hidden.value())
        train = dict(seq_len=c.window.value(), lr=c.learning_rate())
        if base is not None:  # what the controls do not show stays as it was
            model |= dict(layers=base.model_cfg.layers, nonlinearity=base.model_cfg.nonlinearity)
            train |= {k: getattr(base.cfg, k) for k in ("batch", "optimizer", "clip", "seed")}
        return preset_spec(PRESET, source, device="cpu", model=model, **train)

    def _start(self, spec: TrainerSpec, wait: bool = True) -> None:
        """A new session; the current one goes on if this one cannot be built (RnnvizError).
        wait=False (when the window opens): shown at once, built when the process is ready."""
        worker = self.host.session(spec, EVAL_EVERY)
        worker.snapshot_ready.connect(self._on_snapshot)
        worker.figures_ready.connect(self._on_figures)
        worker.failed.connect(self._on_message)
        worker.diverged.connect(self._on_diverged)
        worker.notice.connect(self._on_message)
        worker.running_changed.connect(self._on_running)
        worker.start_failed.connect(self._on_message)
        self.host.start(worker, START_WAIT_S if wait else None)
        self._adopt(worker, spec)

    def _adopt(self, worker: RemoteTrainWorker, spec: TrainerSpec) -> None:
        if self.worker is not None:
            self.host.stop(self.worker)  # its late reports are ignored (_from_current)
        self.worker, self.spec, self.source = worker, spec, spec.corpus
        self.latest, self.trace, self.figures_doc, self._figures = None, None, {}, None
        self.forecast_updates = self.scored_updates = -1
        self.controls.show_config(worker.info)
        self.series_plot.set_series(self.source, spec.cfg.seq_len)
        self.mse.clear()
        self.internals.set_model(spec.model_cfg)
        self.internals.clear()
        self.controls.show_figures({}, self._has_tutorial())
        n, split = len(self.source.values), self.source.split
        self.selected = None
        self.select(split if split < n else n - 1)
        for note in spec.notes:
            self._say(note, 10_000)
        self.controls.set_playing(False)

    def _has_tutorial(self) -> bool:
        return self.source is not None and self.source.name == SINE

    def showEvent(self, event) -> None:
        if self.worker is None and self.spec is not None:  # reopened: go on from the last weights
            self.host = ProcessHost(self)
            snap = self.latest
            spec = (
                self.spec if snap is None else replace(self.spec, weights=snap.weights, updates=snap.updates)
            )
            self._start(spec, wait=False)
        self.timer.start()
        super().showEvent(event)

    def closeEvent(self, event) -> None:
        """The training process ends with the window (a reopened window starts another)."""
        self.timer.stop()
        self.worker = None
        self.host.close()
        self.controls.set_playing(False)
        super().closeEvent(event)

    # ---- controls ------------------------------------------------------------------------
    def _on_play(self, on: bool) -> None:
        if self.worker is not None:
            (self.worker.play if on else self.worker.pause)()

    def step_once(self) -> None:
        if self.worker is not None:
            self.controls.set_playing(False)
            self.worker.pause()
            self.worker.step_once()

    def select(self, t: int) -> None:
        """Select the window whose target is x[t] (its inputs are the `window` values before it)."""
        s, window = self.source, self.spec.cfg.seq_len
        if s is None or len(s.values) <= window:
            return
        self.selected = int(np.clip(t, window, len(s.values) - 1))
        self.series_plot.set_selected(self.selected)
        self._retrace()

    # ---- slots ---------------------------------------------------------------------------
    def _from_current(self) -> bool:
        return self.worker is not None and self.sender() is self.worker

    @Slot(object)
    def _on_snapshot(self, snap: Snapshot) -> None:
        if not self._from_current():
            return  # a late snapshot of a model already replaced
        if snap.recent:
            self.mse.add_metrics(snap.recent)
        if snap.evaluation is not None:
            self.mse.add_evaluation(snap.evaluation)
        self.latest = snap
        self._new_metrics = self._trace_due = True

    @Slot(object)
    def _on_figures(self, doc: dict) -> None:
        """The figures of the weights at doc["steps"], with the forecast of every target: shown at
        the next frame (drawn here, between two frames, their ~8 ms delayed the next one)."""
        if self._from_current():
            self._figures = doc

    def _show_figures(self, doc: dict) -> None:
        """The figures that came in since the last frame (_on_figures)."""
        t, y = doc.pop("forecast", (np.empty(0, int), np.empty(0)))
        self.series_plot.set_forecast(t, y)
        self.figures_doc = doc
        self.forecast_updates = self.scored_updates = doc["steps"]
        self.controls.show_figures(doc, self._has_tutorial())

    @Slot(str)
    def _on_message(self, message: str) -> None:
        if self._from_current():
            self._say(message, 10_000)

    @Slot(str)
    def _on_diverged(self, message: str) -> None:
        if self._from_current():
            self._say(f"{message}: lower the learning rate and press Reset", 20_000)

    @Slot(bool)
    def _on_running(self, on: bool) -> None:
        if self._from_current():
            self.controls.set_playing(on)

    def _say(self, message: str, ms: int = 8000) -> None:
        self.statusBar().showMessage(message.splitlines()[0] if message else "", ms)

    # ---- drawing -------------------------------------------------------------------------
    def _on_frame(self) -> None:
        if self._figures is not None:
            doc, self._figures = self._figures, None
            self._show_figures(doc)
        snap = self.latest
        if snap is None:
            return
        now = time.perf_counter()
        if self._new_metrics and now - self._last_curves >= CURVES_S:
            self._new_metrics, self._last_curves = False, now
            self.mse.refresh()
            self.controls.show_progress(snap, self.worker is not None and self.controls.play.isChecked())
        if self._trace_due and now >= self._next_trace:
            self._trace_due = False
            self._retrace()
            self._next_trace = now + max(RETRACE_S, COST_FACTOR * (time.perf_counter() - now))

    def _retrace(self) -> None:
        """Trace the selected window with the latest weights: the InternalsView shows it."""
        snap, t = self.latest, self.selected
        if snap is None or t is None or self.source is None:
            self._show_inside_title(None)
            return
        window, values = self.spec.cfg.seq_len, self.source.values
        try:
            w = TraceWeights.from_state(snap.model_cfg, snap.weights)
            tr = trace_series(w, values[t - window : t], target=float(values[t]))
        except RnnvizError as exc:
            self._say(f"cannot trace this window: {exc}")
            return
        self.trace, self.traced_updates = tr, snap.weights_step
        self.internals.set_trace(tr)
        self._show_inside_title(tr)

    def _show_inside_title(self, tr: Trace | None) -> None:
        t = self.selected
        if t is None:
            self.inside_title.setText("Inside the model: click the series to choose a window.")
            return
        window, x = self.spec.cfg.seq_len, self.source.values
        forecast = "" if tr is None or not math.isfinite(tr.values[-1]) else f", forecast {tr.values[-1]:.4g}"
        self.inside_title.setText(
            f"<b>Inside the model</b> reading x[{t - window}..{t - 1}] (shaded above); target "
            f"x[{t}] = {x[t]:.4g}{forecast}. Gradients: of (forecast \u2212 target)\u00b2/2."
        )
