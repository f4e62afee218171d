"""The model's weight matrices as live heatmaps: W_ih and W_hh per layer (a modern cell's own
matrices: qt.views.weight_specs), the head, the embedding."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from rnnviz.core.config import ModelConfig
from rnnviz.qt.views.common import (
    colormap,
    fmt,
    on_hover,
    readout_label,
    show_token,
    signed_cmap,
    symmetric_levels,
)
from rnnviz.qt.views.weight_specs import (
    COL_TITLES,
    ROW_TITLES,
    MatrixSpec,
    default_key,
    matrix_specs,
    no_recurrent_matrix,
)

LEVEL_SLACK = 1.25  # refit the colour levels only when max |w| moves by more than this factor
SPECTRAL_MAX_H = 128  # 4 eigvals of 128 x 128 take ~22 ms; 256 x 256 ~115 ms: a visible stall
SPECTRAL_INTERVAL_S = 1.0  # at most one eigenvalue computation per second
NON_FINITE_COLOUR = "#505050"  # NaN pixels are transparent and show the view box behind them
SEPARATOR_PEN = pg.mkPen((0, 0, 0, 220), width=1)
TOKEN_FILL_LIMITS = [(0, 0.8)]  # token ticks: draw denser levels while text fills < 80% of the axis
MAX_TICK_CHARS = 8


def nice_step(x: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is >= x."""
    if x <= 1:
        return 1
    base = 10 ** math.floor(math.log10(x))
    return next(m * base for m in (1, 2, 5, 10) if m * base >= x)


def token_text(tokens: Sequence[str], i: int) -> str:
    tok = show_token(tokens[i]) if i < len(tokens) else f"#{i}"
    return tok if len(tok) <= MAX_TICK_CHARS else tok[: MAX_TICK_CHARS - 1] + "\u2026"


def token_ticks(tokens: Sequence[str], n: int) -> list[list[tuple[float, str]]]:
    """Tick levels for n tokens: a sparse level always labelled, denser ones when there is room."""
    levels, taken = [], set()
    for step in dict.fromkeys((nice_step(n / 8), nice_step(n / 30), 1)):
        idx = [i for i in range(0, n, step) if i not in taken]
        taken.update(idx)
        levels.append([(i, token_text(tokens, i)) for i in idx])
    return [level for level in levels if level]


