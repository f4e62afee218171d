"""The training protocol: every command a window sends to a training session, and every report a
session sends back, as frozen dataclasses dispatched by type (`match msg: case Play(): ...`).

The same messages serve training on a thread of the app (qt.worker) and in the training process
(core.remote, where each travels in an Envelope naming its session). Nothing here imports torch
or Qt. The receiving side owns what it reads: a report is immutable, and what a window knows of
a session (SessionInfo) is a new object after each report, never one mutated in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.corpus import Corpus, Vocab
from rnnviz.core.series import Series
from rnnviz.core.session import LabSpec, TrainerSpec
from rnnviz.core.snapshot import EvalMetrics, Snapshot, StepMetrics


# ---- commands: window -> session -----------------------------------------------------------------
@dataclass(frozen=True)
class Play:
    pass


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Step:
    """Take `n` steps, then stay paused."""

    n: int = 1


@dataclass(frozen=True)
class Budget:
    """Pause after `steps` more steps (0: no limit)."""

    steps: int


@dataclass(frozen=True)
class Apply:
    """Settings applied before the next step, without a reset (None: unchanged; clip 0: no
    clipping). restore: back to the last weights whose loss was finite, learning rate x 0.1."""

    lr: float | None = None
    clip: float | None = None
    optimizer: str | None = None
    restore: bool = False

    @classmethod
    def of(cls, settings: dict) -> Apply:
        """From the settings panel's dict (lr=..., clip=... with None for off, optimizer=...)."""
        unknown = set(settings) - {"lr", "clip", "optimizer", "restore"}
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        clip = settings.get("clip")
        return cls(
            settings.get("lr"),
            (0.0 if clip is None else clip) if "clip" in settings else None,
            settings.get("optimizer"),
            bool(settings.get("restore", False)),
        )


@dataclass(frozen=True)
class Scale:
    """The gradient lab: multiply every model's W_hh by `factor` (between steps)."""

    factor: float


@dataclass(frozen=True)
class UndoScale:
    """The gradient lab: divide out every factor applied so far."""


@dataclass(frozen=True)
class Start:
    """Build a session from a spec (core.session.TrainerSpec); it replaces the running one."""

    spec: TrainerSpec | LabSpec  # LabSpec: the gradient lab's three models
    eval_every: int = 100
    budget: int = 0


@dataclass(frozen=True)
class Cancel:
    """The window gave up waiting for this session's start: never build it, or stop it."""


@dataclass(frozen=True)
class Stop:
    """End the session (the process goes on)."""


@dataclass(frozen=True)
class Quit:
    """End the training process."""


Command = Play | Pause | Step | Budget | Apply | Scale | UndoScale | Start | Cancel | Stop | Quit


# ---- reports: session -> window ------------------------------------------------------------------
@dataclass(frozen=True)
class SessionInfo:
    """What a window knows of a session's trainer: its data, settings and progress."""

    corpus: Corpus | Series
    model_cfg: ModelConfig
    cfg: TrainConfig
    preset: str | None = None
    notes: tuple[str, ...] = ()
    steps: int = 0  # steps attempted
    updates: int = 0  # steps applied
    tokens_per_step: float = 1.0
    device: str = "auto"

    @classmethod
    def of_spec(cls, spec) -> SessionInfo:
        """Before the trainer is built: what the spec says."""
        return cls(
            spec.corpus, spec.model_cfg, spec.cfg, spec.preset, tuple(spec.notes), spec.updates, spec.updates,
            device=spec.device,
        )  # fmt: skip

    @classmethod
    def of_trainer(cls, trainer) -> SessionInfo:
        return cls(
            trainer.corpus, trainer.model_cfg, trainer.cfg, trainer.preset, tuple(trainer.notes),
            trainer.steps, trainer.updates, trainer.tokens_per_step, str(trainer.device),
        )  # fmt: skip

    def after(self, report: Report) -> SessionInfo:
        """This description as it is after `report` (itself when the report changes nothing)."""
        match report:
            case Started():
                return replace(
                    self, notes=report.notes, steps=report.steps, updates=report.steps, cfg=report.cfg,
                    tokens_per_step=report.tokens_per_step, device=report.device,
                )  # fmt: skip
            case Snapshot(metrics=m, updates=updates) if m is not None:
                return replace(self, steps=m.step, updates=updates)
            case ConfigChanged(cfg=cfg):
                return replace(self, cfg=cfg)
        return self


