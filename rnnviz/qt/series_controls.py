"""SeriesControls: the forecaster window's left column: the model's settings (applied on Reset),
Play / Step / Reset, and the figures table (this model's MSEs beside the references)."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.presets import Preset
from rnnviz.core.protocol import SessionInfo
from rnnviz.core.snapshot import Snapshot
from rnnviz.qt.arch_box import ARCH_TIP, arch_box, set_arch

TARGET_MSE = 0.36  # issue 5: the forecaster should reach a test MSE at most this
MAX_HIDDEN = 512
GOOD, BAD, MUTED = QColor("#009E73"), QColor("#D55E00"), QColor("#777777")
# key -> (row label, tooltip); the model's own figures first, then the references (greyed).
OWN = {
    "train_mse": ("train MSE", "This model's mean squared error on every training window"),
    "test_mse": ("test MSE", f"This model's MSE on the held-out test part; target \u2264 {TARGET_MSE}"),
}
REFERENCES = {
    "prev_value_mse": ("predict the previous value", "The naive forecast x(t+1) = x(t), on the test part"),
    "noise_floor": ("noise floor (variance of 2u = 1/3)", "No forecaster can beat this MSE on average"),
    "perfect_test_mse": ("perfect forecaster on this test part",
                         "The true sin(0.02t) + 1 as forecast: the MSE of the noise actually drawn there"),
    "tutorial_train_mse": ("tutorial's Keras RNN (train MSE)", "The figure the tutorial reported"),
}  # fmt: skip


def _spin(lo: int, hi: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setToolTip(tip)
    return box


def _table() -> QTableWidget:
    t = QTableWidget(0, 2)
    t.setHorizontalHeaderLabels(["figure", "MSE"])
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
    t.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    t.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
    t.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
    return t


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


class SeriesControls(QWidget):
    def __init__(self, preset: Preset, parent=None):
        super().__init__(parent)
        title = QLabel(preset.title)
        bold = QFont()
        bold.setBold(True)
        title.setFont(bold)
        title.setWordWrap(True)
        summary = QLabel(preset.summary)
        summary.setWordWrap(True)
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.arch = arch_box()  # every architecture forecasts: a value model reads x_t as one number
        self.arch.setToolTip("RNN: tanh RNN (the tutorial's SimpleRNN); the others have gates\n" + ARCH_TIP)
        self.hidden = _spin(1, MAX_HIDDEN, "Hidden units of the recurrent layer")
        self.window = _spin(2, 64, "How many past values each forecast reads (the tutorial used 4)")
        self.lr = QLineEdit()
        self.lr.setToolTip("Learning rate of the optimiser (RMSprop, as in the tutorial)")
        form = QFormLayout()
        for label, w in (("Architecture", self.arch), ("Hidden units", self.hidden),
                         ("Window length", self.window), ("Learning rate", self.lr)):  # fmt: skip
            form.addRow(label, w)
        note = QLabel("Changes apply on Reset.")
        note.setStyleSheet(f"color: {MUTED.name()}; font-style: italic;")
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Train / pause (Space or F5)")
        self.step = QPushButton("Step")
        self.step.setToolTip("One training step (F6)")
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("A new model with fresh weights and the settings above")
        self.play.toggled.connect(lambda on: self.play.setText("Pause" if on else "Play"))
        buttons = QHBoxLayout()
        for b in (self.play, self.step, self.reset):
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves Space to the window: it plays
            buttons.addWidget(b)
        self.progress = QLabel("paused at update 0")
        self.progress.setWordWrap(True)
        self.table = _table()
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setStyleSheet(f"color: {MUTED.name()};")
        lay = QVBoxLayout(self)
        for w in (title, summary, self.source):
            lay.addWidget(w)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addLayout(buttons)
        for w in (self.progress, self.table, self.caption):
            lay.addWidget(w)
        lay.addStretch(1)
        self.setMinimumWidth(280)

    def learning_rate(self) -> float:
        text = self.lr.text().strip()
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"the learning rate must be a number, not {text!r}") from None

    def show_config(self, info: SessionInfo) -> None:
        m, cfg, s = info.model_cfg, info.cfg, info.corpus
        set_arch(self.arch, m.arch)
        self.hidden.setValue(min(m.hidden, MAX_HIDDEN))
        self.window.setValue(cfg.seq_len)
        self.lr.setText(f"{cfg.lr:g}")
        n = len(s.values)
        self.source.setText(f"data: {s.name} \u00b7 {n:,} values: train {s.split:,} | test {n - s.split:,}")

    def set_playing(self, on: bool) -> None:
        self.play.blockSignals(True)
        self.play.setChecked(on)
        self.play.blockSignals(False)
        self.play.setText("Pause" if on else "Play")

    def show_progress(self, snap: Snapshot, playing: bool) -> None:
        text = f"{'training' if playing else 'paused'} at update {snap.updates:,}"
        if snap.evaluation is not None and _finite(snap.evaluation.loss):
            text += f" \u00b7 test MSE {snap.evaluation.loss:.4g} at step {snap.evaluation.step:,}"
        self.progress.setText(text)

    def show_figures(self, doc: dict, tutorial: bool) -> None:
        """doc: Scorer.figures(...) (+ "steps"); {} before the first score. `tutorial`: show its row
        (the tutorial's figure is about the built-in sine only)."""
        rows = list(OWN.items()) + [
            (k, v) for k, v in REFERENCES.items() if _finite(doc.get(k)) and (tutorial or "tutorial" not in k)
        ]
        self.table.setRowCount(len(rows))
        for r, (key, (label, tip)) in enumerate(rows):
            v = doc.get(key)
            name, value = QTableWidgetItem(label), QTableWidgetItem(f"{v:.4g}" if _finite(v) else "\u2014")
            for item in (name, value):
                item.setToolTip(tip)
                if key not in OWN:
                    item.setForeground(QBrush(MUTED))
            if key == "test_mse" and _finite(v):
                value.setForeground(QBrush(GOOD if v <= TARGET_MSE else BAD))
                value.setFont(self._bold())
            self.table.setItem(r, 0, name)
            self.table.setItem(r, 1, value)
        when = f"after {doc['steps']:,} updates \u00b7 " if "steps" in doc else ""
        self.caption.setText(
            f"{when}target: test MSE \u2264 {TARGET_MSE} (green when reached). Grey rows are references."
        )

    @staticmethod
    def _bold() -> QFont:
        f = QFont()
        f.setBold(True)
        return f

    def figure(self, label: str) -> str:
        """The table's text for a row (for tests and the status bar)."""
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).text() == label:
                return self.table.item(r, 1).text()
        raise KeyError(label)
