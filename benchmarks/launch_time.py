"""Launch to first painted window vs `python -c "import torch, PySide6.QtWidgets"`.

Both are fresh processes, timed by this script from just before it starts them (interpreter start
included) to the moment each reports: the bare imports when done, the app when its main window
(or anything in it) receives its first paint event. The app is started as `rnnviz` starts
(rnnviz.cli.main: the pre-trained model, the training process, the first trace of the welcome
text); a hook made before it runs reports the first paint, then when the training process (which imports torch
meanwhile) has sent the model's first snapshot, and closes the window. Fresh processes,
alternating, --rounds each. Target (issue 7): app / bare <= 1.5.
Run: QT_QPA_PLATFORM=offscreen python benchmarks/launch_time.py [--rounds 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

APP = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget
import rnnviz.qt.main_window as mw

class FirstPaint(QObject):
    # the first paint event of the main window or of anything in it
    def __init__(self, window):
        super().__init__()
        self.window = window
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint and isinstance(obj, QWidget) and (
            obj is self.window or self.window.isAncestorOf(obj)
        ):
            print(time.time(), flush=True)
            QApplication.instance().removeEventFilter(self)
            self.timer = QTimer()
            self.timer.timeout.connect(self.ready)
            self.timer.start(5)
        return False
    def ready(self):  # the training process has answered with the model's first snapshot
        if self.window.latest is not None:
            print(time.time(), flush=True)
            self.timer.stop()
            self.window.close()

_init = mw.MainWindow.__init__
def init(self, *a, **k):
    _init(self, *a, **k)
    self._first_paint = FirstPaint(self)
    QApplication.instance().installEventFilter(self._first_paint)
mw.MainWindow.__init__ = init
from rnnviz.cli import main
sys.exit(main([]))
"""
BARE = "import time; import torch, PySide6.QtWidgets; print(time.time())"


def wall(code: str) -> list[float]:
    """Seconds from starting a Python process on `code` to each time it prints."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    t0 = time.time()
    p = subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True)
    return [float(v) - t0 for v in p.stdout.split()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    wall(BARE)  # warm the file cache
    wall(APP)
    apps, bares, ready = [], [], []
    for _ in range(a.rounds):
        bares.append(wall(BARE)[0])
        paint, trained = wall(APP)
        apps.append(paint)
        ready.append(trained)
    app, bare = statistics.median(apps), statistics.median(bares)
    print(f"import torch + PySide6.QtWidgets : {bare:.2f} s (median of {a.rounds}: "
          + " ".join(f"{v:.2f}" for v in bares) + ")")  # fmt: skip
    print(f"rnnviz to first painted window  : {app:.2f} s (median of {a.rounds}: "
          + " ".join(f"{v:.2f}" for v in apps) + ")")  # fmt: skip
    print(f"ratio: {app / bare:.2f}  (target <= 1.5)")
    print(f"the training process ready (its first snapshot shown): {statistics.median(ready):.2f} s")


if __name__ == "__main__":
    main()
