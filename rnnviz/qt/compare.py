"""CompareController: a second text (B) beside the typed one (A). It traces B with the model the
typed text is read with, shows A, B or A - B in the Inside views (aligned at their ends), B's
next tokens under A's, and fills the Patching tab (core.patch) when it is shown, a moment after
the texts or the weights stop changing. A controller, not a mixin: its state is declared here and
it is handed the views and the probe it works with."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from rnnviz.core.errors import RnnvizError
from rnnviz.core.patch import Patching, difference, patch, unit_effects
from rnnviz.core.probe import Probe, TextProbe

PATCH_DELAY_MS = 300  # the patching matrix is recomputed once typing pauses this long


class CompareController(QObject):
    def __init__(self, probe: TextProbe, typing, internals, view, inside, parent=None):
        """probe: the typed text's (B follows its model); typing: the TypingPanel; internals: the
        InternalsView; view: the PatchingView; inside: the tab widget holding it."""
        super().__init__(parent)
        self.probe, self.typing, self.internals = probe, typing, internals
        self.view, self.inside = view, inside
        self.probe_b = TextProbe()
        self.text_b = ""
        self.mode = 0  # what the Inside views show: 0 A, 1 B, 2 A - B
        self.state = "both"  # what is patched: "h", "c" (LSTM), "s" (S6) or "both"
        self.last_a: Probe | None = None
        self.last_b: Probe | None = None
        self.patching: Patching | None = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(PATCH_DELAY_MS)
        self.timer.timeout.connect(self.update_patching)
        typing.compare_changed.connect(self._on_text)
        typing.compare_mode_changed.connect(self._on_mode)
        view.state_changed.connect(self._on_state)
        view.cell_clicked.connect(self.show_units)
        inside.currentChanged.connect(lambda _i: self._schedule())

    # ---- the typed text changed, or the weights: called after the window traced A -----------------
    def follow(self, a: Probe) -> None:
        """Trace B beside A's probe `a`, and show what the mode asks for."""
        self.last_a = a
        self.probe_b.follow(self.probe)
        self.last_b = self.probe_b.run(self.text_b, self.typing.target_token()) if self.text_b else None
        self.typing.show_compared(self.last_b)
        if self.probe.weights is not None:
            self.view.set_arch(self.probe.weights.cfg.arch)
        self._show_inside()
        self._schedule()

    def shows_a(self) -> bool:
        """The Inside views show the typed text A (not B, nor A - B)."""
        return self.mode == 0 or not self.text_b

    def _show_inside(self) -> None:
        a = self.last_a.trace if self.last_a is not None else None
        b = self.last_b.trace if self.last_b is not None else None
        mode = self.mode if b is not None else 0
        self.internals.set_difference(mode == 2 and a is not None)
        if mode == 1:
            self.internals.set_trace(b)
        elif mode == 2 and a is not None:
            self.internals.set_trace(difference(a, b))

    # ---- patching -----------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self.view.isVisible():
            self.timer.start()

    def update_patching(self) -> None:
        a = self.last_a.trace if self.last_a is not None else None
        b = self.last_b.trace if self.last_b is not None else None
        w = self.probe.weights
        if a is None or b is None or w is None:
            self.patching = None
            self.view.show_message(
                "Type a text above (A) and a second one in 'compare with' (B): this view shows which "
                "state, at which layer and step, carries the difference in A's prediction."
            )
            return
        tid = None if self.typing.target_token() is None else a.target_id
        try:
            self.patching = patch(w, a.ids, b.ids, tid, self.state, a.vocab, a.tokens, b.tokens)
        except RnnvizError as exc:
            self.patching = None
            self.view.show_message(str(exc))
            return
        self.view.set_patching(self.patching)

    def show_units(self, layer: int, t: int) -> None:
        """The clicked cell, unit by unit."""
        p, a, b = self.patching, self.last_a, self.last_b
        if p is None or a is None or b is None or a.trace is None or b.trace is None:
            return
        if p.clean_step(t) is None:
            self.view.clear_units()
            return
        w = self.probe.weights
        self.view.set_units(layer, t, unit_effects(w, a.trace.ids, b.trace.ids, p, layer, t))

    # ---- controls -----------------------------------------------------------------------------
    def _on_text(self, text: str) -> None:
        self.text_b = text
        if self.last_a is not None:
            self.follow(self.last_a)

    def _on_mode(self, mode: int) -> None:
        self.mode = mode
        if self.last_a is not None and self.last_a.trace is not None:
            self.internals.set_difference(False)
            self.internals.set_trace(self.last_a.trace)  # A first: B and A - B are drawn over it
        self._show_inside()

    def _on_state(self, state: str) -> None:
        self.state = state
        self.update_patching()
