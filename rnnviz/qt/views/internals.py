"""InternalsView: everything inside the network on the typed text, one trace at a time.

Hidden state h of every layer (and the LSTM cell state c, or the selective SSM's state s, beside
it) or the gates of a chosen layer, above ||dL/dh_t|| (the SSM: ||dL/ds_t||, its state carries
time). The SSM's state is H x N numbers a step: one row per channel, either the norm of the
channel's N numbers or the one of them the "state s" box picks. Clicking any step selects it
everywhere; double-clicking a plot maximises it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
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
from rnnviz.qt.views.common import POSITIVE, SIGNED, compact, readout_label
from rnnviz.qt.views.gradients import GradientBars
from rnnviz.qt.views.heatmap import SequenceHeatmap, positive_levels, robust_levels
from rnnviz.qt.views.step_plot import StepPlot

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
P = "\u2032"  # prime: minLSTM's normalised gates f', i'
FRACTION = (0.0, 1.0)  # a sigmoid gate's levels
# A modern cell's gates (core.config.GATES): (title, value name, colour map, levels, rows).
MODERN_GATES = {
    "mingru": {"z": ("update gate z", "z", POSITIVE, FRACTION, "unit")},
    "minlstm": {
        "f": (f"forget gate f{P} (normalised: f{P} + i{P} = 1)", f"f{P}", POSITIVE, FRACTION, "unit"),
        "i": (f"input gate i{P} (normalised)", f"i{P}", POSITIVE, FRACTION, "unit"),
    },
    "ssm": {  # Delta > 0 (softplus) on its own levels; B_t and C_t have N entries, signed
        "delta": ("step size \u0394 (softplus: > 0)", "\u0394", POSITIVE, positive_levels, "unit"),
        "B": ("B_t: input \u2192 state (N entries)", "B", SIGNED, robust_levels, "n"),
        "C": ("C_t: state \u2192 output (N entries)", "C", SIGNED, robust_levels, "n"),
    },
}
HEATMAP_MIN_HEIGHT = 150  # px: a heatmap's widget; its image is then >= PLOT_MIN_HEIGHT tall
PLOT_MIN_HEIGHT = 90  # px: the drawn height of every heatmap and of the gradient bars
SHOW = ("h and c", "gates", "everything (scrolls)")  # what the Show box offers (its first: the states)


def gate_style(cfg: ModelConfig, g: str) -> tuple:
    """(title, value name, colour map, levels, rows) of gate `g`'s heatmap."""
    if g in MODERN_GATES.get(cfg.arch, {}):
        return MODERN_GATES[cfg.arch][g]
    tanh = g in TANH_GATES
    return GATE_TITLES[g], g, SIGNED if tanh else POSITIVE, (-1.0, 1.0) if tanh else (0.0, 1.0), "unit"


def states_title(cfg: ModelConfig) -> str:
    """The Show box's first choice: the states of this cell."""
    return {"lstm": "h and c", "ssm": "h and s"}.get(cfg.arch, "h")


def h_title(cfg: ModelConfig, n: int) -> str:
    if cfg.arch == "ssm":  # h = y * silu(gate): the layer's output, not its state
        return f"{cfg.name} output h, layer {n + 1}"
    return f"{cfg.name} hidden state h, layer {n + 1}" if cfg.modern else f"hidden state h, layer {n + 1}"


HINT = "Hover: values \u00b7 click: select a step, or a unit (Units tab) \u00b7 double-click: maximise"


