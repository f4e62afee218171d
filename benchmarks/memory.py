"""Memory while training with the window open: the real MainWindow (offscreen, 1440x900), the
default model training for --minutes, the loss curves and every internal view animating, the typed
text changing every few seconds (a person typing now and then) and the gradient-norm, weights and
samples tabs visited in turn. The resident set size (RSS, from /proc) of the window's process and
of its training process is sampled every --every seconds.
Target (issue 7): no growth after the first minute beyond 10%. Prints figures; asserts nothing.
Run: QT_QPA_PLATFORM=offscreen python benchmarks/memory.py [--minutes 10] [--every 10]
"""

import argparse
import os
import time

from PySide6.QtCore import QTimer
from qt_bench import application, close, main_window

TEXTS = (
    "The keeper counted the ships",
    "The keeper counted the ships in the harbour every night and wrote them down",
    "welcom",
    "Once upon a time there was a lighthouse at the edge of the sea",
)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--every", type=float, default=10)
    a = ap.parse_args()
    app = application()
    w = main_window()
    samples: list[tuple[float, float, float, int]] = []  # (minutes, window MB, trainer MB, step)
    state = {"t0": None, "k": 0}

    def tick():
        if w.latest is None:
            return
        now = time.perf_counter()
        if state["t0"] is None:
            state["t0"] = now
            w.controls.play.setChecked(True)
        k = state["k"] = state["k"] + 1
        w.typing.editor.setPlainText(TEXTS[k % len(TEXTS)])
        if k % 6 == 0:  # visit every tab now and then (hidden tabs catch up when shown)
            w.tabs.setCurrentIndex((k // 6) % w.tabs.count())
        minutes = (now - state["t0"]) / 60
        if len(samples) == 0 or minutes * 60 - samples[-1][0] * 60 >= a.every:
            trainer_pid = w.host.process.process.pid
            step = w.latest.metrics.step if w.latest.metrics else 0
            samples.append((minutes, rss_mb(os.getpid()), rss_mb(trainer_pid), step))
            print(f"{minutes:5.1f} min  window {samples[-1][1]:7.1f} MB  training {samples[-1][2]:7.1f} MB  "
                  f"step {step}", flush=True)  # fmt: skip
        if minutes >= a.minutes:
            w.controls.play.setChecked(False)
            app.quit()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(2000)
    app.exec()
    after_1 = next(s for s in samples if s[0] >= 1.0)
    last = samples[-1]
    for name, i in (("window", 1), ("training process", 2)):
        growth = (last[i] - after_1[i]) / after_1[i]
        peak = max(s[i] for s in samples if s[0] >= 1.0)
        print(f"{name:17s}: {after_1[i]:7.1f} MB at {after_1[0]:.1f} min, {last[i]:7.1f} MB at "
              f"{last[0]:.1f} min (peak {peak:.1f}): growth {growth:+.1%}  [target <= +10%]")  # fmt: skip
    total = [(s[1] + s[2]) for s in (after_1, last)]
    growth = (total[1] - total[0]) / total[0]
    print(f"both             : {total[0]:7.1f} -> {total[1]:7.1f} MB: growth {growth:+.1%}"
          f"  ({last[3] - after_1[3]} steps in between)")  # fmt: skip
    close(app, w)


if __name__ == "__main__":
    main()
