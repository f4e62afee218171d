"""TrainLoop: a Trainer stepped under play / pause / step / settings / stop commands, reporting
through a callback. The same loop runs on a worker thread of the app (qt.worker.TrainWorker) and
in the training process (core.remote); nothing here knows about Qt or about processes.

Reports, as emit(report), are core.protocol's: Snapshot at most ~30 a second, each with every
step's metrics since the last one (the weights in it copied at most ~10 times a second, and
whenever training stops); Running, Failed, Diverged, Notice, ConfigChanged, Figures (at most every
`monitor_every` s of training) and Finished when the loop has ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnnviz.core.config import NONFINITE_LIMIT
from rnnviz.core.errors import RnnvizError
from rnnviz.core.protocol import (
    Apply,
    Budget,
    Command,
    ConfigChanged,
    Diverged,
    Failed,
    Figures,
    Finished,
    Notice,
    Pause,
    Play,
    Report,
    Running,
    Step,
    Stop,
)
from rnnviz.core.snapshot import EvalMetrics, Snapshot, StepMetrics

EMIT_INTERVAL = 1 / 30
MONITOR_SHARE = 5  # the figures' computation takes at most a fifth of the training's time
WEIGHTS_INTERVAL = 0.1  # the views re-trace the typed text at most 10 times a second


class LoopControl:
    """Play / pause / step / stop for a loop on another thread: flags under a lock that the loop
    reads between steps, and an Event that wakes it when paused. Call _init_control() first."""

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

    def control(self, command: Command) -> bool:
        """Play, Pause, Stop and Step, the same for every loop: True when `command` was one of them."""
        match command:
            case Play():
                self.play()
            case Pause():
                self.pause()
            case Stop():
                self.stop()
            case Step(n=n):
                self.step_once(n)
            case _:
                return False
        return True

    def _set(self, running: bool) -> None:
        with self._lock:
            self._running = running
        self._wake.set()


class TrainLoop(LoopControl):
    def __init__(
        self,
        trainer,
        emit: Callable[[Report], None],
        eval_every: int = 100,
        budget: int = 0,
        monitor: Callable[[Any, float], dict] | None = None,
        monitor_every: float = 0.5,
    ):
        """monitor(trainer, seconds_trained) -> figures, reported every `monitor_every` seconds of
        training and whenever training stops."""
        self.trainer, self.emit, self.eval_every = trainer, emit, eval_every
        self._init_control()
        self._settings = Apply()
        self._budget_end = trainer.steps + budget if budget else 0  # pause at this step (0: never)
        self._nonfinite = NonfiniteWatch()
        self.monitor, self.monitor_every = monitor, monitor_every
        self._monitor_gap = monitor_every  # grows when the figures are slow to compute
        self.seconds = 0.0  # of training (the steps' own time)

    # ---- commands, from any thread ---------------------------------------------------------
    def set_budget(self, steps: int) -> None:
        """Pause after `steps` more steps (0: no limit)."""
        with self._lock:
            self._budget_end = self.trainer.steps + steps if steps else 0
        self._wake.set()

    @property
    def budget_end(self) -> int:
        return self._budget_end

    def apply(self, settings: Apply) -> None:
        """Applied before the next step, no reset; merged with settings not yet applied."""
        with self._lock:
            self._settings = merge(self._settings, settings)
        self._wake.set()

    def command(self, command: Command) -> None:
        """Carry out a session's command (the same on a thread and in the training process)."""
        if self.control(command):
            return
        match command:
            case Budget(steps=steps):
                self.set_budget(steps)
            case Apply():
                self.apply(command)

    # ---- the loop --------------------------------------------------------------------------
    def run(self, poll: Callable[[float], None] | None = None) -> None:
        """Until stop(). poll(timeout): called between steps (timeout 0) and while paused, to take
        commands from elsewhere (the training process's pipe); by default the loop just waits."""
        tr = self.trainer
        self._recent: list[StepMetrics] = []
        self._evaluation: EvalMetrics | None = None
        self._last_emit = self._last_weights = self._last_monitor = 0.0
        self._weights_snap: Snapshot | None = None
        self._last_metrics: StepMetrics | None = None
        self._figures_at = -1
        self._snapshot(fresh=True)
        self._report_figures()
        was_running = False
        while not self._stop.is_set():
            if poll is not None:
                poll(0.0)
            go, running, settings, budget_hit = self._next_command()
            if settings:
                self._apply_settings(settings)
            if budget_hit:
                self.emit(Notice(f"step budget reached at step {tr.steps}: paused"))
            if running != was_running or budget_hit:
                was_running = running
                self.emit(Running(running))
            if not go:
                if self._recent or self._weights_snap is None or self._weights_stale():
                    self._snapshot(fresh=True)
                if self.monitor is not None and self._figures_at != tr.updates:
                    self._report_figures()  # the figures of the weights training stopped at
                if poll is not None:
                    poll(0.1)
                else:
                    self._wake.wait(0.1)
                self._wake.clear()
                continue
            self._train_one()
        if self._recent:
            self._snapshot(fresh=True)
        self.emit(Finished())

    def _train_one(self) -> None:
        tr = self.trainer
        try:
            m = tr.step()
            if m.step % self.eval_every == 0:
                self._evaluation = tr.evaluate()
        except Exception as exc:  # noqa: BLE001 - reported, never kills the app
            self._pause_with(f"training stopped: {type(exc).__name__}: {exc}")
            return
        self.seconds += m.seconds
        self._recent.append(m)
        self._watch_nonfinite(m)
        now = time.perf_counter()
        if now - self._last_emit >= EMIT_INTERVAL:
            self._snapshot(fresh=now - self._last_weights >= WEIGHTS_INTERVAL)
        if self.monitor is not None and now - self._last_monitor >= self._monitor_gap:
            self._report_figures()

    def _weights_stale(self) -> bool:
        return self._weights_snap is None or self._weights_snap.weights_step != self.trainer.updates

    def _snapshot(self, fresh: bool) -> None:
        """Report the metrics since the last report; the weights copied afresh, or the last copy."""
        tr = self.trainer
        m = self._recent[-1] if self._recent else self._last_metrics  # the latest step's, either way
        self._last_metrics = m
        snap = tr.snapshot(m, self._evaluation, tuple(self._recent), None if fresh else self._weights_snap)
        now = time.perf_counter()
        if fresh:
            self._weights_snap, self._last_weights = snap, now
        self._recent, self._last_emit = [], now
        self.emit(snap)

    def _report_figures(self) -> None:
        if self.monitor is None:
            return
        start = time.perf_counter()
        self._figures_at = self.trainer.updates
        try:
            self.emit(Figures(self.monitor(self.trainer, self.seconds)))
        except Exception as exc:  # noqa: BLE001 - figures are a report: training goes on without them
            self.emit(Notice(f"no preset figures: {exc}"))
        # The figures may take at most 1/MONITOR_SHARE of the time: a long series is scored less often.
        self._last_monitor = time.perf_counter()
        self._monitor_gap = max(self.monitor_every, MONITOR_SHARE * (self._last_monitor - start))

    def _next_command(self) -> tuple[bool, bool, Apply | None, bool]:
        """Whether to take a step now, whether playing, settings to apply first, and whether the
        step budget has just stopped play (also when Play was pressed with the budget spent)."""
        with self._lock:
            settings = None if self._settings == Apply() else self._settings
            self._settings = Apply()
            budget_hit = bool(self._running and self._budget_end and self.trainer.steps >= self._budget_end)
            if budget_hit:
                self._running = False
            go = self._running or self._pending_steps > 0
            if not self._running and self._pending_steps:
                self._pending_steps -= 1
            return go, self._running, settings, budget_hit

    def _apply_settings(self, s: Apply) -> None:
        tr = self.trainer
        try:
            if s.lr is not None:
                tr.set_lr(s.lr)
            if s.clip is not None:
                tr.set_clip(s.clip if s.clip > 0 else None)
            if s.optimizer is not None:
                tr.set_optimizer(s.optimizer)
            if s.restore:
                if not tr.restore_good():
                    self.emit(Notice("no earlier weights with a finite loss were kept: press Reset"))
                self._snapshot(fresh=True)
        except RnnvizError as exc:  # refused: training goes on as it was (Failed would mean paused)
            self.emit(Notice(f"not applied: {exc}"))
        except Exception as exc:  # noqa: BLE001 - reported, never ends the loop
            self.emit(Notice(f"the settings could not be applied: {type(exc).__name__}: {exc}"))
        self.emit(ConfigChanged(tr.cfg))

    def _watch_nonfinite(self, m) -> None:
        if self._nonfinite.diverged(m):
            self._pause_with(
                f"training paused: {NONFINITE_LIMIT} steps in a row had a non-finite loss or gradient "
                "(skipped: the weights never saw them)",
                Diverged,
            )

    def _pause_with(self, message: str, kind: type[Failed] | type[Diverged] = Failed) -> None:
        with self._lock:
            self._running = False
            self._pending_steps = 0
        self.emit(kind(message))


