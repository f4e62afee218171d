"""When held-out loss stops falling: the best held-out step, and whether the loss has risen since
(numpy only: the window's curves and the CLI use it alike).

Held-out loss that rises while the training loss keeps falling means the model is learning the
training text itself rather than what carries over to unseen text: it is memorising it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RISING_EVALS = 3  # evaluations after the best one, every one of them above it ...
RISE = 0.02  # ... and the latest at least this fraction above it: "rising for a while"


@dataclass(frozen=True)
class HeldOutTrend:
    best_step: int  # the step of the lowest held-out loss
    best_loss: float
    rising_since: int | None  # best_step when the loss has risen since (see RISING_EVALS, RISE)

    def message(self) -> str:
        if self.rising_since is None:
            return ""
        return (
            f"held-out loss rising since step {self.rising_since:,}: "
            "the model is memorising the training text"
        )


def held_out_trend(steps, losses) -> HeldOutTrend | None:
    """The best held-out evaluation and whether the loss has risen since; None without finite values."""
    steps, losses = np.asarray(steps, dtype=float), np.asarray(losses, dtype=float)
    ok = np.isfinite(losses)
    steps, losses = steps[ok], losses[ok]
    if not len(losses):
        return None
    b = int(np.argmin(losses))  # the first of equal minima
    after = losses[b + 1 :]
    rising = (
        len(after) >= RISING_EVALS and bool(np.all(after > losses[b])) and after[-1] >= losses[b] * (1 + RISE)
    )
    return HeldOutTrend(int(steps[b]), float(losses[b]), int(steps[b]) if rising else None)
