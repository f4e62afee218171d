"""TrainingSession: the main window's training session. It starts one (from a spec: the controls,
a saved model or session, a preset, a timeline step), hands the window over to it, passes the
controls' commands to it and turns its reports into the window's status, dialogs and signals.

The views follow through signals, wired by MainWindow: `adopted` (a new session: show its model),
`preview` (saved weights, traced before training starts), `snapshot` (each report of progress),
`figures` (a preset's figures) and `forecaster` (a model of numbers, for the noisy-sine window)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox

from rnnviz.core.errors import RnnvizError
from rnnviz.core.protocol import SessionInfo
from rnnviz.core.session import TrainerSpec
from rnnviz.core.snapshot import Snapshot
from rnnviz.qt.controls import ControlsPanel
from rnnviz.qt.history import History
from rnnviz.qt.notifier import Notifier
from rnnviz.qt.status import BudgetProgress, TrainingStatus
from rnnviz.qt.unsaved import UnsavedGuard

EVAL_EVERY = 100
START_WAIT_S = 60.0  # building a trainer takes milliseconds, once torch is loaded (~2 s at launch)


class TrainingSession(QObject):
    adopted = Signal(object)  # SessionInfo: a new session, before its first report
    preview = Signal(object)  # TrainerSpec: its saved weights, to be shown before training starts
    snapshot = Signal(object, object)  # (Snapshot, the previous one or None), of the current session
    figures = Signal(dict)  # a preset's figures, measured in the training session
    forecaster = Signal(object)  # TrainerSpec of a model of numbers: the noisy-sine window shows it

    def __init__(
        self,
        host,
        notify: Notifier,
        guard: UnsavedGuard,
        controls: ControlsPanel,
        status: TrainingStatus,
        progress: BudgetProgress,
        history: History,
        parent: QObject | None = None,
    ):
        """host: a qt.training_hosts host; history: the curves' history (kept when a lost training
        process is replaced)."""
        super().__init__(parent)
        self.host, self.notify, self.guard, self.controls = host, notify, guard, controls
        self.status, self.progress, self.history = status, progress, history
        self.worker = None  # the current session's worker (qt.training_hosts)
        self.latest: Snapshot | None = None  # its last report of progress
        self.model_path: str | None = None  # the file its model came from or was saved to
        self.fresh_spec: Callable[[], TrainerSpec] | None = None  # a new model from the controls

    @property
    def info(self) -> SessionInfo | None:
        return self.worker.info if self.worker is not None else None

    def loss_mode(self) -> str:
        return self.worker.info.cfg.loss_mode if self.worker is not None else "many-to-many"

    # ---- starting --------------------------------------------------------------------------------
    def start(self, spec: TrainerSpec, model_path: str | None = None, wait: bool = True) -> None:
        """A new training session; the current one goes on if this one cannot be built (RnnvizError).

        wait=False (at launch): shown at once, built by the training process when it is ready."""
        if spec.model_cfg.regression:  # a forecaster of numbers has a window of its own
            self.forecaster.emit(spec)
            return
        worker = self.host.session(spec, EVAL_EVERY, self.controls.budget.value())
        worker.snapshot_ready.connect(self._on_snapshot)
        worker.failed.connect(self._on_failed)
        worker.diverged.connect(self._on_diverged)
        worker.notice.connect(self._on_notice)
        worker.running_changed.connect(self._on_running)
        worker.figures_ready.connect(self._on_figures)
        worker.config_changed.connect(self._on_config)
        if not wait:
            worker.started.connect(self._on_started)
            worker.start_failed.connect(self._on_start_failed)
        self.host.start(worker, None if not wait else START_WAIT_S)
        self._adopt(worker, model_path, show_notes=wait)
        if spec.weights is not None and not wait:  # the saved weights, traced before training starts
            self.preview.emit(spec)

    def _adopt(self, worker, model_path: str | None, show_notes: bool) -> None:
        """The window follows the new session; the previous one is stopped (its late reports ignored)."""
        if self.worker is not None:
            self.host.stop(self.worker)
        self.worker, info = worker, worker.info
        self.guard.mark_saved(info.steps)
        self.model_path = model_path
        self.latest = None
        self.adopted.emit(info)
        c = self.controls
        c.show_config(info.corpus.name, info.corpus.level, info.model_cfg, info.cfg)
        c.set_playing(False)
        if show_notes:
            for note in info.notes:
                self.notify.warn(note, dialog=True)
        self.status.start(info, worker.budget_end)
        self.progress.set_budget(max(worker.budget_end - c.budget.value(), 0), worker.budget_end)

    def spec_going_on(self, weights: dict, step: int, cfg=None) -> TrainerSpec:
        """The current session's data and settings (`cfg` in place of its training settings), going
        on from `weights` after `step` updates."""
        t = self.worker.info
        return TrainerSpec(t.corpus, t.model_cfg, cfg or t.cfg, weights, step, preset=t.preset)

    def lost_training(self) -> bool:
        """The training process died under the current session (it said so: worker.error)."""
        return bool(getattr(self.host, "dead", False)) and getattr(self.worker, "error", None) is not None

    def resume_lost(self) -> bool:
        """Play after the training process died: a new process goes on from the last weights it sent,
        with the same data and settings (the learning rate last applied); the curves are kept up to
        that step. False when nothing was received to go on from (Reset starts afresh)."""
        snap, info = self.latest, self.info
        if snap is None or info is None:
            self.notify.warn(
                "the training process has ended before sending any weights: Reset starts a new one"
            )
            return False
        step = snap.weights_step
        history = self.history.until(step)
        cfg = info.cfg if snap.metrics is None else replace(info.cfg, lr=snap.metrics.lr)
        self.start(self.spec_going_on(snap.weights, step, cfg), self.model_path, wait=False)
        self.history.restore(history)
        self.worker.play()
        self.notify.status(f"a new training process goes on from step {step:,}")
        return True

    # ---- the controls' commands --------------------------------------------------------------------
    def play(self, on: bool) -> None:
        if on and self.lost_training():  # the process died: Play goes on in a new one
            if not self.resume_lost():
                self.controls.set_playing(False)
            return
        if self.worker:
            (self.worker.play if on else self.worker.pause)()

    def step(self) -> None:
        if self.worker:
            self.controls.set_playing(False)
            self.worker.pause()
            self.worker.step_once()

    def set_budget(self, steps: int) -> None:
        if self.worker:
            self.worker.set_budget(steps)
            self.status.budget_end = self.worker.budget_end
            self.progress.set_budget(self.worker.budget_end - steps, self.worker.budget_end)

    def apply(self, settings: dict) -> bool:
        """Settings changed while training (the learning rate, clipping...); False with no session."""
        if not self.worker:
            return False
        self.worker.apply(**settings)
        self.notify.status(f"applied {', '.join(f'{k} = {v}' for k, v in settings.items())}", 4000)
        return True

    def restore_good(self) -> None:
        if self.worker is None:
            return
        self.worker.apply(restore=True)
        self.notify.status("Restoring the last good weights, with a 10x lower learning rate")

    def unfinished_threads(self) -> int:
        return self.host.unfinished()

    def close(self, wait_s: float) -> None:
        self.host.close(wait_s)
        self.worker = None

    # ---- the session's reports (cross-thread signals, queued here) ---------------------------------
    def _from_current(self) -> bool:
        """True when the signal being handled comes from the current session, not a stopped one."""
        return self.worker is not None and self.sender() is self.worker

    @Slot(object)
    def _on_snapshot(self, snap: Snapshot) -> None:
        if self._from_current():  # not a late snapshot of a model already replaced
            prev, self.latest = self.latest, snap
            self.snapshot.emit(snap, prev)

    @Slot(object)
    def _on_started(self, info: SessionInfo) -> None:
        """A session started at launch has been built: what only its trainer knows."""
        if self._from_current():
            self.status.start(info, self.worker.budget_end)
            for note in info.notes:
                self.notify.warn(note, dialog=True)

    @Slot(str)
    def _on_start_failed(self, message: str) -> None:
        """The model shown at launch could not be trained: say why, and start a fresh one instead."""
        if not self._from_current() or self.notify.closing:
            return
        self.notify.warn(message, dialog=True)
        self.controls.corpus.setCurrentIndex(0)
        try:
            self.start(self.fresh_spec())
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)

    @Slot(object)
    def _on_figures(self, doc: dict) -> None:
        if self._from_current():
            self.figures.emit(doc)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        """Training has paused (core.protocol.Failed): Play shows it at once, then the message."""
        if self._from_current():
            self.controls.set_playing(False)
            self.notify.warn(message, dialog=True)

    @Slot(str)
    def _on_notice(self, message: str) -> None:
        if self._from_current():
            self.notify.status(message)

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
        self.notify.warn(message, dialog=True)
        box = self.notify.last_dialog
        box.setInformativeText(
            "Restore the last weights whose loss was finite and lower the learning rate 10x?"
        )
        restore = box.addButton("Restore and lower the learning rate", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Leave it paused", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(lambda button: self.restore_good() if button is restore else None)

    @Slot(object)
    def _on_config(self, cfg) -> None:
        """The training settings as the session applied them (a refused or restored learning rate)."""
        if self._from_current():
            self.controls.show_lr(cfg.lr)
