"""StepPlot: the common ground of every plot over the time steps of a text (heatmaps, gradient
bars): token labels along x, a cursor on the selected step, hover read-outs and click-to-select."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from rnnviz.qt.views.common import on_hover, show_token, token_plot

# Token labels: every token at LABEL_PT when they fit, else shrunk down to MIN_LABEL_PT; only when
# they do not fit at MIN_LABEL_PT either is every k-th labelled (evenly), and the title says so.
LABEL_PT, MIN_LABEL_PT = 9.0, 8.0
LABEL_GAP = 3.0  # px at least between two neighbouring labels


class StepPlot(QWidget):
    """Subclasses draw into `self.plot` and implement `_on_hover(x, y)` (emit `hovered`)."""

    step_clicked = Signal(int)
    hovered = Signal(str)  # exact values under the mouse, for a read-out label ("" when it leaves)
    maximise_requested = Signal()  # a double click on the plot

    def __init__(self, parent=None):
        super().__init__(parent)
        self.tokens: list[str] = []
        self.every = 1  # every k-th token labelled (1: all)
        self._title, self._title_width = "", 0
        self._titled: tuple = ()  # (title, every, room) of the title shown
        self.unknown: np.ndarray | None = None  # True where a token is not in the vocabulary
        self.glw, self.plot = token_plot()
        label = self.plot.titleLabel  # pyqtgraph sizes a title to its text (on every resize too)
        label.updateMin = lambda: (free_width(label), self._on_title_resized())
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

    def set_title(self, title: str) -> None:
        """The plot's title; a note follows it when the token labels are thinned. The title never
        widens the plot: too long for it, it is shortened (the tooltip holds the whole text)."""
        self._title = title
        # Centred over the data; it may reach over the (empty) corners above the axes a little.
        room = min(self.plot.titleLabel.width() + 60, self.plot.width()) or self.plot.width()
        if (title, self.every, round(room)) == self._titled:
            return  # as shown (setTitle re-lays the plot out: ~0.4 ms, on every keystroke)
        self._titled = (title, self.every, round(room))
        notes = (f" \u00b7 every {ordinal(self.every)} token labelled", f" (1 token in {self.every})")
        text = fit_title(title, notes if self.every > 1 else ("",), room)
        self.glw.setToolTip("" if text == title + (notes[0] if self.every > 1 else "") else title + notes[0])
        self.plot.setTitle(text, size="9pt")

    def title(self) -> str:
        """The title as shown (with the thinning note)."""
        return self.plot.titleLabel.text

    def _on_title_resized(self) -> None:
        """The title's room changed: fit the title to it (later: this runs inside a layout)."""
        if round(self.plot.titleLabel.width()) != self._title_width:
            self._title_width = round(self.plot.titleLabel.width())
            QTimer.singleShot(0, self, lambda: self.set_title(self._title))

    def _set_ticks(self, *_args) -> None:
        width = self.plot.vb.width()
        if width < 20 and self.tokens:  # not laid out yet
            return
        ticks, every, pt = token_layout(self.tokens, self.unknown, width)
        self.plot.getAxis("bottom").set_labels(ticks, pt)
        if every != self.every:
            self.every = every
            # Later: a new title re-lays the plot out, and this runs while it is being laid out.
            QTimer.singleShot(0, self, lambda: self.set_title(self._title))

    def _clear_steps(self) -> None:
        self.tokens, self.unknown = [], None
        self._set_ticks()
        self.cursor.setVisible(False)

    def _step_at(self, x: float) -> int | None:
        t = int(np.floor(x))
        return t if 0 <= t < len(self.tokens) else None

    def _on_hover(self, x: float, y: float) -> None:
        raise NotImplementedError

    def _on_click(self, event) -> None:
        pos = event.scenePos()
        if event.double() and event.button() == Qt.MouseButton.LeftButton:
            self.maximise_requested.emit()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.plot.vb.sceneBoundingRect().contains(pos):
            t = self._step_at(self.plot.vb.mapSceneToView(pos).x())
            if t is not None:
                self.step_clicked.emit(t)


