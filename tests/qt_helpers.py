"""Real traces of small real models, for the Qt view tests."""

import numpy as np
import torch
from PySide6.QtCore import QEvent, QObject

from rnnviz.core.corpus import Vocab
from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.core.trace import TraceWeights, trace

VOCAB = Vocab(("<unk>", " ", "a", "c", "e", "l", "m", "o", "w"), "char")


def real_trace(arch="lstm", layers=2, hidden=6, text="welcome", target_id=None):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=len(VOCAB), arch=arch, layers=layers, hidden=hidden)
    w = TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg)))
    tokens = list(text)
    return trace(w, VOCAB.ids(tokens), tokens=tokens, vocab=VOCAB.tokens, level="char", target_id=target_id)


def assert_image(item, expected: np.ndarray) -> None:
    np.testing.assert_array_equal(item.image, expected)


def assert_heatmap(m, expected: np.ndarray) -> None:
    """A SequenceHeatmap shows `expected` (units x steps): it keeps the values (hover reads them)
    and draws each as its colour index between the colour bar's levels."""
    from rnnviz.qt.views.heatmap import quantise

    np.testing.assert_array_equal(m.data.T, expected)
    lo, hi = m.levels()
    np.testing.assert_array_equal(m.image.image, quantise(expected, lo, hi))
    assert m.image.image.dtype == np.uint8 and tuple(m.image.levels) == (0, 255)


def open_main_window(qtbot, timeout: int = 15_000):
    """The app's main window at 1400x880, shown, with its first trace of the welcome text."""
    from rnnviz.qt.main_window import MainWindow
    from rnnviz.qt.views.common import configure_pyqtgraph

    configure_pyqtgraph()
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    w.show()
    qtbot.waitUntil(lambda: w.latest is not None and w.text.last.trace is not None, timeout=timeout)
    return w


class PaintStamps(QObject):
    """An event filter that calls `note` whenever the widget it filters is painted (keep a
    reference to it: a filter is not owned by what it filters)."""

    def __init__(self, note):
        super().__init__()
        self.note = note

    def eventFilter(self, _obj, event):
        if event.type() == QEvent.Type.Paint:
            self.note()
        return False
