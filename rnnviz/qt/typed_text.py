"""TypedTextActions: the typed text through the latest weights, for MainWindow: trace it, show it
in every view, continue it, and sample from the model."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Slot

from rnnviz.core.corpus import detokenize
from rnnviz.core.errors import RnnvizError
from rnnviz.core.generate import sample


class TypedTextActions:
    """Mixed into MainWindow (uses its probe, typing panel, internals, samples and latest)."""

    def _retrace(self, *_args) -> None:
        self._typed = self.typing.editor.toPlainText()  # read once a keystroke (it may be megabytes)
        probe = self.probe.run(self._typed, self.typing.target_token())
        self.last_probe = probe
        tr = probe.trace
        if tr is not None and not np.isfinite(tr.probs).all():
            self.typing.info.setText(
                "The model's outputs are not finite (its weights diverged): restore them or press Reset."
            )
            return
        if tr is None:
            self.selected = None
            self.internals.clear()
        else:
            if self.selected is not None and self.selected >= tr.steps:
                self.selected = None
            self.internals.set_trace(tr)
            self.internals.set_selected(self.selected)
        self.typing.show_probe(probe, self.selected)
        self.typing.show_attribution(tr)
        self.trajectory.set_trace(tr)
        self._show_unrolled()
        self._update_continuation()

    def _show_unrolled(self) -> None:
        """The unrolled view follows the typed text (when shown: it is drawn by hand)."""
        if not self.unrolled.isVisible():
            return
        trainer = self.worker.info if self.worker else None
        mode = trainer.cfg.loss_mode if trainer else "many-to-many"
        self.unrolled.set_trace(self.last_probe.trace, self.probe.weights, mode)

    def _update_continuation(self) -> None:
        t = self.typing
        try:
            more = self.probe.continuation(self.last_probe, t.cont_len.value(), t.temperature.value(), seed=0)
        except RnnvizError as exc:
            t.continuation.setText(str(exc))
            return
        typed = getattr(self, "_typed", None)
        t.show_continuation(t.editor.toPlainText() if typed is None else typed, more)

    @Slot(int)
    def show_step(self, t: int) -> None:
        """The step-through reached step t: select it in every other view."""
        self.selected = t
        self.internals.set_selected(t)
        self.typing.show_probe(self.last_probe, t)

    @Slot(int)
    def select_step(self, t: int) -> None:
        self.selected = None if t == self.selected else t
        self.internals.set_selected(self.selected)
        self.typing.show_probe(self.last_probe, self.selected)

    def _sample(self, force: bool = False) -> None:
        snap, w = self.latest, self.probe.weights
        if (
            snap is None
            or w is None
            or not (force or (self.samples.isVisible() and self.samples.due(snap.updates)))
        ):
            return
        start = snap.vocab.ids(["\n"]) if "\n" in snap.vocab.stoi else snap.vocab.ids([snap.vocab.tokens[1]])
        try:
            ids = sample(
                w, start, self.samples.length.value(), self.samples.temperature.value(), seed=snap.updates,
                interventions=self.probe.interventions,
            )  # fmt: skip
        except RnnvizError as exc:
            self.samples.caption.setText(str(exc))
            return
        self.samples.show_sample(
            snap.updates, detokenize([snap.vocab.tokens[i] for i in ids], snap.vocab.level)
        )
