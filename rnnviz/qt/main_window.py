"""MainWindow: wiring and layout. Training runs in a training process (qt.training_hosts); views
render what arrives.

Data flow: TrainWorker -> snapshot_ready -> _on_snapshot (keep the latest, queue metrics) ->
_on_frame (every 25 ms, only when something changed) -> views. Typed text -> TextProbe -> views.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.corpus import Corpus
from rnnviz.core.errors import RnnvizError
from rnnviz.core.probe import Probe, TextProbe
from rnnviz.core.protocol import SessionInfo
from rnnviz.core.snapshot import Snapshot
from rnnviz.qt.compare import CompareController
from rnnviz.qt.controls import ControlsPanel
from rnnviz.qt.file_actions import FileActions
from rnnviz.qt.help_actions import HelpActions
from rnnviz.qt.loader import CorpusOpener
from rnnviz.qt.menus import MenuActions
from rnnviz.qt.preset_actions import PresetActions
from rnnviz.qt.session_files import SessionFileActions
from rnnviz.qt.sessions import SessionActions
from rnnviz.qt.status import BudgetProgress, TrainingStatus
from rnnviz.qt.training_hosts import ProcessHost, ThreadHost
from rnnviz.qt.typed_text import TypedTextActions
from rnnviz.qt.unit_actions import UnitActions
from rnnviz.qt.unsaved import UnsavedGuard
from rnnviz.qt.views.curves import TrainingCurves
from rnnviz.qt.views.figures import FiguresPanel
from rnnviz.qt.views.grad_norms import GradNormHistory
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.patching import PatchingView
from rnnviz.qt.views.samples import SamplesView
from rnnviz.qt.views.typing_panel import TypingPanel
from rnnviz.qt.views.unrolled import UnrolledPanel
from rnnviz.qt.views.weights import WeightView

FRAME_MS = 25  # a frame every 25 ms at most (40 Hz), drawn only when something changed
RETRACE_S = 0.1  # while training, the typed text is re-traced with new weights at most 10 times a second
CLOSE_WAIT_S = 1.5
CURVES_S = 0.1  # the training curves and the status line: at most 10 times a second
# While the user types, the typed text is traced on each keystroke with the weights it has; new
# weights (a full re-trace) wait until typing pauses for this long, or the weights are this old:
TYPING_QUIET_S, TYPING_STALE_S = 0.4, 3.0


def limit_blas_threads() -> None:
    """One BLAS thread for this process's numpy (the traces): OpenBLAS's idle threads spin, and a
    second one here took the core the training process needs (measured: 0.95 of a core, hidden)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


