"""ListenView: who listens to whom on the typed text (core.listen.Listening): a T x T heatmap, the
step t that listens down the rows, the token s it hears along the columns, s > t left blank.

Square cells (the matrix is kept square whatever the room), every token labelled on both axes
while the labels fit, else every k-th on both (evenly; the caption says so); a sequential map for
alpha >= 0 (log scale by default: its values span decades), a diverging one for signed alpha; hover
names both tokens. The view draws what it is given; qt.listening computes it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.config import ModelConfig
from rnnviz.core.listen import JACOBIAN, Listening, kind_of
from rnnviz.qt.views.common import (
    EagerViewBox,
    IndexImage,
    TokenAxis,
    colormap,
    compact,
    fmt,
    on_hover,
    positive_cmap,
    readout_label,
    show_token,
    signed_cmap,
    symmetric_levels,
)
from rnnviz.qt.views.step_plot import (
    LABEL_GAP,
    LABEL_PT,
    MIN_LABEL_PT,
    label_font,
    max_label_width,
    max_pair_width,
    ordinal,
)

LOG_DECADES = 5  # the log scale shows this many decades below the largest alpha
MEASURE_NAMES = {"norm": "\u2016part\u2016", "along": "part along h_t (signed)"}
HINT = "rows: the step t that listens \u00b7 columns: the token s it hears \u00b7 hover: both, and \u03b1"


class RowTokenAxis(pg.AxisItem):
    """The left axis of the matrix: a token label beside each labelled row (set_labels), right-aligned
    and centred on its row; the rectangles drawn at the last paint are kept (`drawn`)."""

    def __init__(self):
        super().__init__("left")
        self.pt = 0.0
        self.drawn: list[tuple[QRectF, str]] = []

    def set_labels(self, ticks: list[tuple[float, str]], pt: float) -> None:
        if pt != self.pt:
            self.pt = pt
            font = QFont(QApplication.font())
            font.setPointSizeF(pt)
            self.style["tickFont"] = font
        widest = max((QFontMetricsF(label_font(pt)).horizontalAdvance(s) for _, s in ticks), default=0.0)
        self.setWidth(int(np.ceil(widest)) + 8)
        self.setTicks([ticks, []])
        self.picture = None
        self.update()

    def generateDrawSpecs(self, p):
        vb = self.linkedView()
        if vb is None or not self._tickLevels:
            self.drawn = []
            return super().generateDrawSpecs(p)
        p.setFont(self.style["tickFont"] or QApplication.font())
        fm = QFontMetricsF(p.font())
        bounds = self.mapRectFromParent(self.geometry())
        right, height = bounds.right() - 4, fm.height() * 0.8
        flags = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextDontClip
        ticks, texts = [], []
        for v, label in self._tickLevels[0]:
            y = self.mapFromScene(vb.mapViewToScene(QPointF(0.0, v))).y()
            if not bounds.top() <= y <= bounds.bottom():
                continue
            ticks.append((self.tickPen(), pg.Point(right + 4, y), pg.Point(right + 1, y)))
            w = fm.horizontalAdvance(label)
            texts.append((QRectF(right - w, y - height / 2, w, height), flags, label))
        self.drawn = [(r, label) for r, _, label in texts]
        axis = (self.pen(), bounds.topRight() + pg.Point(-1, 0), bounds.bottomRight() + pg.Point(-1, 0))
        return axis, ticks, texts


class _Square(QWidget):
    """Holds the plot, sized so that its matrix is square (the rest of the room stays blank)."""

    def __init__(self, glw: pg.GraphicsLayoutWidget, vb: pg.ViewBox):
        super().__init__()
        self.glw, self.vb = glw, vb
        glw.setParent(self)
        self.setMinimumSize(160, 160)
        self.setAutoFillBackground(True)  # the plots' background around the matrix, not the window's
        self.setBackgroundRole(QPalette.ColorRole.Base)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def fit(self) -> None:
        """The matrix's side: as large as the room allows, axes and colour bar around it."""
        extra_w = max(self.glw.width() - self.vb.width(), 0)
        extra_h = max(self.glw.height() - self.vb.height(), 0)
        side = max(min(self.width() - extra_w, self.height() - extra_h), 40)
        self.glw.setGeometry(
            0, 0, int(min(side + extra_w, self.width())), int(min(side + extra_h, self.height()))
        )


