"""TrainingStatus: step, loss, tokens/s and (with a step budget) the ETA, for the status bar."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from rnnviz.core.snapshot import Snapshot


class TrainingStatus(QLabel):
    def __init__(self, parent=None):
        super().__init__(" ", parent)
        self.budget_end = 0  # the step at which training pauses (0: no budget)
        self._tokens_per_step = 1
        self.running = False
        self._snap: Snapshot | None = None

    def start(self, trainer, budget_end: int) -> None:
        self.budget_end, self.running, self._snap = budget_end, False, None
        self._tokens_per_step = trainer.tokens_per_step
        cfg = trainer.model_cfg
        state = f", N = {cfg.state}" if cfg.arch == "ssm" else ""  # the S6's states per channel
        self.setText(
            f"{cfg.name} {cfg.layers}x{cfg.hidden}{state} on {trainer.corpus.name} \u00b7 "
            f"step {trainer.steps} \u00b7 paused"
        )

    def set_running(self, on: bool) -> None:
        self.running = on
        self.show(self._snap)

    def show(self, snap: Snapshot | None) -> None:
        m = snap.metrics if snap else None
        if m is None:
            return
        self._snap = snap
        parts = [f"step {m.step}", "loss non-finite (skipped)" if m.skipped else f"loss {m.loss:.3f}"]
        if snap.evaluation is not None:
            parts.append(f"held-out {snap.evaluation.loss:.3f}")
        parts.append(f"{m.tokens_per_s / 1000:.1f}k tokens/s")
        end = self.budget_end
        if end and m.step < end:
            eta = int((end - m.step) * self._tokens_per_step / max(m.tokens_per_s, 1e-9))
            parts.append(f"ETA {eta // 60}:{eta % 60:02d} to step {end}")
        elif end:
            parts.append(f"step budget reached (step {end})")
        if not self.running:
            parts.append("paused")
        self.setText(" \u00b7 ".join(parts))


class BudgetProgress(QWidget):
    """Training towards a step budget: how far it has got, and a button that stops it there."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setFormat("%v / %m steps")
        self.stop = QToolButton()
        self.stop.setText("Stop")
        self.stop.setToolTip("Pause training now (the step budget stays set)")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.bar)
        lay.addWidget(self.stop)
        self.start_step = self.end_step = 0
        self.hide()

    def set_budget(self, start_step: int, end_step: int) -> None:
        self.start_step, self.end_step = start_step, end_step
        self.bar.setRange(0, max(end_step - start_step, 1))
        self.bar.setValue(0)

    def show_progress(self, step: int, running: bool) -> None:
        """Shown while training runs towards the budget's end."""
        on = running and self.end_step > 0 and step < self.end_step
        if on:
            self.bar.setValue(max(0, min(step - self.start_step, self.bar.maximum())))
        self.setVisible(on)
