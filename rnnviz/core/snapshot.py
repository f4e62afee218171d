"""Immutable records of training: the only objects that cross from the trainer to the views.

Arrays are copies (never views of tensors the optimiser will change), so no locks are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnnviz.core.config import ModelConfig
from rnnviz.core.corpus import Vocab


@dataclass(frozen=True)
class StepMetrics:
    """One optimisation step. `skipped`: the loss or a gradient was not finite; nothing changed."""

    step: int  # 1-based count of steps attempted
    loss: float
    accuracy: float
    bits_per_token: float
    tokens_per_s: float  # smoothed over recent steps
    grad_norms: dict[str, float]  # parameter name -> ||grad|| before clipping
    total_norm: float  # over all parameters, before clipping
    clipped: bool
    skipped: bool
    lr: float
    seconds: float  # wall time of this step


@dataclass(frozen=True)
class EvalMetrics:
    """Loss and accuracy on the held-out split."""

    step: int
    loss: float
    accuracy: float
    bits_per_token: float
    tokens: int


@dataclass(frozen=True)
class Snapshot:
    """The model as it is after `updates` applied steps, with the latest metrics."""

    model_cfg: ModelConfig
    vocab: Vocab
    updates: int
    weights: dict[str, np.ndarray] = field(repr=False)  # state_dict keys -> float32 copies
    metrics: StepMetrics | None = None  # the latest step
    evaluation: EvalMetrics | None = None  # the latest held-out evaluation
    recent: tuple[StepMetrics, ...] = ()  # every step since the previous snapshot, oldest first
    weights_updates: int | None = None  # the updates the weights are from, when older (see TrainLoop)

    @property
    def weights_step(self) -> int:
        """How many updates the weights have had (they travel less often than the metrics)."""
        return self.updates if self.weights_updates is None else self.weights_updates