@dataclass(frozen=True)
class Started:
    """The trainer was built: what only it knows (the window has the corpus and the model's
    settings already; they do not travel back)."""

    tokens_per_step: float
    notes: tuple[str, ...]
    steps: int
    cfg: TrainConfig
    device: str

    @classmethod
    def of(cls, trainer) -> Started:
        return cls(
            trainer.tokens_per_step, tuple(trainer.notes), trainer.steps, trainer.cfg, str(trainer.device)
        )


@dataclass(frozen=True)
class StartFailed:
    """The trainer could not be built; the previous session goes on."""

    message: str


@dataclass(frozen=True)
class Running:
    """Play or pause, as the loop sees it (also when the step budget paused it)."""

    playing: bool


@dataclass(frozen=True)
class Failed:
    """A one-line message; training is paused."""

    message: str


@dataclass(frozen=True)
class Diverged:
    """Repeated non-finite steps; paused. Apply(restore=True) offers a way back."""

    message: str


@dataclass(frozen=True)
class Notice:
    """Something worth a status line (e.g. the step budget was reached)."""

    message: str


@dataclass(frozen=True)
class ConfigChanged:
    """The training settings after the loop changed them (a restore lowers the learning rate)."""

    cfg: TrainConfig


@dataclass(frozen=True)
class Figures:
    """A preset's figures (core.scoring), at most every few seconds of training."""

    figures: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Finished:
    """The session's loop has ended."""


@dataclass(frozen=True)
class LabProgress:
    """The gradient lab: every step of every model since the last report, arch -> metrics."""

    recent: dict[str, tuple[StepMetrics, ...]]


@dataclass(frozen=True)
class LabResults:
    """The gradient lab's figures, arch -> core.lab_loop.LabMeasurement."""

    figures: dict


@dataclass(frozen=True)
class Progress:
    """A Snapshot as it travels from the training process: `weights` is None when they are the
    ones the last Progress carried (they change less often than the metrics)."""

    model_cfg: ModelConfig
    vocab: Vocab
    updates: int
    weights: dict[str, np.ndarray] | None = field(repr=False)
    metrics: StepMetrics | None = None
    evaluation: EvalMetrics | None = None
    recent: tuple[StepMetrics, ...] = ()
    weights_updates: int | None = None

    @classmethod
    def of(cls, snap: Snapshot, with_weights: bool) -> Progress:
        kept = {f.name: getattr(snap, f.name) for f in fields(Snapshot)}
        return cls(**(kept | {"weights": snap.weights if with_weights else None}))

    def snapshot(self, last_weights: dict[str, np.ndarray] | None) -> Snapshot:
        """The Snapshot, with `last_weights` when it travelled without its own."""
        kept = {f.name: getattr(self, f.name) for f in fields(Snapshot)}
        weights = self.weights if self.weights is not None else last_weights
        if weights is None:
            raise ValueError("a snapshot arrived without weights before any with them")
        return Snapshot(**(kept | {"weights": weights}))


Report = (
    Snapshot | Progress | Started | StartFailed | Running | Failed | Diverged | Notice | ConfigChanged
    | Figures | LabProgress | LabResults | Finished
)  # fmt: skip


@dataclass(frozen=True)
class Envelope:
    """A message between the window and the training process, for one session (0: the process)."""

    session: int
    message: Command | Report