class ListenView(QWidget):
    help_topic = "listen"  # its "?" (qt.help)
    settings_changed = Signal()  # the layer, the measure or the channel chosen
    shown = Signal()  # the view came on screen: it wants the typed text's alpha

    def __init__(self, parent=None):
        super().__init__(parent)
        self.cfg: ModelConfig | None = None
        self.listening: Listening | None = None
        self.values = np.zeros((0, 0))  # alpha as shown (NaN: blank)
        self.tokens: list[str] = []
        self.unknown: np.ndarray | None = None  # True where a token is not in the vocabulary
        self.every = 1
        self.partial = ""  # "rows 0..k of T so far", while they are being computed
        self.layer = QComboBox()
        self.measure = compact(QComboBox(), 10)
        self.channel = QSpinBox()
        self.channel.setSpecialValueText("all")
        self.channel.setMinimum(-1)
        self.channel.setToolTip(
            "An S6 channel: its hidden attention \u03b1(t,s) (Ali et al. 2024); all: the parts' norm"
        )
        self.log = QCheckBox("log scale")
        self.log.setChecked(True)
        self.log.setToolTip(
            f"\u03b1 on a log scale over {LOG_DECADES} decades below its largest |\u03b1| (signed: "
            "sign \u00d7 log, smaller values at 0)"
        )
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        self.channel_label = QLabel("channel")
        shown = (
            QLabel("Layer"),
            self.layer,
            QLabel("\u03b1"),
            self.measure,
            self.channel_label,
            self.channel,
        )
        for w in (*shown, self.log):
            head.addWidget(w)
        head.addStretch(1)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.glw, self.plot = self._build_plot()
        self.square = _Square(self.glw, self.plot.vb)
        self.readout = readout_label()
        self.readout.setText(HINT)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        lay.addLayout(head)
        lay.addWidget(self.caption)
        lay.addWidget(self.square, 1)
        lay.addWidget(self.readout)
        for signal in (
            self.layer.currentIndexChanged,
            self.measure.currentIndexChanged,
            self.channel.valueChanged,
        ):
            signal.connect(self._on_setting)
        self.log.toggled.connect(lambda _on: self._draw())
        self.set_model(None)

    def _build_plot(self) -> tuple[pg.GraphicsLayoutWidget, pg.PlotItem]:
        glw = pg.GraphicsLayoutWidget()
        glw.ci.setContentsMargins(2, 2, 2, 2)
        plot = glw.addPlot(viewBox=EagerViewBox(), axisItems={"bottom": TokenAxis(), "left": RowTokenAxis()})
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.getAxis("bottom").setHeight(24)
        plot.invertY(True)
        plot.vb.setAspectLocked(True, 1.0)
        self.image = IndexImage()
        plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), interactive=False, width=12)
        self.colorbar.axis.enableAutoSIPrefix(False)
        plot.layout.addItem(self.colorbar, 2, 5)
        plot.layout.setColumnFixedWidth(4, 5)
        on_hover(plot, self._on_hover, lambda: self.readout.setText(HINT))
        plot.vb.sigResized.connect(self._set_ticks)
        return glw, plot

    # ---- what the view is set to -----------------------------------------------------------------
    def set_model(self, cfg: ModelConfig | None) -> None:
        """The choices a model offers: its layers, how its alpha is measured, its channels (S6)."""
        self.cfg = cfg
        boxes = (self.layer, self.measure, self.channel)
        for b in boxes:
            b.blockSignals(True)
        self.layer.clear()
        self.measure.clear()
        if cfg is not None:
            self.layer.addItems([str(n + 1) for n in range(cfg.layers)])
            if kind_of(cfg.arch) == JACOBIAN:
                self.measure.addItem("\u2016\u2202h_t/\u2202x_s\u2016", "norm")
            else:
                for m, name in MEASURE_NAMES.items():
                    self.measure.addItem(name, m)
            self.channel.setMaximum(cfg.hidden - 1)
        self.channel.setValue(-1)
        ssm = cfg is not None and cfg.arch == "ssm"
        self.channel.setVisible(ssm)
        self.channel_label.setVisible(ssm)
        self.measure.setEnabled(self.measure.count() > 1)
        for b in boxes:
            b.blockSignals(False)
        self.clear("Type a text: this view shows how much each step hears of every token before it.")

    def settings(self) -> tuple[int, str, int | None]:
        """(layer from 0, measure, channel or None), as chosen."""
        channel = self.channel.value() if self.channel.isVisible() and self.channel.value() >= 0 else None
        return max(self.layer.currentIndex(), 0), self.measure.currentData() or "norm", channel

    def clear(self, message: str) -> None:
        self.listening, self.values, self.tokens, self.partial = None, np.zeros((0, 0)), [], ""
        self.image.clear()
        self.caption.setText(message)
        self._set_ticks()

    def set_listening(self, listening: Listening, tokens=None, unknown=None) -> None:
        """Show alpha. tokens: the whole text's, when only its first rows are computed so far."""
        tokens = list(listening.tokens if tokens is None else tokens)
        T, k = len(tokens), listening.steps
        values = np.full((T, T), np.nan)
        values[:k, :k] = listening.alpha
        self.partial = f"computing: rows 0\u2013{k - 1} of {T} so far" if T > k else ""
        resized = values.shape != self.values.shape
        self.listening, self.values = listening, values
        self.unknown = None if unknown is None else np.asarray(unknown, bool)
        if resized or tokens != self.tokens:
            self.tokens = tokens
            self.plot.vb.setRange(xRange=(0, T), yRange=(0, T), padding=0)
        self._draw()
        self._set_ticks()
        self.square.fit()

    def refresh_colormaps(self) -> None:
        """Follow the colour-map preference (View > Colour maps)."""
        self._draw()

    # ---- drawing ---------------------------------------------------------------------------------
    def _draw(self) -> None:
        lis = self.listening
        if lis is None:
            return
        signed = lis.signed
        shown, (lo, hi), ticks = colour_scale(self.values, signed, self.log.isChecked())
        name = signed_cmap() if signed else positive_cmap()
        self.image.setImage(_indices(shown, lo, hi), autoLevels=False, levels=(0, 255))
        self.image.setLookupTable(_lut(name))
        self.image.setRect(0, 0, len(self.values), len(self.values))
        self.colorbar.setColorMap(colormap(name))
        self.colorbar.setLevels((lo, hi))
        self.colorbar.axis.setTicks([ticks, []])
        self._caption()

    def _caption(self) -> None:
        lis = self.listening
        if lis is None:
            return
        thinned = f"every {ordinal(self.every)} token labelled" if self.every > 1 else ""
        notes = [n for n in (self.partial, thinned) if n]
        self.caption.setText(lis.label + (" \u00b7 " + " \u00b7 ".join(notes) if notes else ""))

    def _set_ticks(self, *_args) -> None:
        """Token labels on both axes: all while they fit (shrunk down to MIN_LABEL_PT), else every
        k-th on both, the same k, evenly."""
        vb, T = self.plot.vb, len(self.tokens)
        (x0, x1), _ = vb.viewRange()
        unknown = self.unknown if self.unknown is not None else np.zeros(T, bool)
        labels = [
            show_token(tok) + ("?" if t < len(unknown) and unknown[t] else "")
            for t, tok in enumerate(self.tokens)
        ]
        if T == 0 or vb.width() < 20 or x1 <= x0:
            ticks, pt, every = [], LABEL_PT, 1
        else:
            every, pt = matrix_layout(labels, vb.width() / (x1 - x0))
            ticks = [(t + 0.5, labels[t]) for t in range(0, T, every)]
        self.plot.getAxis("bottom").set_labels(ticks, pt)
        self.plot.getAxis("left").set_labels(ticks, pt)
        if every != self.every:
            self.every = every
            self._caption()

    def _on_hover(self, x: float, y: float) -> None:
        lis, T = self.listening, len(self.values)
        s, t = int(np.floor(x)), int(np.floor(y))
        if lis is None or not (0 <= s < T and 0 <= t < T):
            self.readout.setText(HINT)
            return
        who = f"t={t} {show_token(self.tokens[t])!r}"
        heard = f"s={s} {show_token(self.tokens[s])!r}"
        if s > t:
            self.readout.setText(f"{heard} comes after {who}: a step hears no later token")
        elif t >= lis.steps:
            self.readout.setText(f"{who}: still being computed")
        else:
            self.readout.setText(f"{who} listens to {heard}: {lis.symbol} = {fmt(float(self.values[t, s]))}")

    def _on_setting(self, *_args) -> None:
        self.measure.setEnabled(self.measure.count() > 1 and self.settings()[2] is None)
        self.settings_changed.emit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.shown.emit()


