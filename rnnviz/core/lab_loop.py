"""LabLoop: the gradient lab's models (core.lab.Comparison, up to three) trained side by side under play /
pause / step / settings / stop commands, reporting through a callback, in the training process
(core.remote serves it like a TrainLoop; the lab's window never imports torch).

Reports (core.protocol): LabProgress at most ~20 times a second, each carrying every step of every
model since the previous one; LabResults, the gradient figures (decay per 10 steps, horizons,
spectrum, gate saturation), measured every `measure_every` steps, once at start, and whenever
training pauses after a step or W_hh was rescaled (~2 s for the three models of 64 units on 32
windows); Running, Failed, Finished. Rescaling W_hh acts on the models that have one (RNN, LSTM,
GRU); for minGRU, minLSTM and S6 it is not applicable, and a Notice says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np

from rnnviz.core.config import ARCH_NAMES, check_lr
from rnnviz.core.errors import ConfigError, RnnvizError
from rnnviz.core.lab import (
    Comparison,
    LabFigures,
    cell_path_singular_values,
    gate_saturation,
    has_w_hh,
    window_gain,
)
from rnnviz.core.loop import LoopControl
from rnnviz.core.protocol import (
    Apply,
    Failed,
    Finished,
    LabProgress,
    LabResults,
    Notice,
    Report,
    Running,
    Scale,
    UndoScale,
)
from rnnviz.core.trace import Trace, TraceWeights, trace

METRICS_INTERVAL = 1 / 20
MEASURE_EVERY = 50


@dataclass(frozen=True)
class LabMeasurement(LabFigures):
    """LabFigures plus what the lab window draws from a trace of the first probe window."""

    cell_sigma: np.ndarray | None = None  # LSTM: largest singular value of dc_t/dc_(t-1) = max_j f_t[j]
    saturation: dict = field(default_factory=dict)  # gate -> (left (H,), right (H,)), last layer
    window_gain: float = float("nan")  # ||J_T ... J_1|| of the state maps over the first probe window
    scale: float | None = 1.0  # product of the W_hh scale factors applied when measured (None: no W_hh)
    windows: int = 0  # held-out windows measured on
    window: int = 0  # tokens in each


def probe_trace(lab: Comparison, w: TraceWeights) -> Trace | None:
    """The trace of the first probe window, the one `sigma_by_step` is drawn from."""
    if not lab.probes:
        return None
    ids, target = lab.probes[0]
    return trace(w, ids, target_id=target)


def measure(lab: Comparison, arch: str, scale: float = 1.0) -> LabMeasurement:
    """Comparison.measure, plus the LSTM cell path, gate saturation and the window's gain."""
    trainer = lab.trainers[arch]
    weights = trainer.snapshot().weights
    fig = lab.measure(arch, weights)
    base = {f.name: getattr(fig, f.name) for f in fields(LabFigures)}
    w = TraceWeights.from_state(trainer.model_cfg, weights)
    tr = probe_trace(lab, w)
    base |= {"scale": scale if has_w_hh(arch) else None, "windows": len(lab.probes), "window": lab.window}
    if tr is None:
        return LabMeasurement(**base)
    top = w.cfg.layers - 1
    return LabMeasurement(
        **base,
        cell_sigma=cell_path_singular_values(tr, top) if arch == "lstm" else None,
        saturation=gate_saturation(tr, top),
        window_gain=window_gain(w, tr, top),
    )


