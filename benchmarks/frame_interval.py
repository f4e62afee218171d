"""Frame interval while training: the real MainWindow (1440x900) with the default model training, a
typed text, the Inside tab (or the Unrolled tab, its step-through playing over and over) and the
loss curves on screen; or the gradient lab (its three models training, every plot animating), or
the noisy-sine forecaster's window; for --seconds.

A window draws from a timer (a frame every 25 ms at most, only when something changed); a frame
that takes long, or a slow paint, delays the next. Printed: the intervals between frame ticks
(p50, p99, max) and the time spent in the frame's own work. Target (issue 19): p99 <= 30 ms.
Prints figures; asserts nothing. Runs the event loop itself (app.exec).
Run: python benchmarks/frame_interval.py [--seconds 30] [--window main|lab|sine]
     [--tab inside|unrolled] [--platform offscreen|xcb]
"""

import argparse
import statistics
import time

from PySide6.QtCore import QTimer
from qt_bench import add_platform, application, close, main_window, pct


def open_window(name: str, tab: str):
    """The window, and a function that says when it is ready and starts training (True when done)."""
    if name == "main":
        w = main_window()
        if tab == "unrolled":
            w.inside.setCurrentWidget(w.unrolled)

        def start() -> bool:
            if w.latest is None:
                return False
            w.typing.editor.setPlainText("The keeper counted the ships in the harbour every night")
            w.controls.play.setChecked(True)
            return True

        return w, start, lambda: w.latest.metrics.step
    if name == "lab":
        from rnnviz.qt.lab_window import LabWindow

        w = LabWindow()

        def start() -> bool:
            if not w.figs:
                return False
            w.play.setChecked(True)
            return True

        return w, start, lambda: w.last_metrics["rnn"].step if "rnn" in w.last_metrics else 0
    from rnnviz.qt.series_window import SeriesWindow

    w = SeriesWindow()

    def start() -> bool:
        if w.latest is None:
            return False
        w.controls.play.setChecked(True)
        return True

    return w, start, lambda: w.latest.metrics.step if w.latest.metrics is not None else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--window", choices=("main", "lab", "sine"), default="main")
    ap.add_argument("--tab", choices=("inside", "unrolled"), default="inside")
    add_platform(ap)
    a = ap.parse_args()
    app = application()
    w, start, step = open_window(a.window, a.tab)
    w.resize(1440, 900)
    w.show()
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
        if a.window == "main" and a.tab == "unrolled" and state["phase"] != "wait":
            if not w.unrolled.play.isChecked():  # the step-through plays on (it stops at its end)
                w.unrolled.play.setChecked(True)
        if state["phase"] == "wait" and start():
            state.update(phase="warm", t=time.perf_counter())
        elif state["phase"] == "warm" and time.perf_counter() - state["t"] > 3:
            ticks.clear()
            work.clear()
            state.update(phase="measure", t=time.perf_counter(), step=step())
        elif state["phase"] == "measure" and time.perf_counter() - state["t"] > a.seconds:
            state.update(steps=step() - state["step"])
            app.quit()

    driver = QTimer()
    driver.timeout.connect(drive)
    driver.start(100)
    app.exec()
    gaps = [(b - c) * 1000 for c, b in zip(ticks, ticks[1:], strict=False)]
    busy = [x * 1000 for x in work]
    where = f"{a.tab} tab" if a.window == "main" else {"lab": "gradient lab", "sine": "sine window"}[a.window]
    print(
        f"{len(gaps)} frames in {a.seconds:.0f} s of training ({state['steps']} steps), {where}, "
        f"{a.platform}: interval p50 {statistics.median(gaps):.1f} ms, p99 {pct(gaps, 0.99):.1f} ms, "
        f"max {max(gaps):.1f} ms  [target p99 <= 30 ms]"
    )
    print(f"frame work p50 {statistics.median(busy):.1f} ms, p99 {pct(busy, 0.99):.1f} ms")
    if a.window == "lab":
        w.shut_down()
    close(app, w)


if __name__ == "__main__":
    main()
