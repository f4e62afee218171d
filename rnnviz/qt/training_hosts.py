"""Where a window's training runs: in a child process (ProcessHost, the main window's default) or on
a thread of the app (ThreadHost). Both give a worker with the same signals (qt.worker.WorkerSignals)
and controls (play, pause, step_once, apply, set_budget, stop), one training session at a time:

    worker = host.session(spec, eval_every, budget)   # connect its signals, then
    host.start(worker, wait=seconds)                    # raises RnnvizError if the model cannot be built

Why a process: a training thread shares the GIL with the window, and a busy window starved it to
~0.4x of its speed (benchmarks/app_throughput.py); in its own process it keeps its speed, and the
window never imports torch (it starts faster).
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, Signal, Slot

from rnnviz.core.errors import ConfigError, RnnvizError
from rnnviz.core.protocol import (
    Cancel,
    Command,
    Finished,
    Progress,
    Report,
    SessionInfo,
    Start,
    Started,
    StartFailed,
)
from rnnviz.core.remote import TrainerProcess
from rnnviz.core.session import TrainerSpec
from rnnviz.qt.worker import TrainerThread, TrainWorker, WorkerSignals


class RemoteTrainWorker(WorkerSignals):
    """One session in the training process, seen from the window."""

    def __init__(self, host: ProcessHost, number: int, spec: TrainerSpec, eval_every: int, budget: int):
        super().__init__(SessionInfo.of_spec(spec))
        self.host, self.number, self.spec = host, number, spec
        self.eval_every, self.budget = eval_every, budget
        self._budget_end = spec.updates + budget if budget else 0
        self.answered = threading.Event()
        self.error: str | None = None
        self.ended = False
        self._weights: dict | None = None  # the last weights that came (read on the relay thread only)

    def send(self, command: Command) -> None:
        self.host.process.send(self.number, command)

    def receive(self, report: Report) -> None:
        """A report of this session, on the relay thread: a Progress becomes a Snapshot with the
        last weights that came; a start's answer wakes whoever waits for it."""
        match report:
            case Progress():
                report = report.snapshot(self._weights)
                self._weights = report.weights
            case StartFailed(message=m):
                self.error, self.ended = m, True
            case Finished():
                self.ended = True
        self.report(report)
        if isinstance(report, Started | StartFailed):
            self.answered.set()


class _Relay(QObject):
    """On its own thread: reads the training process's reports and hands each to its session."""

    gone = Signal()  # the process has ended (closed, or died)

    def __init__(self, host: ProcessHost, process: TrainerProcess):
        super().__init__()
        self.host, self.process = host, process

    @Slot()
    def run(self) -> None:
        conn = self.process.reports
        while True:
            try:
                envelope = conn.recv()
            except (EOFError, OSError):
                break
            worker = self.host.sessions.get(envelope.session)
            if worker is not None:
                worker.receive(envelope.message)
                if worker.ended:
                    self.host.sessions.pop(envelope.session, None)
        self.host.dead = True  # the next session starts a new process
        for worker in list(self.host.sessions.values()):  # unexpected end: tell whoever waits
            worker.error = worker.error or "the training process has stopped"
            worker.answered.set()
            if not self.host.closing:
                worker.failed.emit(
                    "training stopped: the training process has ended unexpectedly (Reset starts a new one)"
                )
        self.host.sessions.clear()
        self.gone.emit()


class ProcessHost(QObject):
    """The window's training process (spawned at once: it imports torch while the window builds)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sessions: dict[int, RemoteTrainWorker] = {}
        self.closing = False
        self._count = 0
        self._spawn()

    def _spawn(self) -> None:
        self.process, self.dead = TrainerProcess(), False
        self._relay = _Relay(self, self.process)
        self._thread = QThread()
        self._thread.setObjectName("rnnviz-trainer-relay")
        self._relay.moveToThread(self._thread)
        self._thread.started.connect(self._relay.run)
        self._relay.gone.connect(self._thread.quit)
        self._thread.start()

    def _end_process(self, timeout: float) -> None:
        self.process.close(timeout)
        self._thread.quit()
        self._thread.wait(2000)
        self.process.reports.close()

    def session(self, spec: TrainerSpec, eval_every: int = 100, budget: int = 0) -> RemoteTrainWorker:
        if self.dead:  # the last one died (it said so): a new training process
            self._end_process(0.5)
            self._spawn()
        self._count += 1
        worker = RemoteTrainWorker(self, self._count, spec, eval_every, budget)
        self.sessions[self._count] = worker
        return worker

    def start(self, worker: RemoteTrainWorker, wait: float | None = 30.0) -> None:
        """Send the session to the process; with `wait`, block until it is built (RnnvizError if
        it cannot be, the previous session going on). The first start waits for torch to load."""
        worker.send(Start(worker.spec, worker.eval_every, worker.budget))
        if wait is None:
            return
        if not worker.answered.wait(wait):
            worker.send(Cancel())  # built later, it would replace the session that goes on
            raise RnnvizError(f"the training process did not answer within {wait:.0f} s")
        if worker.error is not None:
            raise ConfigError(worker.error)

    def stop(self, worker) -> None:
        """End a session without waiting (its last step may still run in the process)."""
        worker.stop()

    def unfinished(self) -> int:
        return 0  # the process is ended by close(), whatever it was doing

    def close(self, timeout: float = 1.5) -> None:
        self.closing = True
        self._end_process(timeout)


class ThreadHost:
    """Training on a QThread of the app's own process (the noisy-sine window; tests that reach
    into the trainer). A stopped session's thread is kept until its last step has finished."""

    def __init__(self) -> None:
        self.runners: dict[TrainWorker, TrainerThread] = {}
        self._retired: list[TrainerThread] = []

    def session(self, spec: TrainerSpec, eval_every: int = 100, budget: int = 0) -> TrainWorker:
        from rnnviz.core.scoring import preset_monitor

        trainer = spec.build()
        monitor, why_not = preset_monitor(trainer)
        if why_not:
            trainer.notes.append(why_not)
        worker = TrainWorker(trainer, eval_every=eval_every, budget=budget, monitor=monitor)
        self.runners[worker] = TrainerThread(worker)
        return worker

    def start(self, worker: TrainWorker, wait: float | None = None) -> None:
        self.runners[worker].start()

    def stop(self, worker: TrainWorker) -> None:
        self._retired = [r for r in self._retired if not r.thread.isFinished()]
        runner = self.runners.pop(worker, None)
        if runner is not None:
            worker.stop()
            runner.thread.quit()
            self._retired.append(runner)

    def unfinished(self) -> int:
        return sum(not r.thread.isFinished() for r in self._retired)

    def close(self, timeout: float = 1.5) -> None:
        import time

        for worker in list(self.runners):
            self.stop(worker)
        deadline = time.perf_counter() + timeout
        for r in self._retired:
            r.thread.wait(max(0, int(1000 * (deadline - time.perf_counter()))))
