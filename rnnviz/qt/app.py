"""The application: QApplication, its looks (qt.theme) and icon, the main window, a clean exit."""

from __future__ import annotations

import gc
import os
import sys

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from rnnviz.qt.theme import app_icon, apply_saved_looks, remember_system_look
from rnnviz.qt.views.common import configure_pyqtgraph


def collect_on_gui_thread():
    """Python's cyclic garbage collector runs wherever an allocation crosses its threshold, also on
    a worker thread (the neuron finder's reader, the listening matrix, a loader); a Qt object
    deleted there can deadlock against the GUI thread or crash. Collect on the GUI thread only, on
    a timer (pyqtgraph's GarbageCollector: automatic collection off, each generation collected
    when its count passes the usual threshold). Keep the returned object alive."""
    from pyqtgraph.util.garbage_collector import GarbageCollector

    gc.collect()
    return GarbageCollector(interval=0.5)


def freeze_what_lasts() -> None:
    """Once the window is built: what exists now (modules, Qt and pyqtgraph classes, the window's
    views; 83k objects) lasts the session, so the collector stops looking at it (gc.freeze). A
    collection of the oldest generation went through all of it, 24-33 ms measured, a frame lost
    every minute or so while training or typing; it now sees what came since."""
    gc.collect()
    gc.freeze()


def run(model: str | None = None, corpus: str | None = None, text: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    remember_system_look()  # before anything changes it: the "System" theme
    app.setApplicationName("rnnviz")  # also the X11 window class, as the .desktop file expects
    app.setOrganizationName("rnnviz")
    QGuiApplication.setDesktopFileName("rnnviz")  # Wayland's app id: docks find rnnviz.desktop
    app.setWindowIcon(app_icon())
    configure_pyqtgraph()
    collector = collect_on_gui_thread()
    apply_saved_looks()  # the theme and colour maps chosen last time
    from rnnviz.qt.main_window import MainWindow

    window = MainWindow(model=model, corpus=corpus, text=text)
    window.show()
    freeze_what_lasts()
    app.exec()
    # pyqtgraph widgets alive at interpreter exit crash the process (exit 139 with pyqtgraph 0.14 and
    # PySide6 6.11): delete them now.
    window.close()
    unfinished = window.unfinished_threads()
    window.deleteLater()
    app.processEvents()
    app.sendPostedEvents(None, 0)
    collector.timer.stop()
    gc.enable()
    if unfinished:  # a huge model's step still running: it cannot be interrupted, and nothing is lost
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