def free_width(label) -> None:
    """A title's size hints without a width: it never widens its plot (set_title fits it)."""
    height = label.itemRect().height()
    label.setMinimumWidth(0)
    label.setMinimumHeight(height)
    label._sizeHint = {
        Qt.SizeHint.MinimumSize: (0, height),
        Qt.SizeHint.PreferredSize: (0, height),
        Qt.SizeHint.MaximumSize: (-1, -1),
        Qt.SizeHint.MinimumDescent: (0, 0),
    }
    label.updateGeometry()


def fit_title(title: str, notes: tuple[str, ...], width: float) -> str:
    """The title with the longest note that fits `width` px (9 pt), else elided (plain text)."""
    fm = QFontMetricsF(label_font(9.0))
    for note in notes:
        if fm.horizontalAdvance(plain(title + note)) <= width - 8:
            return title + note
    return fm.elidedText(plain(title + notes[-1]), Qt.TextElideMode.ElideRight, max(width - 8, 20))


def plain(html: str) -> str:
    """A title's text without its markup (what it shows)."""
    return re.sub("<[^>]+>", "", html).replace("&#9632;", "\u25a0")


def ordinal(k: int) -> str:
    """2nd, 3rd, 4th, ... 11th, 12th, 21st."""
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix}"


def token_ticks(tokens, unknown, width_px: float) -> list[tuple[float, str]]:
    """(x, label) at the middle of each labelled step (see token_layout)."""
    return token_layout(tokens, unknown, width_px)[0]


def token_layout(tokens, unknown, width_px: float) -> tuple[list[tuple[float, str]], int, float]:
    """(ticks, every, pt): the labels of a text's steps over `width_px` pixels. Every token is
    labelled, at LABEL_PT or shrunk down to MIN_LABEL_PT; when even that is too wide, every k-th
    (evenly spaced, k = `every`). Unknown tokens get a '?'. Remembered: every plot over the same
    text asks for the same labels on each keystroke."""
    flags = None if unknown is None else tuple(bool(u) for u in unknown)
    return _token_layout(tuple(tokens), flags, round(width_px))


@lru_cache(maxsize=16)
def _token_layout(tokens: tuple, unknown: tuple | None, width_px: int):
    labels = [
        show_token(tok) + ("?" if unknown is not None and unknown[t] else "") for t, tok in enumerate(tokens)
    ]
    step = max(width_px, 1) / max(len(labels), 1)  # px per step
    pt = LABEL_PT
    for pt in (LABEL_PT, (LABEL_PT + MIN_LABEL_PT) / 2, MIN_LABEL_PT):
        need = _label_room(tuple(labels), pt)[0] + LABEL_GAP
        if need <= step:
            break
    every = max(1, int(np.ceil(need / step)))
    if every > 1:  # evenly spaced labels, each as wide as the widest one
        every = max(every, int(np.ceil((_label_room(tuple(labels), pt)[1] + LABEL_GAP) / step)))
    ticks = [(t + 0.5, label) for t, label in enumerate(labels) if t % every == 0]
    return ticks, every, pt


@lru_cache(maxsize=16)
def _label_room(labels: tuple, pt: float) -> tuple[float, float]:
    """(max_pair_width, max_label_width) of a text's labels: the same for every plot over it,
    whatever its width (the plots of the Inside view differ in width)."""
    return max_pair_width(list(labels), pt), max_label_width(list(labels), pt)


_widths: dict[tuple[float, str], float] = {}


def label_width(label: str, pt: float) -> float:
    """A token label's width in pixels at `pt` points (remembered)."""
    w = _widths.get((pt, label))
    if w is None:
        w = _widths[(pt, label)] = QFontMetricsF(label_font(pt)).horizontalAdvance(label)
    return w


@lru_cache(maxsize=4)
def label_font(pt: float) -> QFont:
    font = QFont(QApplication.font())
    font.setPointSizeF(pt)
    return font


def max_label_width(labels: list[str], pt: float) -> float:
    return max((label_width(s, pt) for s in labels), default=0.0)


def max_pair_width(labels: list[str], pt: float) -> float:
    """The most room two neighbouring labels, centred on their steps, need: half of each."""
    w = [label_width(s, pt) for s in labels]
    if len(w) < 2:
        return w[0] if w else 0.0
    return max((a + b) / 2 for a, b in zip(w, w[1:], strict=False))
