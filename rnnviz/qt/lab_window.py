"""LabWindow, the gradient lab: up to three architectures of the six (an RNN, an LSTM and a GRU at
first) trained side by side, and why RNNs forget.

The models train in a training process of the window's own (qt.training_hosts.ProcessHost,
core.lab_loop.LabLoop there): this window never imports torch. Data flow: the session's
metrics_ready / figures_ready -> _on_metrics / _on_figures (keep, mark dirty) -> _on_frame (~30 Hz,
only when something arrived) -> setData on items built once.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial

import numpy as np
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
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
from rnnviz.core.lab import DEFAULT_ARCHS, has_w_hh
from rnnviz.core.lab_loop import MEASURE_EVERY, check_scale
from rnnviz.core.presets import PRESETS, Preset
from rnnviz.core.protocol import Scale, UndoScale
from rnnviz.core.session import LabSpec
from rnnviz.qt.lab_archs import ArchPicker
from rnnviz.qt.lab_plots import SAT_GATES, LabPlots
from rnnviz.qt.lab_readouts import NAMES, NO_W_HH, LabReadouts, key_html
from rnnviz.qt.training_hosts import ProcessHost, RemoteTrainWorker

__all__ = ["SAT_GATES", "LabWindow"]

FRAME_MS = 25  # a frame every 25 ms at most (40 Hz), as in the main window
CURVES_S = 0.1  # the loss curves at most 10 times a second
# The table's step and loss at most once a second: a new text re-lays out the window (a ~13 ms
# repaint of every plot, measured: benchmarks/frame_interval.py --window lab); its figures at once.
TABLE_S = 1.0
START_WAIT_S = 60.0  # the first Reset waits for the training process to load torch
MAX_HIDDEN = 256  # measuring costs O(window x H^3): the lab is for small models


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


class LabWindow(LabPlots, LabReadouts, QMainWindow):
    def __init__(
        self, corpus="builtin:story", hidden=64, layers=1, lr=3e-3, seed=0, archs=DEFAULT_ARCHS, parent=None,
        preset: Preset | None = None,
    ):  # fmt: skip
        """preset: a lab preset (core.presets) whose settings replace the others."""
        super().__init__(parent)
        self.setObjectName("rnnviz-lab")
        self.resize(1400, 900)
        screen = QGuiApplication.primaryScreen()
        if screen is not None:  # a smaller screen: all of it (at 1366x768 the window still fits)
            room = screen.availableGeometry()
            self.resize(min(1400, room.width()), min(900, room.height()))
            if room.width() < 1400 or room.height() < 900:
                self.move(room.topLeft())
        self.measure_every = MEASURE_EVERY
        self.host = ProcessHost(self)  # spawned now: it imports torch while this window builds
        self.worker: RemoteTrainWorker | None = None
        self.archs: tuple[str, ...] = ()  # the models training now (set by reset)
        self.lines = False  # they read lines and are scored on their answers (builtin:recall)
        self.scale_applied = 1.0  # the product of the W_hh factors asked for since the models were made
        self.figs: dict = {}  # arch -> LabMeasurement, the latest
        self.last_metrics: dict = {}  # arch -> StepMetrics, the latest
        self._metrics_dirty = self._figs_dirty = False
        self._last_curves = self._last_table = 0.0  # when the loss curves and the table were drawn
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.addLayout(self._build_controls(corpus, hidden, layers, lr, seed))
        self.picker = ArchPicker(archs)
        self.picker.refused.connect(partial(self.statusBar().showMessage, timeout=6000))
        self.key = QLabel(wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(self.picker)
        row.addSpacing(12)
        row.addWidget(self.key, 1)
        lay.addLayout(row)
        lay.addLayout(self._build_plots(), 1)
        self.setCentralWidget(central)
        if preset is not None:
            self._preset_controls(preset)
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
        self.seed = _spin(0, 2**31 - 1, seed, "The same seed for every model (applies on Reset)")
        self.lr = QLineEdit(f"{lr:g}")
        self.lr.setMaximumWidth(70)
        self.lr.setToolTip("Learning rate of every model: applies at once (Enter)")
        self.lr.editingFinished.connect(partial(self._tell, "lr", self.lr.text))
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._on_play)
        self.scale = _spin(0.1, 10.0, 1.5, "> 1 makes gradients explode, < 1 vanish", QDoubleSpinBox)
        self.scale.setSingleStep(0.1)
        self.scale_label = QLabel()
        self.scale_buttons = (
            _button("Apply", partial(self._tell, "scale", self.scale.value), "W_hh \u00d7= factor"),
            _button("Undo", partial(self._tell, "undo"), "Divide out every factor applied"),
        )
        row = QHBoxLayout()
        for text, w in (
            ("Corpus", self.corpus),
            ("Hidden", self.hidden),
            ("Layers", self.layers),
            ("Seed", self.seed),
            (
                None,
                _button("Reset", self.reset, "New models from the corpus, size, seed and models chosen here"),
            ),
            ("   Learning rate", self.lr),
            (None, self.play),
            (None, _button("Step", partial(self._tell, "step"), "One training step of each model")),
            ("   Scale W_hh \u00d7", self.scale),
            *((None, b) for b in self.scale_buttons),
            (None, self.scale_label),
        ):
            if text:
                row.addWidget(QLabel(text))
            row.addWidget(w)
        row.addStretch(1)
        return row

    def _show_archs(self, archs: tuple[str, ...]) -> None:
        """The window follows the models now training: title, key, legends, titles, W_hh controls."""
        self.archs = archs
        self.setWindowTitle("rnnviz \u2014 gradient lab: " + " vs ".join(NAMES[a] for a in archs))
        self.key.setText(key_html(archs))
        self._show_plots_for(archs)
        without = [NAMES[a] for a in archs if not has_w_hh(a)]
        tip = f"{NO_W_HH} in {', '.join(without)}" if without else "W_hh \u00d7= factor"
        for w in (self.scale, *self.scale_buttons):
            w.setEnabled(any(has_w_hh(a) for a in archs))
        self.scale_buttons[0].setToolTip(tip)

    # ---- the session -------------------------------------------------------------------------
    def apply_preset(self, preset: Preset) -> None:
        """A lab preset's corpus, models, size and settings in the controls, and new models."""
        self._preset_controls(preset)
        self.reset()

    def _preset_controls(self, preset: Preset) -> None:
        self.corpus.setCurrentIndex(max(self.corpus.findData(preset.source), 0))
        self.hidden.setValue(preset.model["hidden"])
        self.layers.setValue(preset.model.get("layers", 1))
        self.seed.setValue(preset.train.seed)
        self.lr.setText(f"{preset.train.lr:g}")
        self.picker.set_archs(preset.archs)

    def lab_spec(self) -> LabSpec:
        """The models the controls describe. A lab preset's own corpus trains as the preset does
        (builtin:recall: line samples, scored on the answers); any other as a stream."""
        source = self.corpus.currentData()
        corpus = load_corpus(source, "char")
        lr, seed = float(self.lr.text()), self.seed.value()
        preset = next((p for p in PRESETS.values() if p.lab and p.source == source), None)
        if preset is not None:
            cfg = replace(preset.train, lr=lr, seed=seed)
            state = preset.model.get("state", 16)
        else:
            cfg, state = TrainConfig(lr=lr, seed=seed, clip=1.0), 16
        return LabSpec(
            corpus, self.hidden.value(), self.layers.value(), cfg, self.picker.archs(),
            measure_every=self.measure_every, state=state,
        )  # fmt: skip

    def reset(self, wait: bool = True) -> None:
        """New models from the controls; the old ones (and their curves) go. The models are
        built in the training process; if they cannot be, the old ones go on. wait=False (when the
        window opens): adopted at once, a failure said when the process answers."""
        try:
            spec = self.lab_spec()
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
        for h in (*self.loss.values(), *self.decays.values(), *self.answers.values(), *self.clipped.values()):
            h.clear()
        self.lines = spec.cfg.samples == "lines"
        self.figs, self.last_metrics = {}, {}
        self._metrics_dirty = self._figs_dirty = True
        for r in self.ranges.values():  # a pan or zoom of the old models' plots ends too
            r.clear()
        self._show_archs(spec.archs)
        self._draw_curves()  # the curves of models that have gone, emptied
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
            for h, v in ((self.decays[arch], f.decay_per_10), (self.answers[arch], f.answer_accuracy)):
                if len(h) and f.step <= h.x[-1]:
                    continue  # remeasured at the same step (e.g. after scaling W_hh): no new point
                if v is not None and np.isfinite(v):
                    h.extend([f.step], [v])
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
        has = any(has_w_hh(a) for a in self.archs)
        self.scale_label.setText(f"W_hh \u00d7 {self.scale_applied:.4g} applied" if has else NO_W_HH)

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
            self._draw_curves()
            if now - self._last_table < TABLE_S:
                return
        else:
            return
        self._last_table = now
        self.table.setText(self._table_html())
