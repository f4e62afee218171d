"""Keystroke to every view updated: the real MainWindow (offscreen, 1440x900) with a 2-layer LSTM
of 256 units training (in its training process), a 200-token text, one character typed at a time
with Qt key events (what qtbot.keyClick sends).

Two figures per keystroke, from the key press: "updated", when the synchronous work the key
triggers has finished (trace with gradients, heatmaps, gates, gradient bars, predictions,
continuation), and "painted", when the window has also repainted (the posted paint events run).
Target (issue 7): p50 <= 8 ms, p99 <= 16 ms. Prints the figures; asserts nothing.
Run: QT_QPA_PLATFORM=offscreen python benchmarks/keystroke_latency.py [--keys 300] [--layers 2]
     [--hidden 256] [--tokens 200] [--tab inside|unrolled]
"""

import argparse
import random
import statistics
import time

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtTest import QTest
from qt_bench import application, close, main_window, pct, pump, until

TEXT = (
    "The keeper counted the ships that passed the point every night and wrote them down in a "
    "small green book with the hour, the wind and the colour of the lights they showed. "
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=300)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--tab", choices=("inside", "unrolled"), default="inside")
    a = ap.parse_args()
    app = application()
    w = main_window()
    until(app, lambda: w.latest is not None)
    c = w.controls
    c.layers.setValue(a.layers)
    c.hidden.setValue(a.hidden)
    w.reset()
    if a.tab == "unrolled":
        w.inside.setCurrentWidget(w.unrolled)
    until(app, lambda: w.latest is not None and w.latest.model_cfg.hidden == a.hidden)
    editor = w.typing.editor
    editor.setPlainText((TEXT * 20)[: a.tokens - 1])
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    w.worker.play()
    until(app, lambda: w.latest.updates >= 3)  # training has started (and keeps going)
    pump(app, 1.0)
    rng, updated, painted = random.Random(0), [], []
    start = w.latest.metrics.step
    for _ in range(a.keys):
        ch = rng.choice("etaoinshrdlu ")
        t0 = time.perf_counter()
        QTest.keyClick(editor, ch)
        t1 = time.perf_counter()
        QCoreApplication.sendPostedEvents()  # the repaints the keystroke asked for
        app.processEvents()
        t2 = time.perf_counter()
        updated.append((t1 - t0) * 1000)
        painted.append((t2 - t0) * 1000)
        QTest.keyClick(editor, Qt.Key.Key_Backspace)  # keep the text at --tokens tokens
        pump(app, 0.02)
    steps = w.latest.metrics.step - start
    w.worker.pause()
    print(
        f"{a.keys} keystrokes, {a.tokens} tokens, LSTM {a.layers}x{a.hidden}, {a.tab} tab, training "
        f"({steps} steps meanwhile):"
    )
    for name, t in (("updated", updated), ("painted", painted)):
        p50, p99 = statistics.median(t), pct(t, 0.99)
        print(f"  {name:8s} p50 {p50:5.1f} ms, p99 {p99:5.1f} ms  (targets 8 / 16 ms)")
    close(app, w)


if __name__ == "__main__":
    main()
