"""TrajectoryView: the typed text's hidden state as a path on a 2-D map, the two principal
components of the corpus's states (qt.analysis), which are drawn faintly underneath. The path
grows as the user types; hover names the step and its token."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from rnnviz.core.trace import Trace
from rnnviz.qt.views.common import PALETTE, cache_axes, on_hover, readout_label, show_token

BACKGROUND_POINTS = 3000


class TrajectoryView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.analysis, self.trace, self.path = None, None, np.zeros((0, 2))
        self.layer = QComboBox()
        self.layer.currentIndexChanged.connect(self._redraw)
        self.caption = QLabel("The map appears once the corpus has been read (the Units tab reads it).")
        self.caption.setWordWrap(True)
        self.glw = pg.GraphicsLayoutWidget()
        self.plot = self.glw.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        cache_axes(self.plot)
        self.plot.setLabel("bottom", "principal component 1")
        self.plot.setLabel("left", "principal component 2")
        self.corpus_dots = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(150, 150, 150, 70))
        self.line = pg.PlotDataItem(pen=pg.mkPen(PALETTE[0], width=2), symbol="o", symbolSize=5,
                                    symbolBrush=PALETTE[0], symbolPen=None)  # fmt: skip
        self.head = pg.ScatterPlotItem(size=13, pen=pg.mkPen("k"), brush=pg.mkBrush(PALETTE[1]))
        for item in (self.corpus_dots, self.line, self.head):
            self.plot.addItem(item)
        self.readout = readout_label()
        row = QHBoxLayout()
        self.layer_label = QLabel("Hidden state h of layer")
        row.addWidget(self.layer_label)
        row.addWidget(self.layer)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.caption)
        lay.addWidget(self.glw, 1)
        lay.addWidget(self.readout)
        on_hover(self.plot, self._on_hover, lambda: self.readout.setText(" "))

    @Slot(object)
    def set_analysis(self, analysis) -> None:
        self.analysis = analysis
        n_layers = 0 if analysis is None else len(analysis.pca)
        if self.layer.count() != n_layers:
            self.layer.blockSignals(True)
            self.layer.clear()
            self.layer.addItems([str(n + 1) for n in range(n_layers)])
            self.layer.setCurrentIndex(max(n_layers - 1, 0))  # the top layer, the one the head reads
            self.layer.blockSignals(False)
        self._redraw()

    def set_trace(self, tr: Trace | None) -> None:
        """The typed text's path (drawn when shown: showEvent draws the latest)."""
        self.trace = tr
        if tr is not None:  # the S6's h is its output; its state s (H x N) is not what is drawn
            ssm = tr.state is not None
            self.layer_label.setText("Output h of layer" if ssm else "Hidden state h of layer")
        if self.isVisible():
            self._draw_path()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._draw_path()

    def _redraw(self, *_args) -> None:
        a = self.analysis
        if a is None:
            self.corpus_dots.setData([], [])
            self.caption.setText("The map appears once the corpus has been read (the Units tab reads it).")
            self._draw_path()
            return
        n = max(self.layer.currentIndex(), 0)
        p = a.pca[n]
        h = a.states.h[n]
        pick = np.random.default_rng(0).choice(len(h), min(BACKGROUND_POINTS, len(h)), replace=False)
        xy = p.project(h[pick])
        self.corpus_dots.setData(xy[:, 0], xy[:, 1])
        ex = p.explained
        self.caption.setText(
            f"principal components of h over the first {len(h):,} tokens of {a.corpus} (grey; step "
            f"{a.step:,}): {ex[0]:.0%} and {ex[1]:.0%} of the variance. The path: the typed text."
        )
        self._draw_path()

    def _draw_path(self) -> None:
        a, tr = self.analysis, self.trace
        n = max(self.layer.currentIndex(), 0)
        if a is None or tr is None or n >= tr.cfg.layers or tr.cfg.hidden != a.states.h.shape[2]:
            self.path = np.zeros((0, 2))
            self.line.setData([], [])
            self.head.setData([], [])
            return
        self.path = a.pca[n].project(tr.h[n])
        self.line.setData(self.path[:, 0], self.path[:, 1])
        self.head.setData(self.path[-1:, 0], self.path[-1:, 1])

    def _on_hover(self, x: float, y: float) -> None:
        if not len(self.path) or self.trace is None:
            self.readout.setText(" ")
            return
        t = int(np.argmin(((self.path - [x, y]) ** 2).sum(axis=1)))
        px, py = self.path[t]
        self.readout.setText(f"step {t} {show_token(self.trace.tokens[t])!r}  (PC1 {px:+.3f}, PC2 {py:+.3f})")
