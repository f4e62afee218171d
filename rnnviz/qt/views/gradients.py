"""GradientBars: ||dL/dh_t|| per time step and layer on a log scale, the vanishing gradient made
visible; for the selective SSM ||dL/ds_t||, of the state s that carries time (its h_t is not
recurrent: dL/dh_t is only what the head or the layer above reads)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from rnnviz.qt.views.common import PALETTE, fmt, show_token
from rnnviz.qt.views.step_plot import StepPlot

DECADES_SHOWN = 12  # bars start at most this many decades below the largest norm


class GradientBars(StepPlot):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.grad = np.zeros((1, 0))
        self._decades: tuple[int, int] | None = None
        self._bar_title = ""
        self.what = "h"  # the state whose gradient norm is drawn: "h", or the SSM's "s"
        self.plot.setLabel("left", self.norm_name)
        self.plot.showGrid(y=True, alpha=0.25)
        self.bars: list[pg.BarGraphItem] = []
        self.target_line = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen("#D55E00", style=Qt.PenStyle.DashLine)
        )
        self.target_line.setVisible(False)
        self.plot.addItem(self.target_line)

    def _ensure_layers(self, n: int) -> None:
        while len(self.bars) > n:
            self.plot.removeItem(self.bars.pop())
        while len(self.bars) < n:
            k = len(self.bars)
            bar = pg.BarGraphItem(x=[], height=[], width=0.8, brush=PALETTE[k % len(PALETTE)], pen=None)
            self.plot.addItem(bar)
            self.bars.append(bar)

    @property
    def norm_name(self) -> str:
        return f"||dL/d{self.what}_t||"

    def set_what(self, what: str) -> None:
        """Draw the gradient norms of `what` from now on: "h", or the SSM's state "s"."""
        if what != self.what:
            self.what, self._bar_title = what, ""
            self.plot.setLabel("left", self.norm_name)

    def set_grads(self, grad: np.ndarray, tokens, target_step: int, loss_label: str, unknown=None) -> None:
        """grad: (L, T) norms, zero after target_step; loss_label: what L is, e.g. "-log p('e')";
        unknown: True where a token is not in the vocabulary (its label gets a '?')."""
        L, T = grad.shape
        self._ensure_layers(L)
        tokens = list(tokens)
        unknown = np.zeros(T, bool) if unknown is None else np.asarray(unknown, bool)
        relabel = tokens != self.tokens or self.unknown is None or not np.array_equal(unknown, self.unknown)
        resized = T != len(self.tokens)
        self.grad, self.tokens, self.unknown = grad, tokens, unknown
        positive = grad[grad > 0]
        top = np.log10(positive.max()) if positive.size else 0.0
        low = np.log10(positive.min()) if positive.size else top
        # From just below the smallest norm (at least 2, at most DECADES_SHOWN decades under the top).
        floor = float(np.clip(np.floor(low - 0.5), np.floor(top) - DECADES_SHOWN, np.floor(top) - 2))
        width = 0.8 / L
        for k, bar in enumerate(self.bars):
            g = grad[k]
            ok = g > 0
            logs = np.maximum(np.log10(np.where(ok, g, 1.0)), floor)
            x = np.arange(T)[ok] + 0.1 + width * (k + 0.5)
            bar.setOpts(x=x, height=(logs - floor)[ok], y0=floor, width=width)
        self._set_y_axis(int(floor), int(np.ceil(top)))
        if relabel:
            self._set_ticks()
        if resized:
            self.plot.setLimits(xMin=0, xMax=max(T, 1))
            self.plot.setXRange(0, max(T, 1), padding=0)
        self.target_line.setValue(target_step + 0.5)
        self.target_line.setVisible(True)
        self._set_title(L, target_step, loss_label)

    def _set_y_axis(self, floor: int, top: int) -> None:
        if (floor, top) == self._decades:
            return
        self._decades = (floor, top)
        major = [(d, f"1e{d}") for d in range(floor, top + 1) if (d - floor) % 2 == 0]
        self.plot.getAxis("left").setTicks([major, [(d, "") for d in range(floor, top + 1)]])
        self.plot.setYRange(floor, top + 0.2, padding=0)

    def _set_title(self, layers: int, target_step: int, loss_label: str) -> None:
        key = "  ".join(
            f"<span style='color:{PALETTE[k % len(PALETTE)]}'>&#9632;</span> layer {k + 1}"
            for k in range(layers)
        )
        title = (
            f"{self.norm_name} for L = {loss_label} at step {target_step} (log scale) "
            f"{key if layers > 1 else ''}"
        )
        if title != self._bar_title:
            self._bar_title = title
            self.set_title(title)

    def clear(self) -> None:
        self.grad = np.zeros((1, 0))
        for bar in self.bars:
            bar.setOpts(x=[], height=[])
        self.set_title(f"{self.norm_name}: type some text")
        self._bar_title = ""
        self.target_line.setVisible(False)
        self._clear_steps()

    def _on_hover(self, x: float, y: float) -> None:
        t = self._step_at(x)
        if t is None:
            self.hovered.emit("")
            return
        norms = "  ".join(f"layer {k + 1}: {fmt(float(g))}" for k, g in enumerate(self.grad[:, t]))
        self.hovered.emit(f"step {t} {show_token(self.tokens[t])!r}  {self.norm_name}  {norms}")