class LabLoop(LoopControl):
    def __init__(self, lab: Comparison, emit: Callable[[Report], None], measure_every: int = MEASURE_EVERY):
        self.lab, self.emit = lab, emit
        self.measure_every = max(1, measure_every)
        self._init_control()
        self._lr: float | None = None
        self._pending_scale = 1.0  # factors asked for, not yet applied to the weights
        self._scale = 1.0  # product of every factor asked for: what undo_scaling() divides out
        self._weights_scale = 1.0  # product of the factors applied to the weights (the loop's thread)

    # ---- commands, from any thread ---------------------------------------------------------
    def command(self, command) -> None:
        """Carry out a command of core.protocol; a refused setting is a Notice (training goes on)."""
        if self.control(command):
            return
        try:
            match command:
                case Apply(lr=lr) if lr is not None:
                    self.set_lr(lr)
                case Scale(factor=factor):
                    self.scale_recurrent(factor)
                case UndoScale():
                    self.undo_scaling()
        except ConfigError as exc:
            self.emit(Notice(f"not applied: {exc}"))

    def set_lr(self, lr: float) -> None:
        """The learning rate of all the models, from the next step on. Raises ConfigError if invalid."""
        check_lr(lr)
        with self._lock:
            self._lr = lr
        self._wake.set()

    def scale_recurrent(self, factor: float) -> None:
        """Multiply W_hh of the models that have one by factor (between steps). Raises ConfigError
        if invalid, or if no model has W_hh."""
        check_scale(factor)
        if not any(has_w_hh(a) for a in self.lab.trainers):
            raise ConfigError(f"not applicable: no W_hh in {_names(self.lab.trainers)}")
        with self._lock:
            self._pending_scale *= factor
            self._scale *= factor
        self._wake.set()

    def undo_scaling(self) -> None:
        """Divide out every scale factor applied so far."""
        with self._lock:
            self._pending_scale /= self._scale
            self._scale = 1.0
        self._wake.set()

    @property
    def scale_applied(self) -> float:
        """The product of the factors asked for (applied before the next step)."""
        with self._lock:
            return self._scale

    @property
    def steps(self) -> int:
        return next(iter(self.lab.trainers.values())).steps

    # ---- the loop ----------------------------------------------------------------------------
    def run(self, poll: Callable[[float], None] | None = None) -> None:
        """Until stop(). poll(timeout): as for core.loop.TrainLoop.run."""
        recent: dict[str, list] = {a: [] for a in self.lab.trainers}
        last_emit, was_running = 0.0, False
        measured_at: int | None = None
        while not self._stop.is_set():
            if poll is not None:
                poll(0.0)
            go, running, lr, scale = self._next_command()
            if self._apply(lr, scale):
                measured_at = None
            if running != was_running:
                was_running = running
                self.emit(Running(running))
            if not go:
                self._flush(recent)
                if measured_at != self.steps:
                    measured_at = self._measure()
                if poll is not None:
                    poll(0.1)
                else:
                    self._wake.wait(0.1)
                self._wake.clear()
                continue
            if measured_at is None:  # the first figures, before any training
                measured_at = self._measure()
            try:
                step = self.lab.step()
            except Exception as exc:  # noqa: BLE001 - reported to the window, never kills the app
                self._pause_with(f"training stopped: {type(exc).__name__}: {exc}")
                continue
            for arch, m in step.items():
                recent[arch].append(m)
            now = time.perf_counter()
            if self.steps % self.measure_every == 0:
                self._flush(recent)
                measured_at = self._measure()
            elif now - last_emit >= METRICS_INTERVAL:
                self._flush(recent)
                last_emit = now
        self._flush(recent)
        self.emit(Finished())

    def _next_command(self) -> tuple[bool, bool, float | None, float]:
        """Whether to step now, whether playing, a new learning rate, a W_hh factor to apply first."""
        with self._lock:
            lr, scale = self._lr, self._pending_scale
            self._lr, self._pending_scale = None, 1.0
            go = self._running or self._pending_steps > 0
            if not self._running and self._pending_steps:
                self._pending_steps -= 1
            return go, self._running, lr, scale

    def _apply(self, lr: float | None, scale: float) -> bool:
        """Apply settings; True when the weights changed (the figures are out of date)."""
        try:
            if lr is not None:
                for trainer in self.lab.trainers.values():
                    trainer.set_lr(lr)
            if scale != 1.0:
                for arch, trainer in self.lab.trainers.items():
                    if has_w_hh(arch):
                        trainer.scale_recurrent(scale)
                self._weights_scale *= scale
                without = [a for a in self.lab.trainers if not has_w_hh(a)]
                if without:
                    self.emit(Notice(f"W_hh scaled; for {_names(without)} not applicable: no W_hh"))
                return True
        except RnnvizError as exc:
            self.emit(Notice(f"not applied: {exc}"))
        return False

    def _flush(self, recent: dict[str, list]) -> None:
        if any(recent.values()):
            self.emit(LabProgress({a: tuple(ms) for a, ms in recent.items()}))
            for ms in recent.values():
                ms.clear()

    def _measure(self) -> int:
        """Report every model's figures; returns the step they were measured at."""
        steps, scale = self.steps, self._weights_scale
        try:
            figs = {}
            for arch in self.lab.trainers:
                if self._stop.is_set():  # closing: do not keep the window waiting
                    return steps
                figs[arch] = measure(self.lab, arch, scale)
            self.emit(LabResults(figs))
        except Exception as exc:  # noqa: BLE001 - e.g. non-finite weights make the SVD fail
            self._pause_with(f"measuring stopped: {type(exc).__name__}: {exc}")
        return steps

    def _pause_with(self, message: str) -> None:
        with self._lock:
            self._running = False
            self._pending_steps = 0
        self.emit(Failed(message))


def _names(archs) -> str:
    return ", ".join(ARCH_NAMES[a] for a in archs)


def check_scale(factor: float) -> None:
    if not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor <= 0:
        raise ConfigError(f"scale factor must be a positive number, not {factor!r}")
