"""SamplesView: text sampled from the model at a chosen temperature, refreshed every N steps."""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


class SamplesView(QWidget):
    sample_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.8)
        self.temperature.setPrefix("T = ")
        self.length = QSpinBox()
        self.length.setRange(1, 5000)
        self.length.setValue(300)
        self.length.setSuffix(" tok.")
        self.every = QSpinBox()
        self.every.setRange(1, 100_000)
        self.every.setValue(200)
        self.every.setPrefix("every ")
        self.every.setSuffix(" steps")
        now = QPushButton("Now")
        now.setToolTip("Sample now")
        now.clicked.connect(self.sample_requested)
        row = QHBoxLayout()
        for w in (self.temperature, self.length, now):
            row.addWidget(w)
        row.addStretch(1)
        self.every.setMinimumWidth(self.every.minimumSizeHint().width())
        self.every.setToolTip("Draw a new sample every this many training steps")
        self.temperature.setMinimumWidth(self.temperature.sizeHint().width() + 12)
        self.caption = QLabel("Samples appear as the model trains.")
        self.caption.setWordWrap(True)
        self.caption.setMinimumWidth(10)
        below = QHBoxLayout()  # (on the first row, the three boxes made the tab too wide for 1280 px)
        below.addWidget(self.caption, 1)
        below.addWidget(self.every)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setMaximumBlockCount(2000)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addLayout(below)
        lay.addWidget(self.text, 1)
        self.last_step: int | None = None

    def due(self, step: int) -> bool:
        return self.last_step is None or step - self.last_step >= self.every.value() or step < self.last_step

    def show_sample(self, step: int, text: str) -> None:
        self.last_step = step
        self.caption.setText(f"Sample at step {step}, temperature {self.temperature.value():.1f}:")
        self.text.setPlainText(text)

    def state(self) -> dict:
        """What a saved session keeps: the settings, the sample shown and its step."""
        return {"temperature": self.temperature.value(), "length": self.length.value(),
                "every": self.every.value(), "step": self.last_step, "caption": self.caption.text(),
                "text": self.text.toPlainText()}  # fmt: skip

    def restore(self, saved) -> None:
        """state() back; values of the wrong kind (a hand-edited file) are left out."""
        saved = saved if isinstance(saved, dict) else {}
        for box, key in ((self.temperature, "temperature"), (self.length, "length"), (self.every, "every")):
            value = saved.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                box.setValue(type(box.value())(min(max(value, box.minimum()), box.maximum())))
        if isinstance(saved.get("text"), str) and isinstance(saved.get("caption"), str):
            self.text.setPlainText(saved["text"])
            self.caption.setText(saved["caption"])
            step = saved.get("step")
            self.last_step = step if isinstance(step, int) and not isinstance(step, bool) else None