def matrix_layout(labels: list[str], px: float) -> tuple[int, float]:
    """(every, pt): every k-th token labelled, at pt points, on both axes of a matrix whose cells
    are `px` pixels square: every token at LABEL_PT, or shrunk down to MIN_LABEL_PT, while the
    labels fit side by side (along s) and one above the other (along t); else every k-th."""

    def rows(pt: float) -> float:  # a label's height, and a pixel between two
        return QFontMetricsF(label_font(pt)).height() * 0.8 + 1.0

    for pt in (LABEL_PT, (LABEL_PT + MIN_LABEL_PT) / 2, MIN_LABEL_PT):
        if max(max_pair_width(labels, pt) + LABEL_GAP, rows(pt)) <= px:
            return 1, pt
    need = max(max_label_width(labels, MIN_LABEL_PT) + LABEL_GAP, rows(MIN_LABEL_PT))
    return max(1, int(np.ceil(need / max(px, 1e-9)))), MIN_LABEL_PT


def power_of_ten(k: int) -> str:
    """10^k as a colour bar labels it: 0.01 .. 1000 written out, else 1e-5."""
    return f"{10.0**k:g}" if -2 <= k <= 3 else f"1e{k}"


def colour_scale(values: np.ndarray, signed: bool, log: bool):
    """(shown, (lo, hi), ticks): the values as coloured, the colour bar's levels and its labels.
    log: log10 over LOG_DECADES below the largest |value|; signed values on a symmetric log scale
    (sign(v) log10(|v| / f), f a power of ten LOG_DECADES below the largest: smaller is 0)."""
    finite = values[np.isfinite(values)]
    top = float(np.abs(finite).max()) if finite.size else 0.0
    if top <= 0 or not log:
        lo, hi = symmetric_levels(values, 1e-12) if signed else (0.0, max(top, 1e-12))
        return values, (lo, hi), [(v, fmt(v)) for v in (lo, (lo + hi) / 2, hi)]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(np.abs(values))
    if signed:
        f = np.floor(np.log10(top)) - LOG_DECADES + 1  # log10 of the floor
        hi = float(np.log10(top) - f)
        shown = np.sign(values) * np.clip(logs - f, 0.0, None)
        ticks = [(0.0, "0")] + [(s * k, ("\u2212" if s < 0 else "") + power_of_ten(int(f + k)))
                                for k in range(1, int(np.floor(hi)) + 1) for s in (1, -1)]  # fmt: skip
        return shown, (-hi, hi), ticks
    hi = float(np.log10(top))
    positive = finite[finite > 0]
    lo = max(float(np.log10(positive.min())), hi - LOG_DECADES)
    hi = hi if hi > lo else lo + 1
    ticks = [(k, power_of_ten(k)) for k in range(int(np.ceil(lo)), int(np.floor(hi)) + 1)]
    return logs, (lo, hi), ticks or [(hi, fmt(10.0**hi))]


def _indices(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Colour indices: 1..255 from lo to hi (clipped), 0 for NaN (blank: transparent)."""
    scaled = (np.asarray(values, dtype=np.float64) - lo) * (254.0 / max(hi - lo, 1e-30)) + 1.5
    scaled = np.clip(np.nan_to_num(scaled, nan=0.0, neginf=1.0, posinf=255.0), 0, 255)
    return np.ascontiguousarray(np.where(np.isnan(values), 0, np.maximum(scaled, 1)), dtype=np.uint8)


def _lut(name: str) -> np.ndarray:
    """(256, 4) colours: 0 transparent, 1..255 the map."""
    out = np.zeros((256, 4), np.uint8)
    out[1:, :3] = colormap(name).getLookupTable(nPts=255, alpha=False)
    out[1:, 3] = 255
    return out
