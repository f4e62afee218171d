"""MainWindow: layout and wiring. It builds the views, composes the controllers that do the work
(each owns one concern, declares its state in its __init__ and is handed what it needs) and
connects them; the frame timer draws what changed.

    notify        qt.notifier.Notifier            status lines and dialogs
    guard         qt.unsaved.UnsavedGuard         "save before ...?" on whatever replaces the model
    session       qt.sessions.TrainingSession     the training session: start, commands, reports
    text          qt.typed_text.TypedText         the typed text: traced, shown, continued, sampled
    timeline      qt.timeline.TimelineController  earlier weights shown; train on from them
    unit_actions  qt.unit_actions.UnitsController neuron finder, trajectory, interventions
    files         qt.file_actions.FileController  models, corpora, import, GIF export
    session_files qt.session_files.SessionFileController  sessions, launch, recent, exports
    presets       qt.preset_actions.PresetController      presets and the noisy-sine window
    help          qt.help_actions.HelpController  Help menu, "?" buttons, keys, tour

Data flow: training process -> session.snapshot -> _on_snapshot (keep the latest, queue metrics) ->
_on_frame (every 25 ms, only when something changed) -> views. Typed text -> text.retrace -> views.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.errors import RnnvizError
from rnnviz.core.protocol import SessionInfo
from rnnviz.core.snapshot import Snapshot
from rnnviz.qt.compare import CompareController
from rnnviz.qt.controls import ControlsPanel
from rnnviz.qt.file_actions import FileController
from rnnviz.qt.help_actions import HelpController
from rnnviz.qt.history import History
from rnnviz.qt.listening import ListenController
from rnnviz.qt.menus import build_menus, export_menu, restore_layout, save_layout
from rnnviz.qt.notifier import Notifier
from rnnviz.qt.preset_actions import PresetController
from rnnviz.qt.session_files import SessionFileController
from rnnviz.qt.sessions import TrainingSession
from rnnviz.qt.status import BudgetProgress, TrainingStatus
from rnnviz.qt.timeline import TimelineController
from rnnviz.qt.training_hosts import ProcessHost, ThreadHost
from rnnviz.qt.typed_text import SECOND_HALF_MS, TypedText
from rnnviz.qt.unit_actions import UnitsController
from rnnviz.qt.unsaved import UnsavedGuard
from rnnviz.qt.views.curves import TrainingCurves
from rnnviz.qt.views.figures import FiguresPanel
from rnnviz.qt.views.grad_norms import GradNormHistory
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.listen import ListenView
from rnnviz.qt.views.patching import PatchingView
from rnnviz.qt.views.samples import SamplesView
from rnnviz.qt.views.trajectory import TrajectoryView
from rnnviz.qt.views.typing_panel import TypingPanel
from rnnviz.qt.views.units_view import UnitsView
from rnnviz.qt.views.unrolled import UnrolledPanel
from rnnviz.qt.views.weights import WeightView
from rnnviz.qt.window_views import WindowViews

FRAME_MS = 25  # a frame every 25 ms at most (40 Hz), drawn only when something changed
RETRACE_S = 0.1  # while training, the typed text is re-traced with new weights at most 10 times a second
CLOSE_WAIT_S = 1.5
CURVES_S = 0.1  # the training curves and the status line: at most 10 times a second
CURVES_TYPING_S = 0.3  # and at most 3 times a second while the user types, after a keystroke's end
# While the user types, the typed text is traced on each keystroke with the weights it has; new
# weights (a full re-trace) wait until typing pauses for this long, or the weights are this old:
TYPING_QUIET_S, TYPING_STALE_S = 0.4, 3.0


def limit_blas_threads() -> None:
    """One BLAS thread for this process's numpy (the traces): OpenBLAS's idle threads spin, and a
    second one here took the core the training process needs (measured: 0.95 of a core, hidden)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


