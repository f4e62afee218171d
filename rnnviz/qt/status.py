"""TrainingStatus: step, loss, tokens/s and (with a step budget) the ETA, for the status bar."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from rnnviz.core.snapshot import Snapshot


class TrainingStatus(QLabel):
    def __init__(self, parent=None):
        super().__init__(" ", parent)
        self.budget = 0
        self._tokens_per_step = 1

    def start(self, trainer, budget: int) -> None:
        self.budget = budget
        self._tokens_per_step = trainer.data.numel() // trainer.data.shape[1] * trainer.cfg.seq_len
        cfg = trainer.model_cfg
        self.setText(
            f"{cfg.arch.upper()} {cfg.layers}x{cfg.hidden} on {trainer.corpus.name} \u00b7 "
            f"step {trainer.steps} \u00b7 paused"
        )

    def show(self, snap: Snapshot | None) -> None:
        m = snap.metrics if snap else None
        if m is None:
            return
        parts = [f"step {m.step}", "loss non-finite (skipped)" if m.skipped else f"loss {m.loss:.3f}"]
        if snap.evaluation is not None:
            parts.append(f"held-out {snap.evaluation.loss:.3f}")
        parts.append(f"{m.tokens_per_s / 1000:.1f}k tokens/s")
        if self.budget and m.step < self.budget:
            eta = int((self.budget - m.step) * self._tokens_per_step / max(m.tokens_per_s, 1e-9))
            parts.append(f"ETA {eta // 60}:{eta % 60:02d} to step {self.budget}")
        elif self.budget:
            parts.append(f"budget of {self.budget} steps reached")
        self.setText(" \u00b7 ".join(parts))