class NonfiniteWatch:
    """The divergence rule, in one place: NONFINITE_LIMIT steps in a row whose loss or gradient
    was not finite (skipped: the weights never saw them)."""

    def __init__(self) -> None:
        self.in_row = 0

    def diverged(self, m: StepMetrics) -> bool:
        self.in_row = self.in_row + 1 if m.skipped else 0
        if self.in_row < NONFINITE_LIMIT:
            return False
        self.in_row = 0
        return True


@dataclass(frozen=True)
class StepsRun:
    """What `run_steps` ended with: the last step's metrics, the last held-out evaluation, and
    whether it stopped because training diverged."""

    metrics: StepMetrics | None
    evaluation: EvalMetrics | None
    diverged: bool


def run_steps(trainer, steps: int, eval_every: int = 0, on_step: Callable | None = None) -> StepsRun:
    """Train `steps` updates headless (the command line, the Python API), evaluating on the
    held-out text every `eval_every` steps (0: never) and after the last; stops early when
    training diverges. on_step(metrics, evaluation) after each step (progress lines)."""
    watch, metrics, evaluation = NonfiniteWatch(), None, None
    for _ in range(steps):
        metrics = trainer.step()
        if watch.diverged(metrics):
            return StepsRun(metrics, evaluation, True)
        if eval_every and (metrics.step % eval_every == 0 or metrics.step == steps):
            evaluation = trainer.evaluate()
        if on_step is not None:
            on_step(metrics, evaluation)
    return StepsRun(metrics, evaluation, False)


def merge(old: Apply, new: Apply) -> Apply:
    """Settings not yet applied, with `new`'s taking the place of `old`'s where given."""
    return Apply(
        old.lr if new.lr is None else new.lr,
        old.clip if new.clip is None else new.clip,
        old.optimizer if new.optimizer is None else new.optimizer,
        old.restore or new.restore,
    )
