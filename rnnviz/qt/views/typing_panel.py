"""TypingPanel: the box the user types into, the top-k next tokens, and a continuation."""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from rnnviz.core.probe import Probe
from rnnviz.qt.views.common import ReadoutLabel, compact, is_dark, show_token
from rnnviz.qt.views.predictions import PredictionBars

TOP_PREDICTION = "top prediction"
COMPARE_MODES = ("A", "B", "A \u2212 B")
CONT_LINES = 2  # lines of the continuation label
CONTINUATION_BLUE = {False: "#0072B2", True: "#56B4E9"}  # Okabe-Ito blue, sky blue on a dark theme


class TypingPanel(QWidget):
    text_changed = Signal(str)
    compare_changed = Signal(str)  # the second text (B), "" for none
    compare_mode_changed = Signal(int)  # what the Inside views show: 0 A, 1 B, 2 A - B
    target_changed = Signal(object)  # a token, or None for the top prediction
    continuation_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._attributed = None  # the trace the attribution line shows (laid out again on a resize)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(mono.pointSizeF() * 1.25)
        self.editor = QPlainTextEdit()
        self.editor.setFont(mono)
        self.editor.setPlaceholderText("Type here: every keystroke is traced through the network")
        self.editor.setFixedHeight(int(self.editor.fontMetrics().lineSpacing() * 2.4) + 12)
        self.editor.textChanged.connect(lambda: self.text_changed.emit(self.editor.toPlainText()))
        self.info = QLabel(" ")
        self.info.setWordWrap(True)
        # Labels of fixed heights: a label that grows or shrinks by a line re-lays out the window,
        # and every plot below it repaints whole (measured: twice the paint work per keystroke).
        self.info.setFixedHeight(self.info.fontMetrics().lineSpacing() * 2 + 4)
        self.target = compact(QComboBox(), 10)
        self.target.setEditable(False)
        self.target.addItem(TOP_PREDICTION)
        self.target.setToolTip("The token whose -log p at the last step is differentiated for ||dL/dh_t||")
        self.target.currentTextChanged.connect(self._on_target)
        self.bars = PredictionBars()
        self.compare = QLineEdit()
        self.compare.setPlaceholderText("compare with: a second text (B)")
        self.compare.setToolTip(
            "A second text, B: the Inside views can show it or A \u2212 B (aligned at the ends), "
            "and the Patching tab shows where the two differ"
        )
        self.compare.textChanged.connect(self.compare_changed)
        self.compare_mode = compact(QComboBox(), 6)
        self.compare_mode.addItems(COMPARE_MODES)
        self.compare_mode.setToolTip(
            "What the Inside views show: the typed text A, the text B, or A \u2212 B"
        )
        self.compare_mode.setEnabled(False)
        self.compare_mode.currentIndexChanged.connect(self.compare_mode_changed)
        self.bars_b = ReadoutLabel(" ")  # elided to its width, whole on hover
        self.bars_b.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.bars_b.setFixedHeight(self.bars_b.fontMetrics().lineSpacing() + 4)
        self.bars_b.setMinimumWidth(10)
        self.cont_len = QSpinBox()
        self.cont_len.setRange(0, 500)
        self.cont_len.setValue(32)
        self.cont_len.setSuffix(" tok.")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.5)
        self.temperature.setPrefix("T = ")
        self.temperature.setToolTip("Sampling temperature; 0 always picks the most likely token")
        for box in (self.cont_len, self.temperature):
            box.valueChanged.connect(self.continuation_changed)
        self.continuation = QLabel(" ")
        self.continuation.setWordWrap(True)
        self.continuation.setFont(mono)
        self.continuation.setFixedHeight(self.continuation.fontMetrics().lineSpacing() * CONT_LINES + 6)
        self.continuation.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.continuation.setTextFormat(Qt.TextFormat.RichText)
        self.continuation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.attribution = QLabel(" ")
        self.attribution.setTextFormat(Qt.TextFormat.RichText)
        self.attribution.setFont(mono)
        self.attribution.setFixedHeight(self.attribution.fontMetrics().lineSpacing() + 8)
        self.attribution.setMinimumWidth(10)
        self.attribution.setToolTip(
            "Input attribution: how much each token matters to the prediction whose gradient is shown, "
            "||d log p(target) / dx_t||^2 (darker: more; log scale over four decades)"
        )
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.addWidget(self.editor, 0, 0, 1, 4)
        grid.addWidget(self.bars, 0, 4, 4, 1)
        compare = QHBoxLayout()
        compare.setContentsMargins(0, 0, 0, 0)
        compare.addWidget(self.compare, 1)
        compare.addWidget(self.compare_mode)
        grid.addLayout(compare, 2, 2, 1, 2)
        grid.addWidget(self.bars_b, 4, 4)
        grid.addWidget(self.info, 1, 0, 1, 4)
        grid.addWidget(QLabel("Gradient of"), 2, 0)
        grid.addWidget(self.target, 2, 1)
        grid.addWidget(QLabel("Continue"), 3, 0)
        grid.addWidget(self.cont_len, 3, 1)
        grid.addWidget(self.temperature, 3, 2)
        grid.addWidget(self.continuation, 4, 0, 1, 4)
        grid.addWidget(self.attribution, 5, 0, 1, 5)
        grid.setColumnStretch(3, 3)
        grid.setColumnStretch(4, 2)

    def set_vocab(self, tokens) -> None:
        """Offer every token (but <unk>) as a gradient target."""
        current = self.target.currentText()
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItem(TOP_PREDICTION)
        for tok in tokens[1:]:
            self.target.addItem(repr(show_token(tok)), tok)
        idx = self.target.findText(current)
        self.target.setCurrentIndex(max(idx, 0))
        self.target.blockSignals(False)

    def target_token(self) -> str | None:
        return self.target.currentData()

    def _on_target(self) -> None:
        self.target_changed.emit(self.target_token())

    def show_probe(self, probe: Probe, selected: int | None) -> None:
        tr = probe.trace
        if tr is None:
            self.bars.clear()
            self.info.setText("Type some text (in-vocabulary tokens work best).")
            return
        t = tr.steps - 1 if selected is None or selected >= tr.steps else selected
        self.bars.set_probs(tr.probs[t], tr.vocab, f"next after step {t} {show_token(tr.tokens[t])!r}:")
        if probe.window == "word":
            parts = [f"reads the last word only, as it was trained: {tr.steps} letters"]
        elif probe.window is not None and probe.clipped:
            parts = [
                f"reads the last {probe.window} tokens only, as it was trained ({probe.window}-token windows)"
            ]
        elif probe.clipped:
            parts = [f"showing the last {tr.steps} tokens of {probe.total_chars:,} characters"]
        else:
            parts = [f"{tr.steps} tokens"]
        if probe.unknown:
            shown = ", ".join(repr(u) for u in probe.unknown[:6])
            parts.append(f"not in the vocabulary: {shown} (read as <unk>)")
        self.info.setText(" \u00b7 ".join(parts))

    def show_compared(self, probe: Probe | None) -> None:
        """B's most likely next tokens, in one line under A's bars (empty without B)."""
        tr = None if probe is None else probe.trace
        self.compare_mode.setEnabled(tr is not None)
        if tr is None:
            self.bars_b.setText(" ")
            return
        top = np.argsort(tr.probs[-1])[::-1][:3]
        shown = " \u00b7 ".join(f"{show_token(tr.vocab[i])!r} {tr.probs[-1, i]:.2f}" for i in top)
        self.bars_b.setText(f"B: {shown}")

    def show_attribution(self, tr) -> None:
        """The typed tokens on a shade of their attribution to the current prediction."""
        self._attributed = tr
        if tr is None or tr.attribution is None:
            self.attribution.setText(" ")
            return
        a = tr.attribution
        top = float(a.max()) if a.size else 0.0
        char = max(self.attribution.fontMetrics().averageCharWidth(), 1)
        head = f"attribution \u2192 {tr.vocab[tr.target_id]!r}: "
        room = max(10, self.attribution.width() // char - len(head) - 3)  # 1 for a leading "..."
        first, used = len(tr.tokens), 0
        while first > 0 and used + len(tr.tokens[first - 1]) + 1 <= room:
            first -= 1
            used += len(tr.tokens[first]) + (tr.level == "word")
        parts = []
        for t in range(first, len(tr.tokens)):
            strength = 0.0 if top <= 0 or a[t] <= 0 else float(np.clip(1 + np.log10(a[t] / top) / 4, 0, 1))
            tok = html.escape(show_token(tr.tokens[t]))
            parts.append(
                f"<span style='background-color:rgba(213,94,0,{0.08 + 0.8 * strength:.2f})'>{tok}</span>"
            )
        sep = " " if tr.level == "word" else ""
        best = int(np.argmax(a)) if a.size else 0
        cut = "\u2026" if first > 0 else ""  # the start left out says so
        self.attribution.setText(
            f"<span style='color:#777'>{html.escape(head)}{cut}</span>" + sep.join(parts)
        )
        self.attribution.setToolTip(
            f"Input attribution ||d log p({tr.vocab[tr.target_id]!r}) / dx_t||^2: how much each token "
            f"matters to that prediction (darker: more; log scale over four decades). Most: step {best} "
            f"{show_token(tr.tokens[best])!r} ({a[best]:.3g})."
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._attributed is not None:  # as many tokens as the new width holds
            self.show_attribution(self._attributed)

    def show_continuation(self, typed: str, more: str) -> None:
        """The end of the typed text, then the continuation in blue: as much typed text as leaves
        the continuation room in the label's lines."""
        per_line = max(
            20, self.continuation.width() // max(self.continuation.fontMetrics().averageCharWidth(), 1)
        )
        room = max(0, per_line * CONT_LINES - len(more) - per_line // 2)
        tail = typed[-room:] if room else ""
        self._continued = (typed, more)
        blue = CONTINUATION_BLUE[is_dark(self.palette())]
        self.continuation.setText(
            f"<span>{html.escape(tail)}</span><b style='color:{blue}'>{html.escape(more)}</b>"
            if more
            else " "
        )

    def changeEvent(self, event) -> None:
        """A new theme: the continuation takes the blue that reads on it."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "_continued", None):
            self.show_continuation(*self._continued)
