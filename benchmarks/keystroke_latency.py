"""Keystroke to every view updated: the real MainWindow (offscreen) with a 2-layer LSTM of 256
units training, a 200-token text, one character typed (qtbot-style key events) at a time.

Each keystroke is timed from the key press to the end of the synchronous update it triggers
(trace, heatmaps, gates, gradient bars, predictions, continuation). Target (issue 7): p50 <= 8 ms,
p99 <= 16 ms. Prints the figures; asserts nothing.
Run: QT_QPA_PLATFORM=offscreen python benchmarks/keystroke_latency.py [--keys 300] [--layers 2]
     [--hidden 256] [--tokens 200]
"""

import argparse
import os
import random
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from rnnviz.qt.views.common import configure_pyqtgraph  # noqa: E402

TEXT = (
    "The keeper counted the ships that passed the point every night and wrote them down in a "
    "small green book with the hour, the wind and the colour of the lights they showed. "
)


def pump(app, seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=300)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=200)
    a = ap.parse_args()
    app = QApplication([])
    configure_pyqtgraph()
    from rnnviz.qt.main_window import MainWindow

    w = MainWindow()
    w.resize(1440, 900)
    w.show()
    c = w.controls
    c.layers.setValue(a.layers)
    c.hidden.setValue(a.hidden)
    w._on_reset()
    pump(app, 1.0)
    editor = w.typing.editor
    editor.setPlainText((TEXT * 20)[: a.tokens - 1])
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    w.runner.worker.play()
    pump(app, 2.0)
    rng, times = random.Random(0), []
    for _ in range(a.keys):
        ch = rng.choice("etaoinshrdlu ")
        t0 = time.perf_counter()
        QTest.keyClick(editor, ch)
        times.append((time.perf_counter() - t0) * 1000)
        QTest.keyClick(editor, Qt.Key.Key_Backspace)  # keep the text at --tokens tokens
        pump(app, 0.01)
    w.runner.worker.pause()
    times.sort()
    p50, p99 = statistics.median(times), times[int(0.99 * (len(times) - 1))]
    print(
        f"{a.keys} keystrokes, {a.tokens} tokens, LSTM {a.layers}x{a.hidden} training: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (targets at 200 tokens, 2x256: 8 / 16 ms)"
    )
    w.close()
    w.deleteLater()
    app.processEvents()


if __name__ == "__main__":
    main()
