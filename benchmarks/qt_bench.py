"""What the benchmarks that drive the real window share: the application, the window, waiting.

Imported by the scripts in this folder (run them from the repository root); it sets the
offscreen platform unless a display was chosen.
"""

import os
import sys
import tempfile
import time

# --platform xcb (a real X server: DISPLAY, default :99, e.g. Xvfb :99) or offscreen (the default).
if "--platform" in sys.argv[:-1]:
    os.environ["QT_QPA_PLATFORM"] = sys.argv[sys.argv.index("--platform") + 1]
    if os.environ["QT_QPA_PLATFORM"] == "xcb":
        os.environ.setdefault("DISPLAY", ":99")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
PLATFORM = os.environ["QT_QPA_PLATFORM"]
# Settings of the benchmarks' own: no tour, no "save before closing?" box, none of the user's layout.
os.environ["RNNVIZ_SETTINGS"] = os.path.join(tempfile.mkdtemp(prefix="rnnviz-bench-"), "rnnviz.ini")
with open(os.environ["RNNVIZ_SETTINGS"], "w", encoding="utf-8") as _ini:
    _ini.write("[tour]\ndone=true\n[ask]\nunsaved=false\n")

from PySide6.QtWidgets import QApplication  # noqa: E402

from rnnviz.qt.app import collect_on_gui_thread, freeze_what_lasts  # noqa: E402
from rnnviz.qt.views.common import configure_pyqtgraph  # noqa: E402


def application(cls=QApplication) -> QApplication:
    """The application (`cls`: a QApplication subclass, e.g. one that times paint events), with
    the garbage collection of the app (rnnviz.qt.app.run): on the GUI thread, on a timer."""
    app = QApplication.instance() or cls([])
    configure_pyqtgraph()
    app.collector = collect_on_gui_thread()  # (kept alive with the application)
    return app


def add_platform(parser) -> None:
    """The --platform option (read above, before Qt is imported)."""
    parser.add_argument("--platform", choices=("offscreen", "xcb"), default=PLATFORM,
                        help="offscreen (the default) or xcb: an X server (DISPLAY, or :99)")  # fmt: skip


def main_window(**kwargs):
    """The app's MainWindow at 1440x900, shown (training starts paused, as in the app)."""
    from rnnviz.qt.main_window import MainWindow

    w = MainWindow(**kwargs)
    w.resize(1440, 900)
    w.show()
    freeze_what_lasts()  # as the app does once its window is shown
    return w


def close(app: QApplication, w) -> None:
    """Close and delete the window before the interpreter exits (a pyqtgraph widget alive at exit ends
    the process with a segmentation fault)."""
    w.close()
    w.deleteLater()
    app.processEvents()


def pump(app: QApplication, seconds: float) -> None:
    """Run the event loop for `seconds`."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def until(app: QApplication, cond, timeout: float = 120.0) -> None:
    """Run the event loop until cond() holds (TimeoutError after `timeout` seconds)."""
    end = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.005)


def pct(values, q: float) -> float:
    """The q-quantile of `values` (nearest rank below)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q * (len(values) - 1)))]