class InternalsView(QWidget):
    """The states (h, and c or s beside it, one row per layer) or the gates of one layer, as the
    Show box chooses, above ||dL/dh_t|| (||dL/ds_t||): what is shown is never squeezed below
    PLOT_MIN_HEIGHT."""

    step_clicked = Signal(int)
    unit_clicked = Signal(int, int, str)  # layer (from 0), unit, "h", "c" or "s": a cell of a state heatmap

    def __init__(self, parent=None, hint: str = HINT):
        super().__init__(parent)
        self.cfg: ModelConfig | None = None
        self.trace: Trace | None = None
        self.selected: int | None = None
        self.hint = hint
        self.maximised: StepPlot | None = None
        self._stacked: bool | None = None  # one layer: c under h (True) or beside it
        self._gates_stale = False  # the gate maps wait for the trace until they are shown
        self._stale = False  # the maps wait for the trace until the view is shown (another tab is)
        self._difference = False  # the maps show A - B (set_difference)
        self.h_maps: list[SequenceHeatmap] = []
        self.c_maps: list[SequenceHeatmap] = []
        self.s_maps: list[SequenceHeatmap] = []  # the SSM's state s, one per layer (s_box: which view)
        self.gate_maps: dict[str, SequenceHeatmap] = {}
        self.states = QWidget()
        self.states_grid = QGridLayout(self.states)
        self.states_grid.setContentsMargins(0, 0, 0, 0)
        self.states_grid.setSpacing(2)
        self.gates = QWidget()
        self.gates_grid = QGridLayout(self.gates)
        self.gates_grid.setContentsMargins(0, 0, 0, 0)
        self.gates_grid.setSpacing(2)
        self.head = QWidget()
        head = QHBoxLayout(self.head)
        head.setContentsMargins(0, 0, 0, 0)
        self.show_box = QComboBox()
        self.show_box.addItems(SHOW)
        self.show_box.setToolTip("What the view shows: every plot shown keeps a readable height")
        self.show_box.currentIndexChanged.connect(self._arrange)
        self.gates_label = QLabel("gates of layer")
        self.layer_box = QComboBox()
        self.layer_box.currentIndexChanged.connect(self._show_gates)
        self.s_label = QLabel("state s:")
        self.s_box = compact(QComboBox(), 18)  # the SSM: each channel's state norm, or one index n of N
        self.s_box.setToolTip(
            "The selective SSM's state is N numbers per channel and step: draw the norm of each "
            "channel's N numbers, or the one at index n"
        )
        self.s_box.currentIndexChanged.connect(self._on_s_view)
        for w in (QLabel("Show"), self.show_box, self.gates_label, self.layer_box, self.s_label, self.s_box):
            head.addWidget(w)
        head.addStretch(1)
        self.grads = GradientBars()
        self.grads.glw.setMinimumHeight(HEATMAP_MIN_HEIGHT + 5)  # its title is taller
        self._connect(self.grads)
        self.readout = readout_label()
        self._on_hovered("")
        body = QWidget()
        body_lay = QVBoxLayout(body)
        body_lay.setContentsMargins(0, 0, 0, 0)
        body_lay.setSpacing(2)
        body_lay.addWidget(self.states, 2)
        body_lay.addWidget(self.gates, 2)
        self.page = QScrollArea()  # scrolls only when the screen is too small for what is shown
        self.page.setWidget(body)
        self.page.setWidgetResizable(True)
        self.page.setFrameShape(QScrollArea.Shape.NoFrame)
        self.page.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.page)
        self.split.addWidget(self.grads)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 1)
        self.split.setChildrenCollapsible(False)
        self.split.setSizes([3000, 1000])  # in proportion, whatever the height
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.head)
        lay.addWidget(self.split, 1)
        lay.addWidget(self.readout)
        esc = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        esc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        esc.activated.connect(lambda: self.maximise(None))

    def _connect(self, m: StepPlot) -> None:
        m.step_clicked.connect(self.step_clicked)
        m.hovered.connect(self._on_hovered)
        m.maximise_requested.connect(lambda m=m: self.maximise(None if self.maximised is m else m))

    def maximise(self, plot: StepPlot | None) -> None:
        """Show `plot` alone, as large as the view (None: everything as before)."""
        self.maximised = plot
        if plot is None:
            self._arrange()
            return
        for m in self._plots():
            m.setVisible(m is plot)
        self.head.setVisible(False)
        self.page.setVisible(plot is not self.grads)
        self.states.setVisible(plot in self.h_maps or plot in self._second())
        self.gates.setVisible(plot in self.gate_maps.values())
        if self._gates_stale and not self.gates.isHidden():
            self._show_gates()
        self.readout.setText("Maximised: double-click the plot or press Esc to return.")
        plot.setFocus()

    def _plots(self) -> list[StepPlot]:
        return [*self._maps(), self.grads]

    def _maps(self) -> list[SequenceHeatmap]:
        return [*self.h_maps, *self.c_maps, *self.s_maps, *self.gate_maps.values()]

    def _second(self) -> list[SequenceHeatmap]:
        """The state drawn beside h: the LSTM's c, the SSM's s (or nothing)."""
        return self.c_maps or self.s_maps

    def _arrange(self) -> None:
        """Show what the Show box asks for (and end a maximised plot)."""
        self.maximised = None
        mode = self.show_box.currentIndex() if self.gate_maps else 0
        for m in self._plots():
            m.setVisible(True)
        self.head.setVisible(bool(self.gate_maps))  # nothing to choose without gates
        self.page.setVisible(True)
        self.states.setVisible(mode != 1)
        self.gates.setVisible(mode != 0)
        layers = self.layer_box.count() > 1  # one layer: nothing to choose
        self.gates_label.setVisible(mode != 0 and layers)
        self.layer_box.setVisible(mode != 0 and layers)
        self.s_label.setVisible(bool(self.s_maps) and mode != 1)
        self.s_box.setVisible(bool(self.s_maps) and mode != 1)
        if self._gates_stale and mode != 0:
            self._show_gates()
        self._on_hovered("")

    def _heatmap(self, title, value, cmap, levels, rows: str = "unit") -> SequenceHeatmap:
        m = SequenceHeatmap(title, value, cmap, levels, rows=rows)
        m.setMinimumHeight(HEATMAP_MIN_HEIGHT)
        self._connect(m)
        return m

    def _on_hovered(self, text: str) -> None:
        if text or self.maximised is None:
            self.readout.setText(text or self.hint)

    def set_model(self, cfg: ModelConfig) -> None:
        """Build one heatmap per layer and state, and one per gate."""
        if cfg == self.cfg:
            return
        self.cfg, self.trace = cfg, None
        for m in self._maps():
            m.setParent(None)
            m.deleteLater()
        h_levels = None if cfg.arch == "rnn" and cfg.nonlinearity == "relu" else (-1.0, 1.0)
        h_levels = robust_levels if cfg.modern else h_levels  # unbounded: h~ is linear; the S6's y too
        self.h_maps = [self._heatmap(h_title(cfg, n), "h", SIGNED, h_levels) for n in range(cfg.layers)]
        self.c_maps = (
            [self._heatmap(f"cell state c, layer {n + 1}", "c", SIGNED, None) for n in range(cfg.layers)]
            if cfg.arch == "lstm"
            else []
        )
        self.s_maps = [self._heatmap("", "s", POSITIVE, positive_levels) for _ in range(cfg.layers)] if (
            cfg.arch == "ssm") else []  # fmt: skip
        for n, m in enumerate(self.h_maps):
            self.states_grid.addWidget(m, n, 0)
            m.cell_clicked.connect(lambda _t, u, n=n: self.unit_clicked.emit(n, u, "h"))
        self._stacked = None
        name = "c" if self.c_maps else "s"  # the Units tab's s: a channel's state norm
        for n, m in enumerate(self._second()):  # one layer: c (s) under h when there is room (_place_c)
            self.states_grid.addWidget(m, n, 1)
            m.cell_clicked.connect(lambda _t, u, n=n: self.unit_clicked.emit(n, u, name))
        self.gate_maps = {}
        wide = cfg.arch == "ssm"  # the S6: Delta (H rows) as wide as the view, B and C (N rows) below
        for k, g in enumerate(cfg.gates):
            title, value, cmap, levels, rows = gate_style(cfg, g)
            m = self._heatmap(title, value, cmap, levels, rows)
            if wide:
                self.gates_grid.addWidget(m, *((0, 0, 1, 2) if k == 0 else (1, k - 1)))
            else:
                self.gates_grid.addWidget(m, k // 2, k % 2)
            self.gate_maps[g] = m
        self.show_box.setItemText(0, states_title(cfg))
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems([str(n + 1) for n in range(cfg.layers)])
        self.layer_box.blockSignals(False)
        self.s_box.blockSignals(True)
        self.s_box.clear()
        if self.s_maps:
            norm = f"\u2016s\u2016 (norm of N = {cfg.state})"  # a channel's state row's norm
            self.s_box.addItems([norm, *(f"n = {k}" for k in range(cfg.state))])
        self.s_box.blockSignals(False)
        self._style_s()
        self._arrange()
        self._place_c()

    def _place_c(self) -> None:
        """One layer: c under h, both as wide as the view, when the height holds both at their
        minimum; else beside it (a 1366x768 screen), rather than below a scroll."""
        second = self._second()
        if len(second) != 1:
            return
        stacked = self.split.sizes()[0] >= 2 * HEATMAP_MIN_HEIGHT + 4
        if stacked != self._stacked:
            self._stacked = stacked
            self.states_grid.removeWidget(second[0])
            self.states_grid.addWidget(second[0], *((1, 0) if stacked else (0, 1)))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_c()

    def set_difference(self, on: bool) -> None:
        """Show differences (A - B, signed, levels fitted to the data) or values (the usual maps)."""
        if self.cfg is None:
            return
        if on != self._difference:
            self._difference = on
            self._style_s()
        for m in self._maps():
            m.set_difference(on)

    def set_trace(self, tr: Trace) -> None:
        self.set_model(tr.cfg)
        self.trace = tr
        self._stale = self.window().isVisible() and not self.isVisible()
        if self._stale:  # another tab is shown: the maps are set when this one is (showEvent;
            return  # on the Unrolled tab, ~4 ms of each re-trace with new weights went to them)
        unknown = tr.unknown
        for n, m in enumerate(self.h_maps):
            m.set_data(tr.h[n], tr.tokens, unknown)
        for n, m in enumerate(self.c_maps):
            m.set_data(tr.c[n], tr.tokens, unknown)
        self._show_state()
        self._show_gates()
        if tr.gradients:  # a forward-only trace: the gradients follow (set_gradients)
            self.set_gradients(tr)

    def state_shown(self, n: int) -> np.ndarray:
        """The SSM's state of layer n as its heatmap draws it, (T, H): each channel's state row's
        norm ||s_t[u, :]||, or its entry at the index the state box picks."""
        assert self.trace is not None and self.trace.state is not None
        s, k = self.trace.state[n], self.s_box.currentIndex() - 1  # (T, H, N); -1: the norm
        return np.sqrt((s * s).sum(-1)) if k < 0 else s[:, :, k]

    def _show_state(self) -> None:
        tr = self.trace
        if tr is None or tr.state is None or not self.s_maps:
            return
        for n, m in enumerate(self.s_maps):
            m.set_data(self.state_shown(n), tr.tokens, tr.unknown)

    def _style_s(self) -> None:
        """The state maps' titles, maps and levels for the state box's choice: the norm is >= 0
        (sequential, from 0), an entry signed (diverging, symmetric)."""
        cfg, k = self.cfg, self.s_box.currentIndex() - 1
        for n, m in enumerate(self.s_maps):
            assert cfg is not None
            if k < 0:  # (short titles: the layer's number must fit at 1366 x 768 too)
                s = "s_A \u2212 s_B" if self._difference else "s_t"  # A - B: how far apart the states are
                m.restyle(
                    f"{cfg.name} state \u2016{s}[u, :]\u2016, layer {n + 1}",
                    "\u2016s\u2016",
                    POSITIVE,
                    positive_levels,
                )
            else:
                m.restyle(
                    f"{cfg.name} state s_t[u, n = {k}], layer {n + 1}", f"s[{k}]", SIGNED, robust_levels
                )

    def _on_s_view(self, _index: int) -> None:
        self._style_s()
        self._show_state()

    def set_gradients(self, tr: Trace) -> None:
        """The gradient bars of `tr`, whose states are shown already (the same text, the same
        forward pass: the second half of a keystroke). The SSM: ||dL/ds_t||, its state's."""
        self.trace = tr
        if self._stale:
            return  # (set with the states when shown)
        ssm = tr.grad_state is not None
        self.grads.set_what("s" if ssm else "h")
        grad = tr.grad_state if tr.grad_state is not None else tr.grad_h
        self.grads.set_grads(grad, tr.tokens, tr.target_step, tr.loss_label, tr.unknown)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale and self.trace is not None:  # the trace that came while another tab was shown
            self.set_trace(self.trace)
            self.set_selected(self.selected)

    def clear(self) -> None:
        """No text to show."""
        self.trace, self._stale = None, False
        for m in self._plots():
            m.clear()

    def _show_gates(self) -> None:
        """The gates of the chosen layer, when they are shown (hidden, they are set when shown:
        ~1.5 ms a keystroke at 2x256, 200 tokens)."""
        tr, n = self.trace, max(self.layer_box.currentIndex(), 0)
        self._gates_stale = tr is not None and self.gates.isHidden()
        if tr is None or self._gates_stale:
            return
        for g, m in self.gate_maps.items():
            m.set_data(tr.gates[g][n], tr.tokens, tr.unknown)

    def set_selected(self, t: int | None) -> None:
        self.selected = t
        for m in self._plots():
            m.set_selected(t)
