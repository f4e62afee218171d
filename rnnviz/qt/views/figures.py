"""FiguresPanel: a preset's figures for the model as it trains, beside their references; for the
last-letter words, every word with the letter the model predicts for it."""

from __future__ import annotations

import math

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from rnnviz.core.presets import FIGURES, Preset, figure_text

GOOD, BAD, MUTED = QColor("#009E73"), QColor("#D55E00"), QColor("#777777")


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
    t.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for k in range(1, len(headers)):
        t.horizontalHeader().setSectionResizeMode(k, QHeaderView.ResizeMode.ResizeToContents)
    return t


class FiguresPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel()
        bold = QFont()
        bold.setBold(True)
        self.title.setFont(bold)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.table = _table(["figure", "value"])
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.words = _table(["word", "reads", "predicts", "p"])
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet(f"color: {MUTED.name()};")
        lay = QVBoxLayout(self)
        for w in (self.title, self.summary, self.table, self.words, self.caption):
            lay.addWidget(w)
        lay.setStretch(3, 1)
        self.doc: dict = {}
        self.set_preset(None)

    def set_preset(self, preset: Preset | None) -> None:
        self.preset = preset
        self.title.setText(preset.title if preset else "No preset")
        self.summary.setText(
            preset.summary if preset else "Choose one from the Presets menu: its figures appear here."
        )
        self.table.setRowCount(0)
        self.words.setRowCount(0)
        self.words.setVisible(preset is not None and preset.train.samples == "words")
        self.caption.setText("")
        self.doc = {}

    def show_figures(self, doc: dict) -> None:
        """doc: presets.Scorer.figures(...) plus "steps" (and "seconds" of training, if known)."""
        self.doc = doc
        rows = [(k, label, own) for k, label, own in FIGURES if _finite(doc.get(k))]
        self.table.setRowCount(len(rows))
        target = doc.get("target_accuracy")
        for r, (key, label, own) in enumerate(rows):
            name = QTableWidgetItem(label if own else f"reference: {label}")
            value = QTableWidgetItem(figure_text(key, doc[key]))
            if not own:
                for item in (name, value):
                    item.setForeground(QBrush(MUTED))
            elif key == "accuracy" and target is not None:
                value.setForeground(QBrush(GOOD if doc[key] >= target else BAD))
            self.table.setItem(r, 0, name)
            self.table.setItem(r, 1, value)
        self._show_words(doc.get("words") or [])
        when = f"after {doc['steps']:,} updates" if "steps" in doc else ""
        if doc.get("seconds"):
            when += f" ({doc['seconds']:.1f} s of training)"
        if target is not None:
            when += f" \u00b7 target: {target:.0%} accuracy"
            if "target_seconds" in doc:
                when += f" within {doc['target_seconds']:.0f} s of training"
            if "target_reached_seconds" in doc:
                when += f" \u00b7 reached after {doc['target_reached_seconds']:.1f} s"
        self.caption.setText(when)

    def _show_words(self, rows: list[dict]) -> None:
        self.words.setRowCount(len(rows))
        for r, row in enumerate(rows):
            word, guess = row["word"], row["predicted"]
            ok = guess == word[-1]
            items = (word, word[:-1], guess, f"{row['p']:.2f}")
            for c, text in enumerate(items):
                item = QTableWidgetItem(text)
                if c == 2:
                    item.setForeground(QBrush(GOOD if ok else BAD))
                    item.setToolTip("right" if ok else f"wrong: the last letter is {word[-1]!r}")
                self.words.setItem(r, c, item)


def _finite(v) -> bool:
    return isinstance(v, float) and math.isfinite(v)
