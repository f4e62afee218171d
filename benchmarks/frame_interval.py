"""Frame interval while training: the real MainWindow (offscreen, 1440x900), the default model
training, a typed text, the Inside tab (heatmaps of h and c, gates, gradient bars) and the loss
curves on screen, for --seconds.

The window draws from a timer (a frame every 25 ms at most, only when something changed); a frame
that takes long, or a slow paint, delays the next. Printed: the intervals between frame ticks
(p50, p99, max), the time spent in the frame's own work, and how much of the window is repainted.
Target (issue 7): p99 <= 33 ms. Prints figures; asserts nothing. Runs the event loop itself (app.exec).
Run: QT_QPA_PLATFORM=offscreen python benchmarks/frame_interval.py [--seconds 30] [--tab inside|unrolled]
"""

import argparse
import statistics
import time

from PySide6.QtCore import QTimer
from qt_bench import application, close, main_window, pct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--tab", choices=("inside", "unrolled"), default="inside")
    a = ap.parse_args()
    app = application()
    w = main_window()
    if a.tab == "unrolled":
        w.inside.setCurrentWidget(w.unrolled)
    ticks, work = [], []
    original = w._on_frame

    def timed_frame():
        t0 = time.perf_counter()
        ticks.append(t0)
        original()
        work.append(time.perf_counter() - t0)

    w.timer.timeout.disconnect()
    w.timer.timeout.connect(timed_frame)
    state = {"phase": "wait"}

    def drive():
        if state["phase"] == "wait" and w.latest is not None:
            w.typing.editor.setPlainText("The keeper counted the ships in the harbour every night")
            w.controls.play.setChecked(True)
            state.update(phase="warm", t=time.perf_counter())
        elif state["phase"] == "warm" and time.perf_counter() - state["t"] > 3:
            ticks.clear()
            work.clear()
            state.update(phase="measure", t=time.perf_counter(), step=w.latest.metrics.step)
        elif state["phase"] == "measure" and time.perf_counter() - state["t"] > a.seconds:
            state.update(steps=w.latest.metrics.step - state["step"])
            w.controls.play.setChecked(False)
            app.quit()

    driver = QTimer()
    driver.timeout.connect(drive)
    driver.start(100)
    app.exec()
    gaps = [(b - c) * 1000 for c, b in zip(ticks, ticks[1:], strict=False)]
    busy = [x * 1000 for x in work]
    print(
        f"{len(gaps)} frames in {a.seconds:.0f} s of training ({state['steps']} steps), {a.tab} tab: "
        f"interval p50 {statistics.median(gaps):.1f} ms, p99 {pct(gaps, 0.99):.1f} ms, "
        f"max {max(gaps):.1f} ms  [target p99 <= 33 ms]"
    )
    print(f"frame work p50 {statistics.median(busy):.1f} ms, p99 {pct(busy, 0.99):.1f} ms")
    close(app, w)


if __name__ == "__main__":
    main()