class WeightView(QWidget):
    """The model's weight matrices as live heatmaps: W_ih, W_hh per layer (a modern cell's own), the
    head, the embedding."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._cfg: ModelConfig | None = None
        self._vocab: tuple[str, ...] = ()
        self._specs: list[MatrixSpec] = []
        self._weights: Mapping[str, np.ndarray] = {}
        self._source: np.ndarray | None = None  # the array drawn, as given
        self._matrix: np.ndarray | None = None  # the same as 2-D (a bias is one column)
        self._layout_for: tuple | None = None  # (key, shape) the axes were built for
        self._levels: tuple[float, float] | None = None
        self._separators: list[pg.InfiniteLine] = []
        self._radius = ("", 0.0, "")  # (key, time, text) of the last spectral radius
        self._hover: tuple[float, float] | None = None  # where the mouse is, to update the read-out
        self._build()

    def _build(self) -> None:
        self.combo = QComboBox()
        self.combo.setToolTip("Which weight matrix to draw")
        self.combo.currentIndexChanged.connect(self._on_selection_changed)
        fit = QPushButton("Fit levels")
        fit.setToolTip("Fit the colour scale to the largest |weight| now")
        fit.clicked.connect(self._on_fit_clicked)
        bar = QHBoxLayout()
        bar.addWidget(self.combo, 1)
        bar.addWidget(fit)
        self.graphics = pg.GraphicsLayoutWidget()
        self.plot = self.graphics.addPlot()
        self.plot.invertY(True)
        self.plot.vb.setBackgroundColor(NON_FINITE_COLOUR)
        self.image = pg.ImageItem()
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            values=(-1.0, 1.0), colorMap=colormap(signed_cmap()), label="weight", interactive=False
        )
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self._default_fill = list(self.plot.getAxis("left").style["textFillLimits"])
        self.readout = readout_label()
        self.stats = readout_label()
        self.stats.setWordWrap(True)
        self.stats.setText("no model yet")
        self.note = QLabel()  # a modern cell: no W_hh, said plainly (qt.views.weight_specs)
        self.note.setWordWrap(True)
        self.note.setMinimumWidth(10)
        self.note.setStyleSheet("font-style: italic;")
        self.note.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.readout)
        layout.addWidget(self.stats)
        layout.addWidget(self.note)
        on_hover(self.plot, self._on_hover, self._on_leave)

    def refresh_colormaps(self) -> None:
        """Follow the colour-map preference (the colour bar gives the image its colours)."""
        name = signed_cmap()
        if self.colorbar.colorMap() is not colormap(name):
            self.colorbar.setColorMap(colormap(name))

    def set_model(self, cfg: ModelConfig, vocab: Sequence[str]) -> None:
        """A new architecture: rebuild the list of matrices, keeping the selection when it still exists."""
        keep = self.combo.currentData()
        self._cfg, self._vocab, self._specs = cfg, tuple(vocab), matrix_specs(cfg)
        self.note.setText(no_recurrent_matrix(cfg))
        self.note.setVisible(cfg.modern)
        self.combo.blockSignals(True)
        self.combo.clear()
        for spec in self._specs:
            self.combo.addItem(spec.label, spec.key)
        index = self.combo.findData(keep)
        self.combo.setCurrentIndex(index if index >= 0 else self.combo.findData(default_key(cfg)))
        self.combo.blockSignals(False)
        self._on_selection_changed()

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        """New weights (state_dict key -> array); only the selected matrix is redrawn."""
        self._weights = weights
        self.refresh()

    def refresh(self) -> None:
        """Redraw the selected matrix from the latest weights (nothing to do if it is unchanged)."""
        spec = self._current_spec()
        if spec is None:
            self.stats.setText("no model yet" if self._cfg is None else "no matrix selected")
            return
        a = self._weights.get(spec.key)
        if a is None:
            self._clear(f"no array named {spec.key} in the weights")
        elif a is not self._source:
            self._draw(spec, np.asarray(a))

    def _current_spec(self) -> MatrixSpec | None:
        i = self.combo.currentIndex()
        return self._specs[i] if 0 <= i < len(self._specs) else None

    def _clear(self, message: str) -> None:
        self.image.clear()
        self._source = self._matrix = None
        self._on_leave()
        self.stats.setText(message)

    def _draw(self, spec: MatrixSpec, a: np.ndarray) -> None:
        if a.ndim not in (1, 2) or a.size == 0:
            self._clear(f"{spec.key} has shape {a.shape}: cannot draw it")
            return
        matrix = spec.shown(a.reshape(-1, 1) if a.ndim == 1 else a)
        finite = np.isfinite(matrix)
        shown = matrix if finite.all() else np.where(finite, matrix, np.nan)
        self._source, self._matrix = a, matrix
        self._fit_levels(matrix)
        self.image.setImage(shown, autoLevels=False, levels=self._levels)
        self.image.setRect(QRectF(-0.5, -0.5, matrix.shape[1], matrix.shape[0]))  # pixel centres on integers
        if self._layout_for != (spec.key, matrix.shape):
            self._layout_for = (spec.key, matrix.shape)
            self._lay_out(spec, *matrix.shape)
        self.stats.setText(self._stats_text(spec, matrix, finite))
        if self._hover:
            self._on_hover(*self._hover)

    def _fit_levels(self, matrix: np.ndarray) -> None:
        """Keep the colour levels unless max |w| moved by more than LEVEL_SLACK (no flicker)."""
        lo, hi = symmetric_levels(matrix)
        if self._levels is None or not 1 / LEVEL_SLACK <= hi / self._levels[1] <= LEVEL_SLACK:
            self._levels = (lo, hi)
            self.colorbar.setLevels(self._levels)

    def _lay_out(self, spec: MatrixSpec, rows: int, cols: int) -> None:
        """Axis ticks, titles, gate separators and the view range for a newly selected matrix."""
        gates = self._cfg.gates if spec.rows == "gates" else ()
        self._set_ticks("left", self._row_ticks(spec, rows), self._row_title(spec))
        self._set_ticks("bottom", self._col_ticks(spec, cols), COL_TITLES[spec.cols])
        for line in self._separators:
            self.plot.removeItem(line)
        h = self._cfg.hidden
        bounds = [k * h - 0.5 for k in range(1, len(gates)) if k * h < rows]
        self._separators = [pg.InfiniteLine(y, angle=0, pen=SEPARATOR_PEN, movable=False) for y in bounds]
        for line in self._separators:
            self.plot.addItem(line)
        self.plot.setLimits(xMin=-0.5, xMax=cols - 0.5, yMin=-0.5, yMax=rows - 0.5)
        self.plot.setRange(xRange=(-0.5, cols - 0.5), yRange=(-0.5, rows - 0.5), padding=0)

    def _set_ticks(self, name: str, ticks: list | None, title: str) -> None:
        axis = self.plot.getAxis(name)
        axis.setTicks(ticks)
        axis.setStyle(textFillLimits=TOKEN_FILL_LIMITS if ticks else self._default_fill)
        axis.setLabel(title)

    def _row_title(self, spec: MatrixSpec) -> str:
        if spec.rows in ROW_TITLES:
            return ROW_TITLES[spec.rows]
        return "gate block \u00d7 unit" if self._cfg.gates else "unit"

    def _row_ticks(self, spec: MatrixSpec, rows: int) -> list | None:
        if spec.rows == "tokens":
            return token_ticks(self._vocab, rows)
        if spec.rows != "gates":  # a modern cell's units or states: plain numbers
            return None
        h = self._cfg.hidden
        gates = [(k * h + (h - 1) / 2, g) for k, g in enumerate(self._cfg.gates) if k * h < rows]
        return [gates] if gates else None

    def _col_ticks(self, spec: MatrixSpec, cols: int) -> list | None:
        if spec.cols == "tokens":
            return token_ticks(self._vocab, cols)
        vector = spec.name.split(" ")[0] if spec.name.startswith("D ") else "bias"  # the SSM's D
        return [[(0, vector)]] if spec.cols == "bias" else None

    def _stats_text(self, spec: MatrixSpec, m: np.ndarray, finite: np.ndarray) -> str:
        shape = "\u00d7".join(map(str, self._source.shape))
        ok = m[finite]
        parts = [f"shape {shape}"]
        if ok.size:
            parts += [f"min {fmt(ok.min())}", f"max {fmt(ok.max())}", f"mean|w| {fmt(np.abs(ok).mean())}"]
            parts.append(f"\u2016W\u2016_F {fmt(np.linalg.norm(ok))}")
        bad = m.size - ok.size
        if bad:
            parts.append(f"non-finite values: {bad} of {m.size} (grey)")
        elif spec.cols == "hprev":
            parts.append(self._spectral_text(spec, m))
        return "   ".join(p.replace(" ", "\u00a0") for p in parts if p)  # wrap only between parts

    def _spectral_text(self, spec: MatrixSpec, m: np.ndarray) -> str:
        """Spectral radius of each square H x H gate block of W_hh, at most every SPECTRAL_INTERVAL_S."""
        key, when, text = self._radius
        h, now = m.shape[1], time.monotonic()
        if h > SPECTRAL_MAX_H or m.shape[0] % h:
            return ""
        if key == spec.key and now - when < SPECTRAL_INTERVAL_S:
            return text
        names = self._cfg.gates or ("",)
        try:
            radii = [np.abs(np.linalg.eigvals(m[k * h : (k + 1) * h])).max() for k in range(m.shape[0] // h)]
        except np.linalg.LinAlgError:
            return ""
        text = "spectral radius " + " ".join(
            f"{n} {fmt(r)}".strip() for n, r in zip(names, radii, strict=False)
        )
        self._radius = (spec.key, now, text)
        return text

    def _token(self, i: int) -> str:
        return f"'{show_token(self._vocab[i])}'" if i < len(self._vocab) else f"#{i}"

    def _row_text(self, spec: MatrixSpec, r: int) -> str:
        if spec.rows == "tokens":
            return f"token {self._token(r)}"
        if spec.rows in ("units", "states"):
            return f"unit {r}" if spec.rows == "units" else f"state n {r}"
        gates, h = self._cfg.gates, self._cfg.hidden
        return f"gate {gates[r // h]}, unit {r % h}" if r // h < len(gates) else f"unit {r}"

    def _col_text(self, spec: MatrixSpec, c: int) -> str:
        if spec.cols == "tokens":
            return f"input token {self._token(c)}"
        return {
            "embed": f"embedding dim {c}",
            "below": f"layer {spec.layer} unit {c}",  # layers counted from 1, as everywhere
            "hprev": f"h_{{t-1}} unit {c}",
            "units": f"unit {c}",
            "u": f"u unit {c}",
            "states": f"state n {c}",
        }[spec.cols]

    def _on_hover(self, x: float, y: float) -> None:
        """Show the cell under (x, y), in data coordinates (column, row)."""
        spec, m = self._current_spec(), self._matrix
        self._hover = (x, y)
        r, c = math.floor(y + 0.5), math.floor(x + 0.5)
        if spec is None or m is None or not (0 <= r < m.shape[0] and 0 <= c < m.shape[1]):
            self._on_leave()
            return
        where = f"row {r} = {self._row_text(spec, r)}"
        if spec.cols != "bias":
            where += f"  col {c} = {self._col_text(spec, c)}"
        self.readout.setText(f"{spec.name}  {where}  value {fmt(float(m[r, c]))}")

    def _on_leave(self) -> None:
        self._hover = None
        self.readout.setText(" ")

    @Slot()
    def _on_selection_changed(self) -> None:
        self._levels, self._source, self._layout_for = None, None, None
        self.refresh()

    @Slot()
    def _on_fit_clicked(self) -> None:
        self._levels, self._source = None, None
        self.refresh()
