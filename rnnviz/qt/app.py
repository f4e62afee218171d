"""The application: QApplication, pyqtgraph settings, the main window, a clean exit."""

from __future__ import annotations

import os
import sys
import threading

from PySide6.QtWidgets import QApplication

from rnnviz.qt.views.common import configure_pyqtgraph


def run(model: str | None = None, corpus: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("rnnviz")
    app.setOrganizationName("rnnviz")
    configure_pyqtgraph()
    from rnnviz.qt.main_window import MainWindow

    window = MainWindow(model=model, corpus=corpus)
    window.show()
    threading.Thread(target=_warm_up, name="rnnviz-warm-up", daemon=True).start()
    app.exec()
    # pyqtgraph widgets alive at interpreter exit crash the process (GUIDE): delete them now.
    window.close()
    unfinished = window.unfinished_threads()
    window.deleteLater()
    app.processEvents()
    app.sendPostedEvents(None, 0)
    if unfinished:  # a huge model's step still running: it cannot be interrupted, and nothing is lost
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def _warm_up() -> None:
    """Import torch._dynamo in the background: torch imports it when the first optimizer is built
    (~2 s here), which would otherwise delay the first training step or the first window."""
    import torch._dynamo  # noqa: F401
