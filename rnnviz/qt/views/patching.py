"""PatchingView: where the difference between the typed text (A, clean) and the compared one (B,
corrupted) is carried. A heatmap over (step of B, layer) of the effect on log p(target) of running
B with that layer's state at that step replaced by A's (core.patch: 1 = B's prediction becomes
A's, 0 = no change); click a cell for the effect unit by unit. It renders a core.patch.Patching
and per-unit effects, and computes nothing.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from rnnviz.core.patch import Patching
from rnnviz.qt.views.common import PALETTE, fmt, readout_label, show_token
from rnnviz.qt.views.heatmap import SequenceHeatmap

# What can be patched, per architecture: (the choice's text, core.patch's state). An RNN, GRU, minGRU
# and minLSTM have h alone (their whole state); the S6's h is its output, s its state.
CHOICES = {
    "lstm": (("h and c", "both"), ("h only", "h"), ("c only", "c")),
    "ssm": (("s and h", "both"), ("s only (the state)", "s"), ("h only (the output)", "h")),
}
WHOLE = (("h (the whole state)", "both"),)
HINT = "Hover: the effect \u00b7 click a cell: the effect of each unit of it alone"
EMPTY = "Type a text above and a second one in 'compare with' (B): this view shows where they differ."


class EffectMap(SequenceHeatmap):
    """Steps of B left to right, layers top to bottom."""

    def __init__(self):
        super().__init__("effect of A's state on log p(target) in B's run", "effect", "signed", None)
        self.plot.setLabel("left", "layer")
        self.patching: Patching | None = None

    def set_patching(self, p: Patching) -> None:
        self.patching = p
        data = np.nan_to_num(p.effect.T, nan=0.0)  # (T, L): a step facing no step of A changes nothing
        self.set_data(data, p.corrupt_tokens)
        L = p.effect.shape[0]
        self.plot.getAxis("left").setTicks([[(n + 0.5, str(n + 1)) for n in range(L)], []])

    def _on_hover(self, x: float, y: float) -> None:
        cell, p = self._cell(x, y), self.patching
        if cell is None or p is None:
            self.hovered.emit("")
            return
        t, n = cell
        s = p.clean_step(t)
        if s is None:
            self.hovered.emit(
                f"layer {n + 1}, step {t} of B {show_token(p.corrupt_tokens[t])!r}: no step of A faces it"
            )
            return
        self.hovered.emit(
            f"layer {n + 1}, step {t} of B {show_token(p.corrupt_tokens[t])!r} \u2190 A's step {s} "
            f"{show_token(p.clean_tokens[s])!r}: effect {fmt(float(p.effect[n, t]))}"
        )


class PatchingView(QWidget):
    state_changed = Signal(str)  # "both", "h", "c" or "s"
    cell_clicked = Signal(int, int)  # layer, step of B

    def __init__(self, parent=None):
        super().__init__(parent)
        self.caption = QLabel(EMPTY)
        self.caption.setWordWrap(True)
        self.arch = "lstm"
        self.state = QComboBox()
        for text, state in CHOICES["lstm"]:
            self.state.addItem(text, state)
        self.state.setToolTip(
            "What of A's state is put into B's run: h, an LSTM's cell state c or an S6's state s "
            "(the S6's h is its output, which its later steps do not read), or all of it"
        )
        self.state.currentIndexChanged.connect(self._on_choice)
        self.map = EffectMap()
        self.map.cell_clicked.connect(lambda t, n: self.cell_clicked.emit(n, t))
        self.units = pg.PlotWidget()
        self.units.setMinimumHeight(150)
        self.units.setMenuEnabled(False)
        self.units.setLabel("bottom", "unit")
        self.units.setLabel("left", "effect")
        for side in ("left", "bottom"):
            self.units.getAxis(side).enableAutoSIPrefix(False)
        self.units.setTitle("click a cell above", size="9pt")
        self.unit_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=PALETTE[0])
        self.units.addItem(self.unit_bars)
        self.unit_effects: np.ndarray | None = None
        self.readout = readout_label()
        self.readout.setText(HINT)
        self.map.hovered.connect(lambda text: self.readout.setText(text or HINT))
        head = QHBoxLayout()
        head.addWidget(QLabel("Patch"))
        head.addWidget(self.state)
        head.addWidget(self.caption, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.map, 3)
        lay.addWidget(self.units, 2)
        lay.addWidget(self.readout)

    def _on_choice(self, index: int) -> None:
        if index >= 0:
            self.state_changed.emit(self.state.itemData(index))

    def set_arch(self, arch: str) -> None:
        """Offer what this architecture has to patch; the choice stays where it still exists (else
        "both", the whole state), and a changed choice is announced."""
        if arch == self.arch:
            return
        before = self.state.currentData()
        self.arch = arch
        self.state.blockSignals(True)
        self.state.clear()
        for text, state in CHOICES.get(arch, WHOLE):
            self.state.addItem(text, state)
        self.state.setCurrentIndex(max(self.state.findData(before), 0))
        self.units.setLabel("bottom", "channel" if arch == "ssm" else "unit")
        self.state.blockSignals(False)
        if self.state.currentData() != before:
            self.state_changed.emit(self.state.currentData())

    def set_patching(self, p: Patching) -> None:
        self.map.set_patching(p)
        aligned = (
            f" The texts differ in length: aligned at their ends ({abs(p.offset)} step"
            f"{'s' if abs(p.offset) != 1 else ''} apart)."
            if p.offset
            else ""
        )
        self.caption.setText(
            f"Target {show_token(p.target)!r}: log p {p.clean_logp:.3f} after A, "
            f"{p.corrupt_logp:.3f} after B. "
            f"Each cell: B's run with A's state put in at that layer and step, every later step redone; "
            f"1 = B's prediction becomes A's.{aligned}"
        )
        self.clear_units()

    def set_units(self, layer: int, t: int, effects: np.ndarray) -> None:
        self.unit_effects = effects
        self.unit_bars.setOpts(x=np.arange(len(effects)), height=effects, width=0.8)
        self.units.setTitle(
            f"layer {layer + 1}, step {t} of B: each {'channel' if self.arch == 'ssm' else 'unit'} of the "
            "state patched alone",
            size="9pt",
        )

    def clear_units(self) -> None:
        self.unit_effects = None
        self.unit_bars.setOpts(x=[], height=[])
        self.units.setTitle("click a cell above", size="9pt")

    def show_message(self, text: str) -> None:
        """Nothing to patch (say why): the map empties."""
        self.map.patching = None
        self.map.clear()
        self.clear_units()
        self.caption.setText(text)
