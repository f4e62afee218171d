"""Ten thousand seeded random keystrokes and edits in the typing box: no exception, and the
views always show the text that is in the box."""

import random

import numpy as np
import pytest
from PySide6.QtGui import QTextCursor

from rnnviz.core.checkpoint import save_checkpoint
from rnnviz.core.corpus import Corpus, tokenize
from rnnviz.core.model import ModelConfig
from rnnviz.core.train import TrainConfig, Trainer
from rnnviz.qt.main_window import MainWindow
from rnnviz.qt.views.common import configure_pyqtgraph

POOL = list("abcdefghijklmnopqrstuvwxyz    ..,!?()'\"\n\t") + [
    "\u00e9",
    "e\u0301",
    "\u0436",
    "\u6f22",
    "\U0001f600",
    "\x07",
    "\x1b",
    "\u200b",
    "<unk>",
    "\r\n",
]
OPS = 10_000


@pytest.fixture
def small_model(tmp_path):
    corpus = Corpus.from_text("hello (world), the keeper counted ships.\n" * 50, "char")
    tr = Trainer(
        corpus,
        ModelConfig(vocab_size=len(corpus.vocab), hidden=12, layers=2),
        TrainConfig(seq_len=16, batch=4),
        device="cpu",
    )
    for _ in range(3):
        tr.step()
    path = tmp_path / "small.safetensors"
    save_checkpoint(path, tr.model_cfg, corpus.vocab, tr.snapshot().weights, steps=tr.updates)
    return str(path)


def check_views(w: MainWindow) -> None:
    text = w.typing.editor.toPlainText()
    tokens = tokenize(text, "char")[-w.text.probe.max_tokens :]
    tr = w.text.last.trace
    if not tokens:
        assert tr is None
        return
    assert list(tr.tokens) == tokens
    assert w.internals.h_maps[1].image.image.shape == (12, len(tokens))
    assert w.internals.gate_maps["o"].image.image.shape == (12, len(tokens))
    assert len(w.internals.grads.bars[0].opts["height"]) <= len(tokens)
    t = len(tokens) - 1 if w.text.selected is None else w.text.selected
    top = int(np.argmax(tr.probs[t]))
    assert w.typing.bars.rows[0][2] == top or tr.probs[t][w.typing.bars.rows[0][2]] == tr.probs[t][top]


def edit(rng: random.Random, cursor: QTextCursor, length: int) -> None:
    op = rng.random()
    if length > 100 or op < 0.01:
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.removeSelectedText()
    elif op < 0.55:
        cursor.insertText(rng.choice(POOL))
    elif op < 0.70:
        cursor.deletePreviousChar()
    elif op < 0.78:
        cursor.deleteChar()
    elif op < 0.88:
        cursor.setPosition(rng.randint(0, length))
    elif op < 0.95:
        a, b = sorted(rng.randint(0, length) for _ in range(2))
        cursor.setPosition(a)
        cursor.setPosition(b, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
    else:
        cursor.insertText("".join(rng.choice(POOL) for _ in range(rng.randint(2, 40))))


def test_ten_thousand_random_edits(qtbot, qapp, small_model):
    configure_pyqtgraph()
    w = MainWindow(model=small_model)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.text.probe.weights is not None, timeout=10_000)
    w.typing.cont_len.setValue(0)
    w.internals.show_box.setCurrentIndex(2)  # everything: the gates too (hidden, they wait)
    editor = w.typing.editor
    editor.clear()
    rng = random.Random(20261122)
    for n in range(OPS):
        cursor = editor.textCursor()
        edit(rng, cursor, len(editor.toPlainText()))
        editor.setTextCursor(cursor)
        if rng.random() < 0.03 and w.text.last.trace is not None:
            w.text.select_step(rng.randrange(w.text.last.trace.steps + 2))  # also steps past the end
        if n % 50 == 0:
            check_views(w)
    check_views(w)
    w.close()
