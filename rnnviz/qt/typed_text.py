"""TypedText: the typed text through the weights the views show, for MainWindow: trace it, show it
in every view of it, continue it, select a step, and sample from the model. It owns the probe
(core.probe.TextProbe) and the step selected; `traced` tells who follows the typed text (the
comparison with a second text) that a new trace is shown."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from rnnviz.core.corpus import detokenize
from rnnviz.core.errors import RnnvizError
from rnnviz.core.generate import sample
from rnnviz.core.probe import Probe, TextProbe
from rnnviz.qt.sessions import TrainingSession
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.samples import SamplesView
from rnnviz.qt.views.trajectory import TrajectoryView
from rnnviz.qt.views.typing_panel import TypingPanel
from rnnviz.qt.views.unrolled import UnrolledPanel

# A keystroke's second half (its gradients) comes this long after its first was set: the first
# half's paint, queued meanwhile, runs before it (benchmarks/keystroke_latency.py measures both).
SECOND_HALF_MS = 10


class TypedText(QObject):
    traced = Signal(object)  # the Probe just shown

    def __init__(
        self,
        session: TrainingSession,
        typing: TypingPanel,
        internals: InternalsView,
        unrolled: UnrolledPanel,
        trajectory: TrajectoryView,
        samples: SamplesView,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.session, self.typing, self.internals = session, typing, internals
        self.unrolled, self.trajectory, self.samples = unrolled, trajectory, samples
        self.probe = TextProbe()  # the model the typed text is read with
        self._last = Probe(None, 0, False, ())  # the typed text's last trace (see `last`)
        self.pending = False  # the last trace is forward-only: its gradients are still to come
        self.selected: int | None = None  # the step selected in the views
        self.stepped = False  # the selection is the step-through's (it ends when that is left)
        self.text: str | None = None  # the typed text as last read (it may be megabytes)

    @property
    def last(self) -> Probe:
        """The typed text's last trace, with its gradients (computed now if they are pending)."""
        self.complete()
        return self._last

    def retrace(self, *_args, first_look: bool = False, later_ms: int | None = SECOND_HALF_MS) -> None:
        """Trace the typed text and show it in every view. first_look (a keystroke, new weights
        while training): the forward pass is shown at once (states, gates, predictions) and the
        gradients, the attribution, the step-through and the continuation `later_ms` later
        (complete(); None: when the caller calls it, as the window's next frame does; or sooner,
        if asked)."""
        self.text = self.typing.editor.toPlainText()  # read once a keystroke
        target = self.typing.target_token()
        if first_look and not self.probe.interventions:
            probe = self.probe.run(self.text, target, gradients=False)
            if probe.trace is not None and not probe.trace.gradients:
                if self._show_forward(probe) and later_ms is not None:
                    QTimer.singleShot(later_ms, self, self.complete)
                return
        probe = self.probe.run(self.text, target)
        if self._show_forward(probe):
            self._show_backward(probe, bars=False)  # (set with the states)

    def complete(self) -> None:
        """The gradients of a forward-only trace, and every view that needs them."""
        if self.pending:
            probe = self.probe.run(self.text or "", self.typing.target_token())  # the forward pass is kept
            if self._show_forward(probe, states=False):
                self._show_backward(probe, bars=True)

    def _show_forward(self, probe: Probe, states: bool = True) -> bool:
        """What the forward pass shows (states and gates when `states`, the predictions); False
        when the outputs are not finite (said in the typing panel)."""
        self._last, tr = probe, probe.trace
        self.pending = tr is not None and not tr.gradients
        if tr is not None and not np.isfinite(tr.probs).all():
            self.pending = False
            self.typing.info.setText(
                "The model's outputs are not finite (its weights diverged): restore them or press Reset."
            )
            return False
        if tr is None:
            self.selected = None
            self.internals.clear()
        elif states:
            if self.selected is not None and self.selected >= tr.steps:
                self.selected = None
            self.internals.set_trace(tr)
            self.internals.set_selected(self.selected)
            self.trajectory.set_trace(tr)
        if states:  # (the predictions of the second half are those shown)
            self.typing.show_probe(probe, self.selected)
        return True

    def _show_backward(self, probe: Probe, bars: bool) -> None:
        """What needs the gradients: the gradient bars (with `bars`), the attribution, the
        step-through, and (last) the continuation and whoever follows the typed text."""
        tr = probe.trace
        if tr is not None:
            if bars:
                self.internals.set_gradients(tr)
        else:
            self.trajectory.set_trace(None)
        self.typing.show_attribution(tr)
        self.show_unrolled()
        self.update_continuation()
        self.traced.emit(probe)

    def show_unrolled(self) -> None:
        """The unrolled view follows the typed text (when shown: it is drawn by hand)."""
        if not self.unrolled.isVisible():
            if self.stepped:  # the step-through's selection ends when it is left
                self.stepped = False
                self.select_step(self.selected)
            return
        self.unrolled.set_trace(
            self.last.trace, self.probe.weights, self.session.loss_mode(), self.probe.interventions
        )

    def update_continuation(self) -> None:
        t = self.typing
        try:
            more = self.probe.continuation(self.last, t.cont_len.value(), t.temperature.value(), seed=0)
        except RnnvizError as exc:
            t.continuation.setText(str(exc))
            return
        t.show_continuation(t.editor.toPlainText() if self.text is None else self.text, more)

    @Slot(int)
    def show_step(self, t: int) -> None:
        """The step-through reached step t: select it in every other view."""
        self.selected, self.stepped = t, True
        self.internals.set_selected(t)
        self.typing.show_probe(self.last, t)

    @Slot(int)
    def select_step(self, t: int | None) -> None:
        """Select step t (None: none; the selected step again: none)."""
        self.stepped = False
        self.selected = None if t == self.selected else t
        self.internals.set_selected(self.selected)
        self.typing.show_probe(self.last, self.selected)

    def move_selection(self, to: str, by: int = 1) -> bool:
        """The window's step keys: to "left"/"right" (`by` steps), "first" or "last"; False when
        there is nothing to select."""
        tr = self.last.trace
        if tr is None or tr.steps == 0:
            return False
        cur = tr.steps - 1 if self.selected is None else self.selected
        target = {"left": cur - by, "right": cur + by, "first": 0, "last": tr.steps - 1}[to]
        self.show_step(max(0, min(target, tr.steps - 1)))
        return True

    def set_text(self, text: str) -> None:
        """Replace the typed text (the cursor at its end); the views follow."""
        editor = self.typing.editor
        editor.setPlainText(text)
        editor.moveCursor(editor.textCursor().MoveOperation.End)

    def sample(self, force: bool = False) -> None:
        """A sample from the model (with the interventions), when the Samples tab is shown and due."""
        snap, w = self.session.latest, self.probe.weights
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
