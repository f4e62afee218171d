"""The architecture chooser of the training settings (main window, noisy-sine window): every
architecture by the name people write it with, the config's name ("ssm") as the item's data."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

from rnnviz.core.config import ARCH_NAMES, ARCHS

# The order offered (the main window's default, the LSTM, first); as people write them.
ARCH_ORDER = ("lstm", "gru", "rnn", "mingru", "minlstm", "ssm")
ARCH_LABELS = ARCH_NAMES | {"ssm": "S6 (selective SSM)"}
ARCH_TIP = (
    "LSTM, GRU, RNN: gates that read h_(t-1), through the recurrent matrix W_hh\n"
    "minGRU, minLSTM (Feng et al. 2024): gates that read x_t only; trained as a parallel scan\n"
    "S6 (Mamba's selective SSM): N states per channel, s_t = exp(\u0394_t A) s_(t-1) + \u0394_t B_t u_t"
)
assert sorted(ARCH_ORDER) == sorted(ARCHS)


def arch_box(archs=ARCH_ORDER) -> QComboBox:
    """A combo box of `archs` by their names; currentData() is the config's name."""
    box = QComboBox()
    for arch in archs:
        box.addItem(ARCH_LABELS[arch], arch)
    box.setToolTip(ARCH_TIP)
    return box


def set_arch(box: QComboBox, arch: str) -> None:
    """Choose `arch` (a config's name) in a box made by arch_box; one it does not offer: no change."""
    index = box.findData(arch)
    if index >= 0:
        box.setCurrentIndex(index)
