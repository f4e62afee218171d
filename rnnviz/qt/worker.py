"""TrainWorker: a TrainLoop (core.loop) on its own QThread, its reports as Qt signals.

This is training inside the app's process, used by the noisy-sine window and by tests that reach
into the trainer; the main window trains in a child process instead (qt.training_hosts), behind
the same signals and controls. Control calls (play, pause, step, settings, stop) are plain
thread-safe methods: they set flags that the loop reads between steps (a queued slot would never
run while the loop occupies the thread's event loop).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot

from rnnviz.core.loop import TrainLoop
from rnnviz.core.protocol import (
    Apply,
    Budget,
    ConfigChanged,
    Diverged,
    Failed,
    Figures,
    Finished,
    LabProgress,
    LabResults,
    Notice,
    Pause,
    Play,
    Report,
    Running,
    SessionInfo,
    Started,
    StartFailed,
    Step,
    Stop,
)
from rnnviz.core.snapshot import Snapshot


class WorkerSignals(QObject):
    """The reports of a training session (core.protocol's), as signals, and what is known of the
    session: `info`, a SessionInfo replaced (never changed) as reports arrive."""

    snapshot_ready = Signal(object)  # core.snapshot.Snapshot
    failed = Signal(str)  # a one-line message; training is paused, the app keeps running
    diverged = Signal(str)  # repeated non-finite steps: paused; apply(restore=True) offers a way back
    running_changed = Signal(bool)
    notice = Signal(str)  # something worth a status-bar line (e.g. the step budget was reached)
    config_changed = Signal(object)  # core.config.TrainConfig, after the loop applied settings
    figures_ready = Signal(object)  # dict: a preset's figures, or the lab's (arch -> LabMeasurement)
    metrics_ready = Signal(object)  # the lab: dict arch -> tuple[StepMetrics, ...] since the last
    finished = Signal()
    started = Signal(object)  # the trainer was built: its SessionInfo
    start_failed = Signal(str)  # it could not be built; the previous session goes on

    def __init__(self, info: SessionInfo):
        super().__init__()
        self.info = info
        self._budget_end = 0

    def send(self, command) -> None:
        """Deliver a command of core.protocol to the session (each host its own way)."""
        raise NotImplementedError

    # ---- controls, from the GUI thread: commands of core.protocol ------------------------------
    def play(self) -> None:
        self.send(Play())

    def pause(self) -> None:
        self.send(Pause())

    def step_once(self, n: int = 1) -> None:
        self.send(Step(n))

    def stop(self) -> None:
        self.send(Stop())

    def apply(self, **settings) -> None:
        """lr=..., clip=... (None: off), optimizer=..., restore=True: applied before the next step."""
        self.send(Apply.of(settings))

    def set_budget(self, steps: int) -> None:
        """Pause after `steps` more steps (0: no limit)."""
        self._budget_end = self.info.steps + steps if steps else 0
        self.send(Budget(steps))

    @property
    def budget_end(self) -> int:
        return self._budget_end

    # ---- reports, from any thread: receivers get the signals queued ----------------------------
    def report(self, report: Report) -> None:
        """Emit the signal of one report, once `info` says what it changed."""
        self.info = self.info.after(report)
        match report:
            case Snapshot():
                self.snapshot_ready.emit(report)
            case Failed(message=m):
                self.failed.emit(m)
            case Diverged(message=m):
                self.diverged.emit(m)
            case Running(playing=on):
                self.running_changed.emit(on)
            case Notice(message=m):
                self.notice.emit(m)
            case ConfigChanged(cfg=cfg):
                self.config_changed.emit(cfg)
            case Figures(figures=figures) | LabResults(figures=figures):
                self.figures_ready.emit(figures)
            case LabProgress(recent=recent):
                self.metrics_ready.emit(recent)
            case Started():
                self.started.emit(self.info)
            case StartFailed(message=m):
                self.start_failed.emit(m)
            case Finished():
                self.finished.emit()


class TrainWorker(WorkerSignals):
    """A session on a thread of this process; `trainer` is the real Trainer (for tests and the
    noisy-sine window), `info` what the views read, as for a session in the training process."""

    def __init__(self, trainer, eval_every: int = 100, budget: int = 0, monitor=None):
        super().__init__(SessionInfo.of_trainer(trainer))
        self.trainer = trainer
        self.loop = TrainLoop(
            trainer, self.report, eval_every, budget, monitor, getattr(monitor, "every", 0.5)
        )

    def send(self, command) -> None:
        """Thread-safe: the loop reads its flags between steps."""
        self.loop.command(command)

    @property
    def budget_end(self) -> int:
        return self.loop.budget_end

    # ---- on the worker thread ------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        import torch

        torch.set_num_threads(1)  # per thread; measured: 2 threads in a non-main thread trained 3-4x slower
        self.loop.run()


class TrainerThread:
    """A TrainWorker and the QThread it lives on, started and stopped together."""

    def __init__(self, worker: TrainWorker):
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName("rnnviz-trainer")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.run)
        worker.finished.connect(self.thread.quit)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Ask the loop to end and wait (at most timeout_ms) for the thread; True when it has ended.
        A step under way is never interrupted: keep this object alive until the thread has finished."""
        self.worker.stop()
        self.thread.quit()
        return self.thread.wait(timeout_ms)
