"""SequenceHeatmap: one value per (time step, unit) as an image, tokens along the x axis."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from rnnviz.qt.views.common import (
    SIGNED,
    IndexImage,
    cmap_name,
    colormap,
    fmt,
    lut,
    show_token,
    symmetric_levels,
)
from rnnviz.qt.views.step_plot import StepPlot

DIFFERENCE = "A \u2212 B: "  # the title's prefix while a heatmap shows a difference
SHORT_LINES = 4  # a heatmap less tall than this many lines of text labels only the ends of its axes
ROW_TITLES = {"unit": "unit", "n": "state index n"}  # what a heatmap's rows are: H units, or N states


def bar_label(v: float, chars: int = 5) -> str:
    """A colour bar's label, at most `chars` characters besides its sign (its axis is 45 px wide: a
    longer label is not drawn at all): 0.5, 0.032, 0.008, 3e-05."""
    for text in (f"{v:.3g}", f"{v:.2g}", f"{v:.1g}"):
        if len(text.lstrip("-")) <= chars:
            return text
    mantissa, exponent = f"{v:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


ROBUST_PERCENTILE = 99.0  # robust levels: the colours span this percentile; the rest saturate


def positive_levels(a: np.ndarray, floor: float = 1e-6) -> tuple[float, float]:
    """(0, m), m the ROBUST_PERCENTILE-th percentile of the finite values: values >= 0 (a norm, the
    SSM's step) on a sequential map whose colours are not all spent on a few outliers."""
    finite = a[np.isfinite(a)]
    return 0.0, max(float(np.percentile(finite, ROBUST_PERCENTILE)) if finite.size else 1.0, floor)


def robust_levels(a: np.ndarray, floor: float = 1e-6) -> tuple[float, float]:
    """(-m, m), m the ROBUST_PERCENTILE-th percentile of the finite |values|: unbounded signed values
    (a modern cell's h, the SSM's state entries) with zero in the middle of the map."""
    finite = np.abs(a[np.isfinite(a)])
    m = max(float(np.percentile(finite, ROBUST_PERCENTILE)) if finite.size else 1.0, floor)
    return -m, m


def quantise(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values to colour indices 0..255 (lo -> 0, hi -> 255), C-contiguous; non-finite -> 0."""
    scaled = (np.asarray(a, dtype=np.float32) - lo) * (255.0 / max(hi - lo, 1e-30))
    scaled += 0.5
    np.fmax(scaled, 0, out=scaled)  # NaN -> 0 (fmax drops it), -inf -> 0
    np.fmin(scaled, 255, out=scaled)  # +inf -> 255
    return np.ascontiguousarray(scaled, dtype=np.uint8)


class SequenceHeatmap(StepPlot):
    """Time steps left to right, units (or the SSM's N state indices: rows "n") top to bottom;
    click a column to select that step (and that row: cell_clicked).

    levels: fixed (lo, hi), None for symmetric levels fitted to the data (signed values), or a
    function of the data (positive_levels, robust_levels: values past them saturate, and the
    colour bar's end says so: "\u2265 4.3").
    cmap: common.SIGNED or common.POSITIVE follow the colour-map preference (refresh_colormaps);
    any other name is that map, always.
    """

    cell_clicked = Signal(int, int)  # step, unit

    def __init__(self, title: str, value_name: str, cmap: str, levels=None, parent=None, rows: str = "unit"):
        super().__init__(parent)
        self.value_name, self.fixed_levels, self.cmap_kind, self.rows = value_name, levels, cmap, rows
        self.own = (levels, cmap)  # its values' levels and map (set_difference swaps them)
        self._short = False  # too short for more than two labels on an axis
        self._beyond = (False, False)  # values below the low level, above the high one (saturated)
        self._bar_ticks: list = []  # the colour bar's ticks as last set
        self.data = np.zeros((1, 1))
        self.unknown = np.zeros(0, bool)
        self.set_title(title)
        self.plot.invertY(True)
        self.plot.setLabel("left", ROW_TITLES[rows])
        self.image = IndexImage()
        self.plot.addItem(self.image)
        self.cursor.setZValue(10)  # above the image
        lo, hi = levels if isinstance(levels, tuple) else (0.0, 1.0) if callable(levels) else (-1.0, 1.0)
        # The image gets 8-bit colour indices (quantised here, once per update) and the map's 256
        # colours: pyqtgraph then paints it as an indexed QImage instead of mapping floats on
        # every repaint (measured ~1 ms a heatmap per paint). The colour bar shows the real levels.
        self.image.setLevels((0, 255))
        self.colorbar = pg.ColorBarItem(values=(lo, hi), interactive=False, width=12, label=value_name)
        self.set_cmap(cmap_name(cmap))
        self.plot.layout.addItem(self.colorbar, 2, 5)  # right of the plot, as setImageItem puts it
        self.plot.layout.setColumnFixedWidth(4, 5)
        self.colorbar.axis.enableAutoSIPrefix(False)
        self._set_bar_ticks(lo, hi)
        self.plot.vb.sigResized.connect(self._on_resized)

    def set_data(self, data: np.ndarray, tokens: Sequence[str], unknown=None) -> None:
        """data: (T, H) values for each step and unit; tokens: the T input tokens."""
        T, H = data.shape
        resized = self.data.shape != (T, H)
        tokens = list(tokens)
        relabel = resized or tokens != self.tokens
        self.data = data
        fixed = self.fixed_levels
        levels = fixed if isinstance(fixed, tuple) else (fixed or symmetric_levels)(data)
        self.image.setImage(quantise(data.T, *levels), autoLevels=False, levels=(0, 255))
        self.image.setRect(0, 0, T, H)
        if not isinstance(fixed, tuple):
            finite = data[np.isfinite(data)]
            self._beyond = (
                bool(finite.size and finite.min() < levels[0]),
                bool(finite.size and finite.max() > levels[1]),
            )
            if tuple(levels) != tuple(self.colorbar.levels()):  # (it re-lays its axis out, ~0.7 ms)
                self.colorbar.setLevels(levels)
            self._set_bar_ticks(*levels)
        if relabel:  # only what changed: axis work is the costly part of a keystroke
            self.tokens = tokens
            self.unknown = np.zeros(T, bool) if unknown is None else np.asarray(unknown, bool)
            self._set_ticks()
        if resized:
            if self._short:
                self._set_unit_ticks()
            self.plot.setLimits(xMin=0, xMax=max(T, 1), yMin=0, yMax=H)
            self.plot.setRange(xRange=(0, max(T, 1)), yRange=(0, H), padding=0)

    def set_cmap(self, name: str) -> None:
        """Draw with the colour map `name` from now on (the image keeps its 8-bit colour indices)."""
        self.cmap = name
        self.image.setLookupTable(lut(name))
        self.colorbar.setColorMap(colormap(name))

    def set_difference(self, on: bool) -> None:
        """Show differences (signed, levels fitted to the data) instead of its values."""
        wanted = (None, SIGNED) if on else self.own
        if (self.fixed_levels, self.cmap_kind) == wanted and self._title.startswith(DIFFERENCE) == on:
            return  # as it is (asked on every keystroke: re-titling costs ~0.4 ms a plot)
        self.fixed_levels, self.cmap_kind = wanted
        base = self._title.removeprefix(DIFFERENCE)
        self.set_title(DIFFERENCE + base if on else base)
        self.refresh_colormaps()
        if isinstance(self.fixed_levels, tuple):
            self._beyond = (False, False)
            self.colorbar.setLevels(self.fixed_levels)
            self._set_bar_ticks(*self.fixed_levels)

    def restyle(self, title: str, value_name: str, cmap: str, levels=None) -> None:
        """Show another quantity from the next set_data on: its title, name, map and levels (a
        difference stays a difference, signed)."""
        difference = self._title.startswith(DIFFERENCE)
        self.own, self.value_name = (levels, cmap), value_name
        self.colorbar.getAxis("left").setLabel(value_name)  # (where ColorBarItem puts its label)
        self.set_title(title)
        self.set_difference(difference)  # the new own levels and map, or still a signed difference

    def refresh_colormaps(self) -> None:
        """Follow the colour-map preference, when this heatmap's map is a kind (signed, positive)."""
        name = cmap_name(self.cmap_kind)
        if name != self.cmap:
            self.set_cmap(name)

    def levels(self) -> tuple[float, float]:
        """The values at the two ends of the colour map, as the colour bar shows them."""
        return tuple(self.colorbar.levels())

    def clear(self) -> None:
        """No text: an empty plot."""
        self.data = np.zeros((1, 1))
        self.image.clear()
        self._clear_steps()

    def _set_bar_ticks(self, lo: float, hi: float) -> None:
        """Three labels (low, middle, high), two when the plot is short: the bar stays readable."""
        values = (lo, hi) if self._short else (lo, (lo + hi) / 2, hi)
        below, above = self._beyond
        labels = [bar_label(v) for v in values]
        if below:  # saturated ends: "\u2264 -4.3", "\u2265 4.3"
            labels[0] = "\u2264" + bar_label(lo, 3)
        if above:
            labels[-1] = "\u2265" + bar_label(hi, 3)
        ticks = [[(v, t) for v, t in zip(values, labels, strict=True)], []]
        if ticks != self._bar_ticks:  # the same again would re-lay the bar's axis out (~0.7 ms)
            self._bar_ticks = ticks
            self.colorbar.axis.setTicks(ticks)

    def _set_unit_ticks(self) -> None:
        """The first and last unit only on a short plot (pyqtgraph's own ticks there ran together)."""
        H = self.data.shape[1]
        ends = [[(0.5, "0"), (H - 0.5, str(H - 1))], []] if H > 1 else [[(0.5, "0")], []]
        self.plot.getAxis("left").setTicks(ends if self._short else None)

    def _on_resized(self, *_args) -> None:
        short = self.plot.vb.height() < SHORT_LINES * self.fontMetrics().height()
        if short != self._short:
            self._short = short
            self._set_bar_ticks(*self.levels())
            self._set_unit_ticks()

    def _on_click(self, event) -> None:
        super()._on_click(event)
        pos = event.scenePos()
        if event.button() == Qt.MouseButton.LeftButton and self.plot.vb.sceneBoundingRect().contains(pos):
            p = self.plot.vb.mapSceneToView(pos)
            cell = self._cell(p.x(), p.y())
            if cell is not None:
                self.cell_clicked.emit(*cell)

    def _cell(self, x: float, y: float):
        T, H = self.data.shape
        t, u = int(np.floor(x)), int(np.floor(y))
        return (t, u) if 0 <= t < T and 0 <= u < H and self.tokens else None

    def _on_hover(self, x: float, y: float) -> None:
        cell = self._cell(x, y)
        if cell is None:
            self.hovered.emit("")
            return
        t, u = cell
        unk = "  (not in the vocabulary: read as <unk>)" if self.unknown[t] else ""
        self.hovered.emit(
            f"step {t} {show_token(self.tokens[t])!r}  {self.rows} {u}  "
            f"{self.value_name} = {fmt(float(self.data[t, u]))}{unk}"
        )