class MainWindow(
    MenuActions,
    HelpActions,
    UnsavedGuard,
    SessionFileActions,
    SessionActions,
    UnitActions,
    FileActions,
    TypedTextActions,
    PresetActions,
    QMainWindow,
):
    def __init__(
        self,
        model: str | None = None,
        corpus: str | None = None,
        backend: str = "process",
        text: str | None = None,
    ):
        """backend: where training runs, "process" (a child process) or "thread" (this process)."""
        super().__init__()
        limit_blas_threads()
        self.setWindowTitle("rnnviz")
        self.setObjectName("rnnviz-main")
        self.resize(1440, 900)
        self.host = ProcessHost(self) if backend == "process" else ThreadHost()
        self.worker = None  # the current session's worker (qt.training_hosts)
        self.latest: Snapshot | None = None
        self.probe, self.last_probe = TextProbe(), Probe(None, 0, False, ())
        self.selected: int | None = None
        self.model_path: str | None = None
        self._new_weights = self._new_metrics = False
        self.last_dialog: QMessageBox | None = None
        self.file_corpus: Corpus | None = None
        self.session_corpora: dict[str, Corpus] = {}  # texts sessions brought, by path: never read there
        self._closing = False
        self.session_load = None  # a session being read (qt.session_loader)
        self.exporting = False  # an animation being rendered (FileActions.export_animation)
        self._last_retrace = self._last_curves = self._last_key = 0.0
        self.opener = CorpusOpener(self)
        self.opener.opened.connect(self._on_corpus_opened)
        self.opener.message.connect(lambda text: self._warn(text, dialog=True))
        self._build()
        self._menus()
        self._help()
        self.restore_layout()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._on_frame)
        self.timer.start()
        self._start_first(model, corpus, text)

    # ---- layout --------------------------------------------------------------------------
    def _build(self) -> None:
        self.controls = ControlsPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(self.controls.minimumSizeHint().width() + 24)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        dock = QDockWidget("Training", self)
        dock.setObjectName("controls")
        dock.setWidget(scroll)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.resizeDocks([dock], [300], Qt.Orientation.Horizontal)
        self.typing = TypingPanel()
        self.internals = InternalsView()
        self.unrolled = UnrolledPanel()
        self.inside = QTabWidget()
        self.inside.addTab(self.internals, "Inside: states, gates, gradients")
        self.inside.addTab(self.unrolled, "Unrolled: step through")
        self.patching = PatchingView()
        self.inside.addTab(self.patching, "Patching: A vs B")
        self.compare = CompareController(
            self.probe, self.typing, self.internals, self.patching, self.inside, self
        )
        self.curves, self.gradnorms = TrainingCurves(), GradNormHistory()
        self.weights, self.samples = WeightView(), SamplesView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.curves, "Loss")
        self.tabs.addTab(self.gradnorms, "Grad. norms")
        self.tabs.addTab(self.weights, "Weights")
        self.tabs.addTab(self.samples, "Samples")
        self.figures = FiguresPanel()
        self.tabs.addTab(self.figures, "Preset")
        banner, timeline = self._build_units()
        self.curves.best_changed.connect(self.timeline_bar.set_best)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (banner, self.typing, timeline):
            lay.addWidget(w)
        lay.addWidget(self.inside, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setSizes([760, 440])
        self.setCentralWidget(split)
        self.status, self.progress = TrainingStatus(), BudgetProgress()
        self.statusBar().addPermanentWidget(self.status)
        self.statusBar().addPermanentWidget(self.progress)
        self.progress.stop.clicked.connect(lambda: self.controls.play.setChecked(False))
        self._connect()

    def _connect(self) -> None:
        c = self.controls
        c.play_toggled.connect(self._on_play)
        c.step_clicked.connect(self._on_step)
        c.reset_clicked.connect(self._on_reset)
        c.live_changed.connect(self._on_live)
        c.open_corpus_requested.connect(self.open_corpus)
        c.invalid.connect(self._warn)
        c.budget.valueChanged.connect(self._on_budget)
        self.typing.text_changed.connect(self._on_text_edited)
        self.typing.target_changed.connect(self._retrace)
        self.typing.continuation_changed.connect(self._update_continuation)
        self.internals.step_clicked.connect(self.select_step)
        self.unrolled.step_selected.connect(self.show_step)
        self.inside.currentChanged.connect(lambda _i: self._show_unrolled())
        self.samples.sample_requested.connect(lambda: self._sample(force=True))
        self.tabs.currentChanged.connect(self._on_tab)

    @Slot(object)
    def _on_started(self, info: SessionInfo) -> None:
        """A session started at launch has been built: what only its trainer knows."""
        if self._from_current():
            self.status.start(info, self.worker.budget_end)
            for note in info.notes:
                self._warn(note, dialog=True)

    @Slot(str)
    def _on_start_failed(self, message: str) -> None:
        """The model shown at launch could not be trained: say why, and start a fresh one instead."""
        if not self._from_current() or self._closing:
            return
        self._warn(message, dialog=True)
        self.controls.corpus.setCurrentIndex(0)
        try:
            self._start(self._spec_from_controls())
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)

    # ---- slots ---------------------------------------------------------------------------
    @Slot(object)
    def _on_snapshot(self, snap: Snapshot) -> None:
        if not self._from_current():
            return  # a late snapshot of a model already replaced
        if snap.recent:
            self.curves.add_metrics(snap.recent)
            self.gradnorms.add_metrics(snap.recent)
        prev = self.latest.evaluation if self.latest else None
        if snap.evaluation is not None and (prev is None or snap.evaluation.step != prev.step):
            self.curves.add_evaluation(snap.evaluation)
        first = self.latest is None
        if first or snap.weights is not self.latest.weights:
            self._new_weights = self.pinned is None  # the weights travel less often than the metrics
            self._keep_checkpoint(snap)
        self.latest = snap
        self._new_metrics = True
        if first and self.pinned is None:  # the new model's own numbers at once, not at the next frame
            self._new_weights = False
            self.probe.set_weights(snap.model_cfg, snap.vocab, snap.weights)
            if self.weights.isVisible():
                self.weights.set_weights(snap.weights)
            self._retrace()

    @Slot(object)
    def _on_figures(self, doc: dict) -> None:
        """A preset's figures, measured in the training session (core.scoring.PresetMonitor).
        (Slots of cross-thread signals live here, on the QObject: not in the mixins.)"""
        if self._from_current() and self.preset is not None:
            self.figures.show_figures(doc)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        """Training has paused (core.protocol.Failed): Play shows it at once, then the message."""
        if self._from_current():
            self.controls.set_playing(False)
            self._warn(message, dialog=True)

    @Slot(str)
    def _on_notice(self, message: str) -> None:
        if self._from_current():
            self.statusBar().showMessage(message, 8000)

    @Slot(bool)
    def _on_running(self, on: bool) -> None:
        if self._from_current():
            self.controls.set_playing(on)
            self.status.set_running(on)
            m = self.latest.metrics if self.latest is not None else None
            self.progress.show_progress(m.step if m is not None else self.worker.info.steps, on)

    @Slot(str)
    def _on_diverged(self, message: str) -> None:
        """Offer the way back: the last weights whose loss was finite, and a 10x lower learning rate."""
        if not self._from_current():
            return
        self.controls.set_playing(False)  # paused (core.protocol.Diverged), before the dialog
        self._warn(message, dialog=True)
        box = self.last_dialog
        box.setInformativeText(
            "Restore the last weights whose loss was finite and lower the learning rate 10x?"
        )
        restore = box.addButton("Restore and lower the learning rate", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Leave it paused", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(lambda button: self.restore_good() if button is restore else None)

    def restore_good(self) -> None:
        if self.worker is None:
            return
        self.worker.apply(restore=True)
        self.statusBar().showMessage("Restoring the last good weights, with a 10x lower learning rate", 8000)

    @Slot(object)
    def _on_config(self, cfg) -> None:
        """The training settings as the session applied them (a refused or restored learning rate)."""
        if self._from_current():
            self.controls.show_lr(cfg.lr)

    def _on_frame(self) -> None:
        """At most one heavy thing a frame: the curves, or the typed text re-traced with new weights
        (each at most 10 times a second), so no frame holds up the next."""
        now = time.perf_counter()
        if self._new_metrics and now - self._last_curves >= CURVES_S:
            self._new_metrics, self._last_curves = False, now
            for view in (self.curves, self.gradnorms):  # a hidden tab catches up when shown
                if view.isVisible():
                    view.refresh()
            self.status.show(self.latest)
            if self.latest is not None and self.latest.metrics is not None:
                self.progress.show_progress(self.latest.metrics.step, self.status.running)
            return
        typing = now - self._last_key < TYPING_QUIET_S and now - self._last_retrace < TYPING_STALE_S
        due = self._new_weights and now - self._last_retrace >= RETRACE_S and not typing
        due = due and self.pinned is None  # the training timeline holds the views at an earlier step
        if due and self.latest is not None:
            self._new_weights = False
            self._last_retrace = now
            snap = self.latest
            self.probe.set_weights(snap.model_cfg, snap.vocab, snap.weights)
            if self.weights.isVisible():
                self.weights.set_weights(snap.weights)
            self._retrace()
            self._sample()
        self._units_tab_shown()

    def _on_text_edited(self, _text: str) -> None:
        self._last_key = time.perf_counter()
        self._retrace()

    def _on_tab(self, _index: int) -> None:
        """Hidden tabs are not drawn while training; a tab shown is brought up to date."""
        if self.weights.isVisible() and self.latest is not None:
            self.weights.set_weights(self.latest.weights)
        for view in (self.curves, self.gradnorms):
            if view.isVisible():
                view.refresh()
        self._sample()

    def _on_play(self, on: bool) -> None:
        if on and self.lost_training():  # the process died: Play goes on in a new one
            if not self.resume_lost():
                self.controls.set_playing(False)
            return
        if self.worker:
            (self.worker.play if on else self.worker.pause)()

    def _on_step(self) -> None:
        if self.worker:
            self.controls.set_playing(False)
            self.worker.pause()
            self.worker.step_once()

    def _on_budget(self, steps: int) -> None:
        if self.worker:
            self.worker.set_budget(steps)
            self.status.budget_end = self.worker.budget_end
            self.progress.set_budget(self.worker.budget_end - steps, self.worker.budget_end)

    def _on_live(self, settings: dict) -> None:
        if self.worker:
            self.worker.apply(**settings)
            if "clip" in settings:
                self.gradnorms.set_clip(settings["clip"])
            self.statusBar().showMessage(
                f"applied {', '.join(f'{k} = {v}' for k, v in settings.items())}", 4000
            )

    def _on_reset(self) -> None:
        if not self.may_discard("a reset"):
            return
        try:
            self._start(self.keep_preset(self._spec_from_controls()))
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return
        self.statusBar().showMessage("Model re-created with fresh weights: press Play to train", 6000)

    def closeEvent(self, event) -> None:
        """Stop everything; wait a little for the trainer's last step (the app exits after anyway)."""
        if not self._closing and not self.may_discard("quitting"):
            event.ignore()
            return
        self._closing = True
        self.save_layout()
        self._help_closed()
        self.timer.stop()
        self.opener.cancel(wait_ms=-1)
        if self.session_load is not None:
            self.session_load.cancel()
        self.analysis.stop()
        if self.series_window is not None:
            self.series_window.close()  # its training process ends with it
        if self.lab_window is not None:
            self.lab_window.shut_down()
        self.host.close(CLOSE_WAIT_S)
        self.worker = None
        super().closeEvent(event)
