"""Launch to first painted window vs `python -c "import torch, PySide6.QtWidgets"`.

Both run as fresh processes, alternating, each timed from its first line; the app process builds
the window as `rnnviz` does (pre-trained model, worker thread, first trace) and reports its first
paint. Target (issue: launch well under 3 s; <= 1.5x the bare imports).
Run: QT_QPA_PLATFORM=offscreen python benchmarks/launch_time.py [--rounds 5]
"""

import argparse
import os
import statistics
import subprocess
import sys

APP = """
import time
t0 = time.perf_counter()
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from rnnviz.qt.views.common import configure_pyqtgraph
app = QApplication([])
configure_pyqtgraph()
from rnnviz.qt.main_window import MainWindow
w = MainWindow()
class FirstPaint(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint:
            print(time.perf_counter() - t0, flush=True)
            w.removeEventFilter(self)
            QTimer.singleShot(0, w.close)
            QTimer.singleShot(0, app.quit)
        return False
f = FirstPaint()
w.installEventFilter(f)
w.show()
app.exec()
w.deleteLater()
app.processEvents()
"""
BARE = (
    "import time; t0 = time.perf_counter(); import torch, PySide6.QtWidgets; print(time.perf_counter() - t0)"
)


def wall(code: str) -> float:
    """Seconds from the first line of `code` to what it prints (its import, or its first paint)."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    p = subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True)
    return float(p.stdout.split()[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    wall(BARE)  # warm the file cache
    apps, bares = [], []
    for _ in range(a.rounds):
        bares.append(wall(BARE))
        apps.append(wall(APP))
    app, bare = statistics.median(apps), statistics.median(bares)
    print(f"import torch + PySide6.QtWidgets : {bare:.2f} s (median of {a.rounds})")
    print(f"rnnviz to first painted window  : {app:.2f} s (median of {a.rounds})")
    print(f"ratio: {app / bare:.2f}  (target <= 1.5; and well under 3 s)")


if __name__ == "__main__":
    main()
