"""Keystroke to pixels: the real MainWindow (1440x900, offscreen or on an X server) with an LSTM
(default 2x256) training in its training process, a text of --tokens tokens, one character typed at
a time with Qt key events (what qtbot.keyClick sends), then deleted again. Each key comes once the
keystroke before it (the backspace) is whole and painted, and 50 ms more have passed: a typist's
keys come 100 ms or more apart, and the second half of a 2x256 keystroke takes ~50 ms.

A keystroke is shown in two halves (qt.typed_text): its forward pass at once (the states, gates
and predictions), its gradients, attribution, step-through and continuation at a later frame.
Three figures per keystroke, from the key press:
- "updated": the synchronous work of the key has finished (the first half's data set);
- "painted": the window has painted the first half (the end of the last paint event before the
  second half starts, or before the event loop is idle);
- "complete": the second half is computed and painted too (every view of the keystroke shown).
Targets (issue 19): painted p50 <= 12 / p99 <= 20 ms (default 1x128, 30 tokens), p50 <= 20 / p99
<= 33 ms (2x256, 200 tokens); updated p50 <= 8 / p99 <= 16 ms (2x256). Prints; asserts nothing.
Run: python benchmarks/keystroke_latency.py [--keys 300] [--layers 2] [--hidden 256] [--tokens 200]
     [--tab inside|unrolled|listen] [--platform offscreen|xcb]
"""

import argparse
import random
import statistics
import time

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from qt_bench import add_platform, application, close, main_window, pct, pump, until

TEXT = (
    "The keeper counted the ships that passed the point every night and wrote them down in a "
    "small green book with the hour, the wind and the colour of the lights they showed. "
)


class PaintClock(QApplication):
    """Notes when each paint event ends (Qt paints widgets one after another, never nested)."""

    ends: list[float] = []

    def notify(self, obj, ev):
        if ev.type() != QEvent.Type.Paint:
            return super().notify(obj, ev)
        r = super().notify(obj, ev)
        PaintClock.ends.append(time.perf_counter())
        return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=300)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--tab", choices=("inside", "unrolled", "listen"), default="inside")
    ap.add_argument("--idle", action="store_true", help="training paused (what the window alone costs)")
    add_platform(ap)
    a = ap.parse_args()
    app = application(PaintClock)
    w = main_window()
    until(app, lambda: w.latest is not None)
    c = w.controls
    c.layers.setValue(a.layers)
    c.hidden.setValue(a.hidden)
    w.reset()
    if a.tab != "inside":
        w.inside.setCurrentWidget(w.unrolled if a.tab == "unrolled" else w.listen)
    until(app, lambda: w.latest is not None and w.latest.model_cfg.hidden == a.hidden)
    editor = w.typing.editor
    editor.setPlainText((TEXT * 20)[: a.tokens - 1])
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    w.worker.play()
    until(app, lambda: w.latest.updates >= 3)  # training has started (and keeps going)
    if a.idle:
        w.worker.pause()
    pump(app, 1.0)
    second = {"at": None}  # when the second half of the keystroke started
    complete = w.text.complete

    def timed_complete():
        if w.text.pending and second["at"] is None:
            second["at"] = time.perf_counter()
        complete()

    w.text.complete = timed_complete
    canvas = w.unrolled.canvas
    rng, updated, painted, whole, halves = random.Random(0), [], [], [], 0
    start = w.latest.metrics.step
    for _ in range(a.keys):
        ch = rng.choice("etaoinshrdlu ")
        PaintClock.ends.clear()
        second["at"] = None
        t0 = time.perf_counter()
        QTest.keyClick(editor, ch)
        t1 = time.perf_counter()
        QCoreApplication.sendPostedEvents()  # the repaints the keystroke asked for
        app.processEvents()
        halves += w.text.pending or second["at"] is not None
        while w.text.pending or canvas._due:  # the second half, and the step-through's drawing
            app.processEvents()  # (painted with the window's next frame)
        app.processEvents()
        t3 = time.perf_counter()
        cut = second["at"] or t3
        first = [e for e in PaintClock.ends if e <= cut]
        updated.append((t1 - t0) * 1000)
        painted.append(((first[-1] if first else t1) - t0) * 1000)
        whole.append(((PaintClock.ends[-1] if PaintClock.ends else t3) - t0) * 1000)
        QTest.keyClick(editor, Qt.Key.Key_Backspace)  # keep the text at --tokens tokens
        while w.text.pending or canvas._due:  # the backspace whole and painted before the next
            app.processEvents()  # key, as a typist's keys come (100 ms or more apart)
        QCoreApplication.sendPostedEvents()
        app.processEvents()
        pump(app, 0.05)
    steps = w.latest.metrics.step - start
    w.worker.pause()
    print(
        f"{a.keys} keystrokes, {a.tokens} tokens, LSTM {a.layers}x{a.hidden}, {a.tab} tab, {a.platform}, "
        f"{'idle' if a.idle else 'training'} ({steps} steps meanwhile); {halves} of them shown in two halves:"
    )
    for name, t in (("updated", updated), ("painted", painted), ("complete", whole)):
        p50, p99 = statistics.median(t), pct(t, 0.99)
        print(f"  {name:8s} p50 {p50:5.1f} ms, p99 {p99:5.1f} ms")
    close(app, w)


if __name__ == "__main__":
    main()
