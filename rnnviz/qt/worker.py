"""TrainWorker: runs a Trainer on its own QThread and sends immutable Snapshots to the GUI.

The GUI never waits on it. Control calls (play, pause, step, settings, stop) are plain
thread-safe methods: they set flags under a lock that the loop reads between steps (a queued
slot would never run while the loop occupies the thread's event loop). Snapshots go out at
most ~30 times a second, each carrying every step's metrics since the previous one, so a fast
trainer cannot flood the event queue.
"""

from __future__ import annotations

import threading
import time

import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from rnnviz.core.errors import RnnvizError
from rnnviz.core.train import NONFINITE_LIMIT, Trainer

EMIT_INTERVAL = 1 / 30


class LoopControl:
    """Play / pause / step / stop for a worker loop on another thread: flags under a lock that the
    loop reads between steps, and an Event that wakes it when paused. Call _init_control() first."""

    def _init_control(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._running = False
        self._pending_steps = 0

    def play(self) -> None:
        self._set(running=True)

    def pause(self) -> None:
        self._set(running=False)

    def step_once(self, n: int = 1) -> None:
        with self._lock:
            self._pending_steps += n
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _set(self, running: bool) -> None:
        with self._lock:
            self._running = running
        self._wake.set()


class TrainWorker(LoopControl, QObject):
    snapshot_ready = Signal(object)  # core.snapshot.Snapshot
    failed = Signal(str)  # a one-line message; training is paused, the app keeps running
    diverged = Signal(str)  # repeated non-finite steps: paused; apply(restore=True) offers a way back
    running_changed = Signal(bool)
    notice = Signal(str)  # something worth a status-bar line (e.g. the step budget was reached)
    finished = Signal()

    def __init__(self, trainer: Trainer, eval_every: int = 100, budget: int = 0):
        super().__init__()
        self.trainer = trainer
        self.eval_every = eval_every
        self._init_control()
        self._settings: dict = {}
        self._budget_end = trainer.steps + budget if budget else 0  # pause at this step (0: never)
        self._skipped_in_row = 0

    # ---- called from the GUI thread (with play, pause, step_once, stop) --------------------
    def set_budget(self, steps: int) -> None:
        """Pause after `steps` more steps (0: no limit)."""
        with self._lock:
            self._budget_end = self.trainer.steps + steps if steps else 0
        self._wake.set()

    @property
    def budget_end(self) -> int:
        return self._budget_end

    def apply(self, **settings) -> None:
        """lr=..., clip=..., optimizer=..., restore=True: applied before the next step, no reset.

        restore: back to the last weights whose loss was finite, learning rate x 0.1."""
        with self._lock:
            self._settings.update(settings)
        self._wake.set()

    # ---- the loop, on the worker thread --------------------------------------------------
    @Slot()
    def run(self) -> None:
        torch.set_num_threads(1)  # per thread; more threads here train slower (GUIDE)
        tr = self.trainer
        recent, evaluation, last_emit = [], None, 0.0
        self.snapshot_ready.emit(tr.snapshot())
        was_running = False
        while not self._stop.is_set():
            go, running, settings, budget_hit = self._next_command()
            if settings:
                self._apply_settings(settings)
            if budget_hit:
                self.notice.emit(f"step budget reached at step {tr.steps}: paused")
            if running != was_running or budget_hit:
                was_running = running
                self.running_changed.emit(running)
            if not go:
                if recent:
                    self.snapshot_ready.emit(tr.snapshot(recent[-1], evaluation, tuple(recent)))
                    recent = []
                self._wake.wait(0.1)
                self._wake.clear()
                continue
            try:
                m = tr.step()
                if m.step % self.eval_every == 0:
                    evaluation = tr.evaluate()
            except Exception as exc:  # noqa: BLE001 - reported to the GUI, never kills the app
                self._pause_with(f"training stopped: {type(exc).__name__}: {exc}")
                continue
            recent.append(m)
            self._watch_nonfinite(m)
            now = time.perf_counter()
            if now - last_emit >= EMIT_INTERVAL:
                self.snapshot_ready.emit(tr.snapshot(m, evaluation, tuple(recent)))
                recent, last_emit = [], now
        if recent:
            self.snapshot_ready.emit(tr.snapshot(recent[-1], evaluation, tuple(recent)))
        self.finished.emit()

    def _next_command(self) -> tuple[bool, bool, dict, bool]:
        """Whether to take a step now, whether playing, settings to apply first, and whether the
        step budget has just stopped play (also when Play was pressed with the budget spent)."""
        with self._lock:
            settings, self._settings = self._settings, {}
            budget_hit = bool(self._running and self._budget_end and self.trainer.steps >= self._budget_end)
            if budget_hit:
                self._running = False
            go = self._running or self._pending_steps > 0
            if not self._running and self._pending_steps:
                self._pending_steps -= 1
            return go, self._running, settings, budget_hit

    def _apply_settings(self, s: dict) -> None:
        try:
            if "lr" in s:
                self.trainer.set_lr(s["lr"])
            if "clip" in s:
                self.trainer.set_clip(s["clip"])
            if "optimizer" in s:
                self.trainer.set_optimizer(s["optimizer"])
            if s.get("restore"):
                if not self.trainer.restore_good():
                    self.failed.emit("no earlier weights with a finite loss were kept: press Reset")
                self.snapshot_ready.emit(self.trainer.snapshot())
        except RnnvizError as exc:
            self.failed.emit(str(exc))

    def _watch_nonfinite(self, m) -> None:
        self._skipped_in_row = self._skipped_in_row + 1 if m.skipped else 0
        if self._skipped_in_row >= NONFINITE_LIMIT:
            self._skipped_in_row = 0
            self._pause_with(
                f"training paused: {NONFINITE_LIMIT} steps in a row had a non-finite loss or gradient "
                "(skipped: the weights never saw them)",
                self.diverged,
            )

    def _pause_with(self, message: str, signal=None) -> None:
        with self._lock:
            self._running = False
            self._pending_steps = 0
        (signal or self.failed).emit(message)


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
