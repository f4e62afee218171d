"""StepPlot: the common ground of every plot over the time steps of a text (heatmaps, gradient
bars): token labels along x, a cursor on the selected step, hover read-outs and click-to-select."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from rnnviz.qt.views.common import on_hover, show_token, token_plot

TICK_PX = 11  # at least this many pixels per token label along x; denser texts label every k-th


class StepPlot(QWidget):
    """Subclasses draw into `self.plot` and implement `_on_hover(x, y)` (emit `hovered`)."""

    step_clicked = Signal(int)
    hovered = Signal(str)  # exact values under the mouse, for a read-out label ("" when it leaves)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.tokens: list[str] = []
        self.unknown: np.ndarray | None = None  # True where a token is not in the vocabulary
        self.glw, self.plot = token_plot()
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ff3b30", width=2))
        self.cursor.setVisible(False)
        self.plot.addItem(self.cursor)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.glw, 1)
        on_hover(self.plot, self._on_hover, lambda: self.hovered.emit(""))
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.plot.vb.sigResized.connect(self._set_ticks)

    def set_selected(self, t: int | None) -> None:
        self.cursor.setVisible(t is not None)
        if t is not None:
            self.cursor.setValue(t + 0.5)

    def _set_ticks(self, *_args) -> None:
        ticks = token_ticks(self.tokens, self.unknown, self.plot.vb.width())
        self.plot.getAxis("bottom").setTicks([ticks, []])

    def _clear_steps(self) -> None:
        self.tokens, self.unknown = [], None
        self.plot.getAxis("bottom").setTicks([[], []])
        self.cursor.setVisible(False)

    def _step_at(self, x: float) -> int | None:
        t = int(np.floor(x))
        return t if 0 <= t < len(self.tokens) else None

    def _on_hover(self, x: float, y: float) -> None:
        raise NotImplementedError

    def _on_click(self, event) -> None:
        pos = event.scenePos()
        if event.button() == Qt.MouseButton.LeftButton and self.plot.vb.sceneBoundingRect().contains(pos):
            t = self._step_at(self.plot.vb.mapSceneToView(pos).x())
            if t is not None:
                self.step_clicked.emit(t)


def token_ticks(tokens, unknown, width_px: float) -> list[tuple[float, str]]:
    """(x, label) at the middle of each labelled step; unknown tokens get a '?'. Labels are thinned
    so they never run together (words need more room than characters). Remembered: every plot
    over the same text asks for the same labels on each keystroke."""
    flags = None if unknown is None else tuple(bool(u) for u in unknown)
    return _token_ticks(tuple(tokens), flags, round(width_px))


@lru_cache(maxsize=8)
def _token_ticks(tokens: tuple, unknown: tuple | None, width_px: int) -> list[tuple[float, str]]:
    T = len(tokens)
    longest = max((len(show_token(t)) for t in tokens), default=1)
    per_label = TICK_PX if longest <= 1 else 7 * min(longest, 12) + 8
    every = max(1, int(np.ceil(T * per_label / max(width_px, 1.0))))
    return [
        (t + 0.5, show_token(tok) + ("?" if unknown is not None and unknown[t] else ""))
        for t, tok in enumerate(tokens)
        if t % every == 0
    ]
