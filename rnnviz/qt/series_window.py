"""SeriesWindow, the noisy-sine forecaster (preset "sine"): an RNN reads a window of past values
and forecasts the next one; the series, the forecasts, the MSE and the network's inside on one window.

Data flow: TrainWorker (own QThread) -> snapshot_ready -> _on_snapshot (keep the latest, queue the
metrics) -> _on_frame (~30 Hz): curves; forecasts and the trace of the selected window at most
10 times a second, the figures table at most 4 times, from a CPU copy of the latest weights.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from rnnviz.core.errors import RnnvizError
from rnnviz.core.model import CharRNN
from rnnviz.core.presets import PRESETS, load_source, preset_trainer
from rnnviz.core.samples import predict
from rnnviz.core.scoring import Scorer
from rnnviz.core.series import SINE, Series
from rnnviz.core.snapshot import Snapshot
from rnnviz.core.trace import Trace, TraceWeights, trace_series
from rnnviz.core.train import Trainer
from rnnviz.qt.series_controls import SeriesControls
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.mse_plot import MsePlot
from rnnviz.qt.views.series_plot import SeriesPlot
from rnnviz.qt.worker import TrainerThread, TrainWorker

FRAME_MS = 33
RETRACE_S = 0.1  # forecasts and the selected window's trace: at most 10 times a second
SCORE_S = 0.25  # the figures table: at most 4 times a second
COST_FACTOR = 5  # GUI work may take at most 1 / COST_FACTOR of the time (long file series)
EVAL_EVERY = 50
STOP_WAIT_MS = 10_000
PRESET = PRESETS["sine"]
SERIES_HINT = "Hover: values \u00b7 click: select a step \u00b7 double-click: maximise"


class SeriesWindow(QMainWindow):
    def __init__(self, parent=None, source_spec: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("rnnviz \u2014 noisy-sine forecaster")
        self.setObjectName("rnnviz-series")
        self.resize(1440, 900)
        self.trainer: Trainer | None = None
        self.source: Series | None = None
        self.scorer: Scorer | None = None
        self.runner: TrainerThread | None = None
        self._retired: list[TrainerThread] = []  # stopped workers whose last step outlived the wait
        self.latest: Snapshot | None = None
        self.selected: int | None = None
        self.trace: Trace | None = None
        self.figures_doc: dict = {}
        self.forecast_updates = self.scored_updates = -1  # the updates of the weights last shown
        self._model: CharRNN | None = None
        self._model_snap: Snapshot | None = None
        self._new_metrics = self._forecast_due = self._score_due = False
        self._next_forecast = self._next_score = 0.0
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._on_frame)
        self.timer.start()
        try:
            source = load_source(PRESET, source_spec)
        except RnnvizError as exc:  # a bad file: say so, and forecast the built-in sine instead
            self._say(f"{exc}; showing {SINE} instead", 15_000)
            source = load_source(PRESET)
        self._start(preset_trainer(PRESET, source, device="cpu"))

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
    def open_trainer(self, trainer: Trainer) -> bool:
        """Show and train a value model made elsewhere (a checkpoint, the CLI's preset trainer)."""
        if not trainer.model_cfg.regression or not isinstance(trainer.corpus, Series):
            self._say("this window forecasts numbers: the model must read and predict values")
            return False
        try:
            self._start(trainer)
        except RnnvizError as exc:
            self._say(f"cannot show this model: {exc}")
            return False
        return True

    def open_source(self, spec: str) -> bool:
        """A fresh model (the settings on the left) on another series: builtin:sine or a file of numbers."""
        try:
            source = load_source(PRESET, spec)
            self._start(self._trainer_from_controls(source))
        except (RnnvizError, ValueError) as exc:
            self._say(f"cannot open {spec}: {exc}")
            return False
        return True

    def reset(self) -> None:
        """Fresh weights with the architecture, size, window and learning rate on the left."""
        try:
            self._start(self._trainer_from_controls(self.source))
        except (RnnvizError, ValueError) as exc:
            self._say(f"Reset failed: {exc}")
            return
        self.series_plot.graphics.setFocus()  # out of the text fields: Space plays
        self._say("Model re-created with fresh weights: press Play (Space) to train", 6000)

    def _trainer_from_controls(self, source: Series) -> Trainer:
        c, base = self.controls, self.trainer
        model = dict(arch=c.arch.currentText(), hidden=c.hidden.value())
        train = dict(seq_len=c.window.value(), lr=c.learning_rate())
        if base is not None:  # what the controls do not show stays as it was
            model |= dict(layers=base.model_cfg.layers, nonlinearity=base.model_cfg.nonlinearity)
            train |= {k: getattr(base.cfg, k) for k in ("batch", "optimizer", "clip", "seed")}
        return preset_trainer(PRESET, source, device="cpu", model=model, **train)

    def _start(self, trainer: Trainer) -> None:
        scorer = Scorer(PRESET, trainer.corpus, trainer.cfg)  # raises before anything is replaced
        self._stop_runner()
        self.trainer, self.source, self.scorer = trainer, trainer.corpus, scorer
        self.latest, self.trace, self.figures_doc = None, None, {}
        self._model = self._model_snap = None
        self.forecast_updates = self.scored_updates = -1
        self.controls.show_config(trainer)
        window = trainer.cfg.seq_len
        self.series_plot.set_series(self.source, window)
        refs = scorer.references
        self.mse.clear()
        self.mse.set_references(refs.get("noise_floor"), refs.get("prev_value_mse"))
        self.internals.set_model(trainer.model_cfg)
        self.internals.clear()
        self.controls.show_figures({}, self._has_tutorial())
        n, split = len(self.source.values), self.source.split
        self.selected = None
        self.select(split if split < n else n - 1)
        for note in trainer.notes:
            self._say(note, 10_000)
        self._start_runner()

    def _has_tutorial(self) -> bool:
        return self.source is not None and self.source.name == SINE

    def _start_runner(self) -> None:
        worker = TrainWorker(self.trainer, eval_every=EVAL_EVERY)
        worker.snapshot_ready.connect(self._on_snapshot)
        worker.failed.connect(self._on_message)
        worker.diverged.connect(self._on_diverged)
        worker.notice.connect(self._on_message)
        worker.running_changed.connect(self._on_running)
        self.runner = TrainerThread(worker)
        self.controls.set_playing(False)
        self.runner.start()

    def _stop_runner(self) -> None:
        """Stop the worker and wait for its thread (a step of these small models takes milliseconds)."""
        self._retired = [r for r in self._retired if not r.thread.isFinished()]
        if self.runner is not None:
            if not self.runner.stop(STOP_WAIT_MS):
                self._retired.append(self.runner)  # never destroy a running QThread
            self.runner = None
            # A stopped worker's queued signals must not reach the next model's views.
            QCoreApplication.removePostedEvents(self, QEvent.Type.MetaCall)
        self.controls.set_playing(False)

    @property
    def worker(self) -> TrainWorker | None:
        return self.runner.worker if self.runner is not None else None

    def unfinished_threads(self) -> int:
        return sum(not r.thread.isFinished() for r in self._retired) + (self.runner is not None)

    def showEvent(self, event) -> None:
        if self.runner is None and self.trainer is not None:  # reopened: go on with the same model
            self._start_runner()
        self.timer.start()
        super().showEvent(event)

    def closeEvent(self, event) -> None:
        self.timer.stop()
        self._stop_runner()
        for r in self._retired:
            r.thread.wait(STOP_WAIT_MS)
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
        s, window = self.source, self.trainer.cfg.seq_len
        if s is None or len(s.values) <= window:
            return
        self.selected = int(np.clip(t, window, len(s.values) - 1))
        self.series_plot.set_selected(self.selected)
        self._retrace()

    # ---- slots ---------------------------------------------------------------------------
    def _from_current(self) -> bool:
        return self.runner is not None and self.sender() is self.runner.worker

    @Slot(object)
    def _on_snapshot(self, snap: Snapshot) -> None:
        if not self._from_current():
            return  # a late snapshot of a model already replaced
        if snap.recent:
            self.mse.add_metrics(snap.recent)
        if snap.evaluation is not None:
            self.mse.add_evaluation(snap.evaluation)
        self.latest = snap
        self._new_metrics = self._forecast_due = self._score_due = True

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
        snap = self.latest
        if snap is None:
            return
        if self._new_metrics:
            self._new_metrics = False
            self.mse.refresh()
            self.controls.show_progress(snap, self.worker is not None and self.controls.play.isChecked())
        now = time.perf_counter()
        if self._forecast_due and now >= self._next_forecast:
            self._forecast_due = False
            self.show_forecast()
            self._retrace()
            self._next_forecast = now + max(RETRACE_S, COST_FACTOR * (time.perf_counter() - now))
        now = time.perf_counter()
        if self._score_due and now >= self._next_score:
            self._score_due = False
            self.show_figures()
            self._next_score = now + max(SCORE_S, COST_FACTOR * (time.perf_counter() - now))

    def cpu_model(self) -> CharRNN | None:
        """A CPU CharRNN with the latest snapshot's weights (rebuilt only when they change)."""
        snap = self.latest
        if snap is None:
            return None
        if self._model is None or self._model.cfg != snap.model_cfg:
            self._model = CharRNN(snap.model_cfg)
            self._model_snap = None
        if self._model_snap is not snap:
            self._model.load_state_dict({k: torch.from_numpy(v) for k, v in snap.weights.items()})
            self._model_snap = snap
        return self._model

    def show_forecast(self) -> None:
        """The latest model's forecast of every target, train and test, on the series plot."""
        model, sc = self.cpu_model(), self.scorer
        if model is None or sc is None:
            return
        t = np.concatenate([sc.samples.positions, sc.held_out.positions])
        y = np.concatenate([predict(model, sc.samples), predict(model, sc.held_out)])
        self.series_plot.set_forecast(t, y)
        self.forecast_updates = self.latest.updates

    def show_figures(self) -> None:
        model = self.cpu_model()
        if model is None or self.scorer is None:
            return
        self.figures_doc = self.scorer.figures(model)
        self.scored_updates = self.latest.updates
        self.controls.show_figures(self.figures_doc | {"steps": self.latest.updates}, self._has_tutorial())

    def _retrace(self) -> None:
        """Trace the selected window with the latest weights: the InternalsView shows it."""
        snap, t = self.latest, self.selected
        if snap is None or t is None or self.source is None:
            self._show_inside_title(None)
            return
        window, values = self.trainer.cfg.seq_len, self.source.values
        try:
            w = TraceWeights.from_state(snap.model_cfg, snap.weights)
            tr = trace_series(w, values[t - window : t], target=float(values[t]))
        except RnnvizError as exc:
            self._say(f"cannot trace this window: {exc}")
            return
        self.trace = tr
        self.internals.set_trace(tr)
        self._show_inside_title(tr)

    def _show_inside_title(self, tr: Trace | None) -> None:
        t = self.selected
        if t is None:
            self.inside_title.setText("Inside the model: click the series to choose a window.")
            return
        window, x = self.trainer.cfg.seq_len, self.source.values
        forecast = "" if tr is None or not math.isfinite(tr.values[-1]) else f", forecast {tr.values[-1]:.4g}"
        self.inside_title.setText(
            f"<b>Inside the model</b> reading x[{t - window}..{t - 1}] (shaded above); target "
            f"x[{t}] = {x[t]:.4g}{forecast}. Gradients: of (forecast \u2212 target)\u00b2/2."
        )