class MainWindow(QMainWindow):
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
        self.lab_window = None  # the gradient lab, made on first use
        self._new_weights = self._new_metrics = False  # what the next frames have to draw
        self._last_retrace = self._last_curves = self._last_key = self._first_look = 0.0
        self.views = self._build()
        self._compose()
        self._connect()
        self.recent_menu = build_menus(self)
        self.help.install()
        self.exports = export_menu(self, self.views, self.session_files.export_to)
        self.exports.register(self.listen, "who listens to whom")
        restore_layout(self, self.session_files.restore_view)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._on_frame)
        self.timer.start()
        self.unrolled.canvas.follow_frames(self.timer)
        self.session_files.launch(model, corpus, text)

    # ---- layout --------------------------------------------------------------------------
    def _build(self) -> WindowViews:
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
        self.listen = ListenView()
        self.inside.addTab(self.listen, "Who listens")
        self.curves, self.gradnorms = TrainingCurves(), GradNormHistory()
        self.weights, self.samples = WeightView(), SamplesView()
        self.figures = FiguresPanel()
        self.units, self.trajectory = UnitsView(), TrajectoryView()
        self.tabs = QTabWidget()
        for view, title in (
            (self.curves, "Loss"), (self.gradnorms, "Grad. norms"), (self.weights, "Weights"),
            (self.samples, "Samples"), (self.figures, "Preset"), (self.units, "Units"),
            (self.trajectory, "Trajectory"),
        ):  # fmt: skip
            self.tabs.addTab(view, title)
        self.status, self.progress = TrainingStatus(), BudgetProgress()
        self.statusBar().addPermanentWidget(self.status)
        self.statusBar().addPermanentWidget(self.progress)
        return WindowViews(
            self.controls, self.typing, self.internals, self.unrolled, self.patching, self.inside,
            self.curves, self.gradnorms, self.weights, self.samples, self.figures, self.units,
            self.trajectory, self.tabs,
        )  # fmt: skip

    def _compose(self) -> None:
        """The controllers, each handed what it works with."""
        v = self.views
        self.notify = Notifier(self)
        self.history = History(self.curves, self.gradnorms)
        self.guard = UnsavedGuard(
            self, lambda: None if self.session.latest is None else self.session.latest.updates,
            lambda: self.session_files.save_session(),
        )  # fmt: skip
        self.session = TrainingSession(
            self.host, self.notify, self.guard, self.controls, self.status, self.progress, self.history, self
        )
        self.text = TypedText(
            self.session, self.typing, self.internals, self.unrolled, self.trajectory, self.samples, self
        )
        self.listening = ListenController(self.text.probe, self.listen, self)
        self.compare = CompareController(
            self.text.probe, self.typing, self.internals, self.patching, self.inside, self
        )
        self.timeline = TimelineController(
            self.session, self.guard, self.text, self.weights, self.curves, self.notify
        )
        self.unit_actions = UnitsController(
            self.session, self.text, self.timeline, self.notify, self.units, self.trajectory, self.internals,
            self,
        )  # fmt: skip
        self.files = FileController(
            self, self.notify, self.guard, self.session, self.text, self.controls, self.unrolled
        )
        self.session_files = SessionFileController(
            self, v, self.notify, self.guard, self.session, self.files, self.text, self.unit_actions,
            self.timeline, self.history,
        )  # fmt: skip
        self.presets = PresetController(self, v, self.notify, self.guard, self.session, self.text)
        self.help = HelpController(self, v, self.text, self.timeline.bar, self.notify)
        self.session.fresh_spec = self.files.spec_from_controls
        self._place()

    def _place(self) -> None:
        """The central area: the intervention banner, the typing panel, the timeline and the inside
        views on the left; the training tabs on the right."""
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.unit_actions.banner, self.typing, self.timeline.bar):
            lay.addWidget(w)
        lay.addWidget(self.inside, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setSizes([760, 440])
        self.setCentralWidget(split)

    def _connect(self) -> None:
        c, s, t = self.controls, self.session, self.text
        c.play_toggled.connect(s.play)
        c.step_clicked.connect(s.step)
        c.reset_clicked.connect(self.reset)
        c.live_changed.connect(self._on_live)
        c.open_corpus_requested.connect(self.files.open_corpus)
        c.invalid.connect(self.notify.warn)
        c.budget.valueChanged.connect(s.set_budget)
        self.progress.stop.clicked.connect(lambda: c.play.setChecked(False))
        s.adopted.connect(self._on_adopted)
        s.preview.connect(lambda spec: t.probe.set_weights(spec.model_cfg, spec.corpus.vocab, spec.weights))
        s.snapshot.connect(self._on_snapshot)
        s.figures.connect(self.presets.show_figures)
        s.forecaster.connect(self.presets.open_series)
        t.traced.connect(self.compare.follow)
        t.traced.connect(self.listening.follow)
        t.traced.connect(self._after_keystroke)
        self.typing.text_changed.connect(self._on_text_edited)
        self.typing.target_changed.connect(t.retrace)
        self.typing.continuation_changed.connect(t.update_continuation)
        self.internals.step_clicked.connect(t.select_step)
        self.unrolled.step_selected.connect(t.show_step)
        self.inside.currentChanged.connect(lambda _i: t.show_unrolled())
        self.samples.sample_requested.connect(lambda: t.sample(force=True))
        self.tabs.currentChanged.connect(self._on_tab)
        self.curves.best_changed.connect(self.timeline.bar.set_best)

    # ---- the session's state, as the views show it ----------------------------------------------
    @property
    def worker(self):
        """The current training session's worker (qt.training_hosts), or None."""
        return self.session.worker

    @property
    def latest(self) -> Snapshot | None:
        """The current session's last report of progress."""
        return self.session.latest

    def _on_adopted(self, info: SessionInfo) -> None:
        """A new session: every view of the previous model is emptied, then set for this one."""
        self.text.probe.clear()  # nothing of the previous model is traced from here on
        self.text.retrace()
        self.history.clear()
        self.samples.last_step = None
        self.internals.set_model(info.model_cfg)
        self.unrolled.unit.setMaximum(info.model_cfg.hidden - 1)  # before a saved view sets them
        self.unrolled.layer.setMaximum(info.model_cfg.layers)
        self.weights.set_model(info.model_cfg, info.corpus.vocab.tokens)
        self.gradnorms.set_clip(info.cfg.clip)
        self.typing.set_vocab(info.corpus.vocab.tokens)
        self.presets.follow(info)
        self.timeline.follow(info)
        self.unit_actions.follow(info)

    def _on_live(self, settings: dict) -> None:
        if self.session.apply(settings) and "clip" in settings:
            self.gradnorms.set_clip(settings["clip"])

    def reset(self) -> None:
        """Train > Reset: a fresh model from the controls (the preset's, on its own data)."""
        if not self.guard.may_discard("a reset"):
            return
        try:
            self.session.start(self.presets.keep_preset(self.files.spec_from_controls()))
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)
            return
        self.notify.status("Model re-created with fresh weights: press Play to train", 6000)

    def open_lab(self, preset=None) -> None:
        """The gradient lab: up to three architectures trained side by side, in a window of its
        own; with a lab preset (core.presets), that preset's models."""
        from rnnviz.qt.lab_window import LabWindow  # on demand: most sessions never open it

        if self.lab_window is None:
            self.lab_window = LabWindow(parent=self, preset=preset)
        elif preset is not None:
            self.lab_window.apply_preset(preset)
        self.lab_window.show()
        self.lab_window.raise_()
        self.lab_window.activateWindow()

    def unfinished_threads(self) -> int:
        return self.session.unfinished_threads()

    # ---- frames ------------------------------------------------------------------------------
    def _on_snapshot(self, snap: Snapshot, prev: Snapshot | None) -> None:
        """A report of the current session (session.latest is `snap` already; `prev` the one before)."""
        if snap.recent:
            self.curves.add_metrics(snap.recent)
            self.gradnorms.add_metrics(snap.recent)
        shown = prev.evaluation if prev else None
        if snap.evaluation is not None and (shown is None or snap.evaluation.step != shown.step):
            self.curves.add_evaluation(snap.evaluation)
        live = self.timeline.pinned is None  # else the timeline holds the views at an earlier step
        if prev is None or snap.weights is not prev.weights:
            self._new_weights = live  # the weights travel less often than the metrics
            self.timeline.keep(snap)
        self._new_metrics = True
        if prev is None and live:  # the new model's own numbers at once, not at the next frame
            self._new_weights = False
            self._show_weights(snap)

    def _show_weights(self, snap: Snapshot, halves: bool = False) -> None:
        """The typed text traced with the snapshot's weights (and the Weights tab, when shown).
        halves (new weights while training): the forward pass in this frame, the gradients and
        what needs them at the next (_on_frame), so that no frame holds both (with their paint,
        15-25 ms on an X server: the next frame came late)."""
        self.text.probe.set_weights(snap.model_cfg, snap.vocab, snap.weights)
        if self.weights.isVisible():
            self.weights.set_weights(snap.weights)
        self.text.retrace(first_look=halves and self.compare.shows_a(), later_ms=None)

    def _on_frame(self) -> None:
        """At most one heavy thing a frame: the curves, or the typed text re-traced with new weights
        (each at most 10 times a second), so no frame holds up the next. While the user types, the
        curves wait for the end of a keystroke (_after_keystroke) and nothing is traced anew. The
        step-through's drawing is painted with the frame (UnrolledCanvas.follow_frames)."""
        self._frame_work()
        self.unrolled.canvas.flush()

    def _frame_work(self) -> None:
        now, latest = time.perf_counter(), self.session.latest
        if now - self._first_look < SECOND_HALF_MS / 1000:
            return  # a keystroke's states are being painted, its gradients come next: nothing before
        if self.text.pending:  # the second half of a re-trace with new weights (or a keystroke's, due)
            self.text.complete()
            return
        keys = self._keys_coming(now)
        if not keys and self._refresh_curves(now, CURVES_S):
            return
        typing = keys and now - self._last_retrace < TYPING_STALE_S  # else the weights are too old
        due = self._new_weights and now - self._last_retrace >= RETRACE_S and not typing
        due = due and self.timeline.pinned is None  # the timeline holds the views at an earlier step
        if due and latest is not None:
            self._new_weights = False
            self._last_retrace = now
            self._show_weights(latest, halves=True)
            self.text.sample()
        self.unit_actions.tab_shown()

    def _keys_coming(self, now: float) -> bool:
        """The user is typing: the last key came less than TYPING_QUIET_S ago."""
        return now - self._last_key < TYPING_QUIET_S

    def _refresh_curves(self, now: float, every: float) -> bool:
        """The curves, the status line and the progress, when new metrics came and they were last
        drawn `every` seconds ago or more; whether they were."""
        if not self._new_metrics or now - self._last_curves < every:
            return False
        latest = self.session.latest
        self._new_metrics, self._last_curves = False, now
        for view in (self.curves, self.gradnorms):  # a hidden tab catches up when shown
            if view.isVisible():
                view.refresh()
        self.status.show(latest)
        if latest is not None and latest.metrics is not None:
            self.progress.show_progress(latest.metrics.step, self.status.running)
        return True

    def _after_keystroke(self, _probe) -> None:
        """A keystroke is whole (its gradients shown): while the user types, this is when the
        curves move, painted with the keystroke's second half, never before its first; and the
        step-through's drawing, at once (while keys come the frames do no heavy work to wait for)."""
        self.unrolled.canvas.flush()
        now = time.perf_counter()
        if self._keys_coming(now):
            self._refresh_curves(now, CURVES_TYPING_S)

    def _on_text_edited(self, _text: str) -> None:
        """A keystroke: its forward pass is shown at once, its gradients 10 ms later (unless
        the Inside views show the second text, or the difference, which need both whole)."""
        self._last_key = time.perf_counter()
        self.text.retrace(first_look=self.compare.shows_a())
        self._first_look = time.perf_counter()

    def _on_tab(self, _index: int) -> None:
        """Hidden tabs are not drawn while training; a tab shown is brought up to date."""
        latest = self.session.latest
        if self.weights.isVisible() and latest is not None:
            self.weights.set_weights(latest.weights)
        for view in (self.curves, self.gradnorms):
            if view.isVisible():
                view.refresh()
        self.text.sample()

    def closeEvent(self, event) -> None:
        """Stop everything; wait a little for the trainer's last step (the app exits after anyway)."""
        if not self.notify.closing and not self.guard.may_discard("quitting"):
            event.ignore()
            return
        self.notify.closing = True
        save_layout(self, self.session_files.view_state())
        self.help.close()
        QApplication.instance().removeEventFilter(self.exports)
        self.timer.stop()
        self.files.opener.cancel(wait_ms=-1)
        if self.session_files.load is not None:
            self.session_files.load.cancel()
        self.unit_actions.analysis.stop()
        self.listening.stop()
        self.presets.close()
        if self.lab_window is not None:
            self.lab_window.shut_down()
        self.session.close(CLOSE_WAIT_S)
        super().closeEvent(event)
