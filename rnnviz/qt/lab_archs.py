"""ArchPicker: which architectures the gradient lab trains side by side: a check box for each of the
six, in its colour, at most MAX_ARCHS and at least one checked."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QWidget

from rnnviz.core.config import ARCH_NAMES, ARCHS, MODERN_ARCHS
from rnnviz.core.lab import MAX_ARCHS, check_archs
from rnnviz.qt.theme import ARCH_COLOURS

TIPS = {
    "rnn": "tanh RNN: h_t = tanh(W_ih x_t + W_hh h_(t-1) + b)",
    "lstm": "LSTM: its memory is the cell state c, kept by the forget gate f",
    "gru": "GRU: its update gate z copies h forward",
    "mingru": "minGRU: h_t = (1 - z_t) h_(t-1) + z_t h~_t, z_t from x_t only (no W_hh)",
    "minlstm": "minLSTM: h_t = f'_t h_(t-1) + i'_t h~_t, gates from x_t only (no W_hh)",
    "ssm": "S6 (Mamba's selective SSM): its state s_t is H x N; its gradient curve is that of dL/ds",
}


class ArchPicker(QWidget):
    refused = Signal(str)  # why a click was undone (a 4th model, or none left)

    def __init__(self, archs=ARCHS[:3], parent=None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        label = QLabel(f"Models (\u2264 {MAX_ARCHS}):")
        label.setToolTip(f"The architectures trained side by side: 1 to {MAX_ARCHS}; they apply on Reset")
        lay.addWidget(label)
        self.boxes: dict[str, QCheckBox] = {}
        for a in ARCHS:
            box = QCheckBox(ARCH_NAMES[a])
            box.setStyleSheet(f"QCheckBox {{ color: {ARCH_COLOURS[a]}; font-weight: bold; }}")
            no_w_hh = " Scaling W_hh does not apply." if a in MODERN_ARCHS else ""
            box.setToolTip(TIPS[a] + "." + no_w_hh)
            box.toggled.connect(lambda on, a=a: self._on_toggled(a, on))
            lay.addWidget(box)
            self.boxes[a] = box
        self.set_archs(archs)

    def archs(self) -> tuple[str, ...]:
        """The checked architectures, in the order of config.ARCHS."""
        return tuple(a for a in ARCHS if self.boxes[a].isChecked())

    def set_archs(self, archs) -> None:
        chosen = set(check_archs(archs))
        for a, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(a in chosen)
            box.blockSignals(False)

    def _on_toggled(self, arch: str, on: bool) -> None:
        n = len(self.archs())
        if on and n > MAX_ARCHS:
            why = f"at most {MAX_ARCHS} models side by side: uncheck one first"
        elif not on and n == 0:
            why = "at least one model"
        else:
            return
        box = self.boxes[arch]
        box.blockSignals(True)
        box.setChecked(not on)
        box.blockSignals(False)
        self.refused.emit(why)
