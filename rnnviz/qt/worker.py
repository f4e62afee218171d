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


class WorkerSignals(QObject):
    """The reports of a training session (core.loop's kinds), as signals."""

    snapshot_ready = Signal(object)  # core.snapshot.Snapshot
    failed = Signal(str)  # a one-line message; training is paused, the app keeps running
    diverged = Signal(str)  # repeated non-finite steps: paused; apply(restore=True) offers a way back
    running_changed = Signal(bool)
    notice = Signal(str)  # something worth a status-bar line (e.g. the step budget was reached)
    config_changed = Signal(object)  # core.config.TrainConfig, after the loop applied settings
    figures_ready = Signal(object)  # dict: a preset's figures (core.scoring.PresetMonitor)
    finished = Signal()
    started = Signal(object)  # the trainer was built: dict of its facts (see core.remote)
    start_failed = Signal(str)  # it could not be built; the previous session goes on

    def report(self, kind: str, payload) -> None:
        """Emit the signal of one core.loop report (from any thread: receivers get it queued)."""
        if kind == "finished":
            self.finished.emit()
            return
        signal = {
            "snapshot": self.snapshot_ready,
            "failed": self.failed,
            "diverged": self.diverged,
            "running": self.running_changed,
            "notice": self.notice,
            "config": self.config_changed,
            "figures": self.figures_ready,
        }[kind]
        signal.emit(payload)


class TrainWorker(WorkerSignals):
    def __init__(self, trainer, eval_every: int = 100, budget: int = 0, monitor=None):
        super().__init__()
        self.trainer = trainer
        self.loop = TrainLoop(trainer, self.report, eval_every, budget, monitor)

    # ---- called from the GUI thread ------------------------------------------------------
    def play(self) -> None:
        self.loop.play()

    def pause(self) -> None:
        self.loop.pause()

    def step_once(self, n: int = 1) -> None:
        self.loop.step_once(n)

    def stop(self) -> None:
        self.loop.stop()

    def set_budget(self, steps: int) -> None:
        """Pause after `steps` more steps (0: no limit)."""
        self.loop.set_budget(steps)

    @property
    def budget_end(self) -> int:
        return self.loop.budget_end

    def apply(self, **settings) -> None:
        """lr=..., clip=..., optimizer=..., restore=True: applied before the next step, no reset."""
        self.loop.apply(**settings)

    # ---- on the worker thread ------------------------------------------------------------
    @Slot()
    def run(self) -> None:
        import torch

        torch.set_num_threads(1)  # per thread; more threads here train slower (GUIDE)
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
