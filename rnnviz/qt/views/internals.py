"""InternalsView: everything inside the network on the typed text, one trace at a time.

Hidden state h of every layer (and the LSTM cell state c beside it), the gates of a chosen
layer, and ||dL/dh_t||, stacked in a splitter. Clicking any step selects it everywhere.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.config import ModelConfig
from rnnviz.core.trace import Trace
from rnnviz.qt.views.common import POSITIVE, SIGNED, readout_label
from rnnviz.qt.views.gradients import GradientBars
from rnnviz.qt.views.heatmap import SequenceHeatmap

GATE_TITLES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
}
TANH_GATES = ("g", "n")
GATE_MIN_HEIGHT = 95  # px: a gate heatmap, with its title and token labels
INSIDE_MIN_HEIGHT = 500  # px: below this (a 1366x768 screen) the views scroll
STATE_MIN_HEIGHT = (
    140  # px per state heatmap; more layers scroll  # in [-1, 1]; the others are sigmoids in [0, 1]
)


HINT = "Hover for exact values; click a step to select it (a unit of h or c: see the Units tab)."


class InternalsView(QWidget):
    step_clicked = Signal(int)
    unit_clicked = Signal(int, int, str)  # layer (from 0), unit, "h" or "c": a cell of a state heatmap

    def __init__(self, parent=None):
        super().__init__(parent)
        self.cfg: ModelConfig | None = None
        self.trace: Trace | None = None
        self.selected: int | None = None
        self.h_maps: list[SequenceHeatmap] = []
        self.c_maps: list[SequenceHeatmap] = []
        self.gate_maps: dict[str, SequenceHeatmap] = {}
        self.states = QWidget()
        self.states_grid = QGridLayout(self.states)
        self.states_grid.setContentsMargins(0, 0, 0, 0)
        self.states_grid.setSpacing(2)
        self.gates = QWidget()
        gates_lay = QVBoxLayout(self.gates)
        gates_lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        self.gates_label = QLabel("Gates of layer")
        self.layer_box = QComboBox()
        self.layer_box.currentIndexChanged.connect(self._show_gates)
        head.addWidget(self.gates_label)
        head.addWidget(self.layer_box)
        head.addStretch(1)
        gates_lay.addLayout(head)
        self.gates_grid = QGridLayout()
        self.gates_grid.setSpacing(2)
        gates_lay.addLayout(self.gates_grid, 1)
        self.grads = GradientBars()
        self.grads.glw.setMinimumHeight(GATE_MIN_HEIGHT + 10)
        self.grads.step_clicked.connect(self.step_clicked)
        self.grads.hovered.connect(self._on_hovered)
        self.readout = readout_label()
        self._on_hovered("")
        states_scroll = QScrollArea()  # 2-3 layers stay readable: each heatmap keeps a minimum height
        states_scroll.setWidget(self.states)
        states_scroll.setWidgetResizable(True)
        states_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        states_scroll.setMinimumHeight(130)  # never squeezed away by the gates
        split = QSplitter(Qt.Orientation.Vertical)
        for w in (states_scroll, self.gates, self.grads):
            split.addWidget(w)
        split.setSizes([300, 220, 150])
        for k, stretch in enumerate((2, 3, 1)):  # the four gates share their part
            split.setStretchFactor(k, stretch)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        split.setMinimumHeight(INSIDE_MIN_HEIGHT)
        page = QScrollArea()  # a small screen scrolls the views rather than crushing them
        page.setWidget(split)
        page.setWidgetResizable(True)
        page.setFrameShape(QScrollArea.Shape.NoFrame)
        page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay.addWidget(page, 1)
        lay.addWidget(self.readout)

    def _heatmap(self, title, value, cmap, levels) -> SequenceHeatmap:
        m = SequenceHeatmap(title, value, cmap, levels)
        m.step_clicked.connect(self.step_clicked)
        m.hovered.connect(self._on_hovered)
        return m

    def _on_hovered(self, text: str) -> None:
        self.readout.setText(text or HINT)

    def set_model(self, cfg: ModelConfig) -> None:
        """Build one heatmap per layer and state, and one per gate."""
        if cfg == self.cfg:
            return
        self.cfg, self.trace = cfg, None
        for m in (*self.h_maps, *self.c_maps, *self.gate_maps.values()):
            m.setParent(None)
            m.deleteLater()
        h_levels = None if cfg.arch == "rnn" and cfg.nonlinearity == "relu" else (-1.0, 1.0)
        self.h_maps = [
            self._heatmap(f"hidden state h, layer {n + 1}", "h", SIGNED, h_levels) for n in range(cfg.layers)
        ]
        self.c_maps = (
            [self._heatmap(f"cell state c, layer {n + 1}", "c", SIGNED, None) for n in range(cfg.layers)]
            if cfg.arch == "lstm"
            else []
        )
        for m in (*self.h_maps, *self.c_maps):
            m.setMinimumHeight(STATE_MIN_HEIGHT)
        for n, m in enumerate(self.h_maps):
            self.states_grid.addWidget(m, n, 0)
            m.cell_clicked.connect(lambda _t, u, n=n: self.unit_clicked.emit(n, u, "h"))
        for n, m in enumerate(self.c_maps):
            self.states_grid.addWidget(m, n, 1)
            m.cell_clicked.connect(lambda _t, u, n=n: self.unit_clicked.emit(n, u, "c"))
        self.gate_maps = {}
        for k, g in enumerate(cfg.gates):
            tanh = g in TANH_GATES
            m = self._heatmap(
                GATE_TITLES[g], g, SIGNED if tanh else POSITIVE, (-1.0, 1.0) if tanh else (0.0, 1.0)
            )
            m.glw.setMinimumHeight(GATE_MIN_HEIGHT)
            self.gates_grid.addWidget(m, k // 2, k % 2)
            self.gate_maps[g] = m
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems([str(n + 1) for n in range(cfg.layers)])
        self.layer_box.blockSignals(False)
        self.gates.setVisible(bool(cfg.gates))

    def set_trace(self, tr: Trace) -> None:
        self.set_model(tr.cfg)
        self.trace = tr
        unknown = tr.unknown
        for n, m in enumerate(self.h_maps):
            m.set_data(tr.h[n], tr.tokens, unknown)
        for n, m in enumerate(self.c_maps):
            m.set_data(tr.c[n], tr.tokens, unknown)
        self._show_gates()
        self.grads.set_grads(tr.grad_h, tr.tokens, tr.target_step, tr.loss_label)

    def clear(self) -> None:
        """No text to show."""
        self.trace = None
        for m in (*self.h_maps, *self.c_maps, *self.gate_maps.values(), self.grads):
            m.clear()

    def _show_gates(self) -> None:
        tr, n = self.trace, max(self.layer_box.currentIndex(), 0)
        if tr is None:
            return
        for g, m in self.gate_maps.items():
            m.set_data(tr.gates[g][n], tr.tokens, tr.unknown)

    def set_selected(self, t: int | None) -> None:
        self.selected = t
        for m in (*self.h_maps, *self.c_maps, *self.gate_maps.values(), self.grads):
            m.set_selected(t)
