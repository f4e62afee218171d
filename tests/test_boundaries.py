"""House rules that keep the code base healthy."""

import subprocess
import sys


def test_core_never_imports_qt():
    code = (
        "import sys, rnnviz.cli\n"
        "import rnnviz.core.corpus, rnnviz.core.model, rnnviz.core.train, rnnviz.core.trace\n"
        "import rnnviz.core.checkpoint, rnnviz.core.generate, rnnviz.core.snapshot\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_window_never_imports_torch():
    """The main window's process draws and traces with numpy; only its training process (and the
    gradient lab or the forecaster's window, opened on demand) import torch."""
    code = """
import os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import rnnviz.core.config, rnnviz.core.session, rnnviz.core.presets, rnnviz.core.loop, rnnviz.core.remote
assert "torch" not in sys.modules
from PySide6.QtWidgets import QApplication
from rnnviz.qt.views.common import configure_pyqtgraph
app = QApplication([])
configure_pyqtgraph()
from rnnviz.qt.main_window import MainWindow
w = MainWindow()
w.show()
def until(cond, timeout=60):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        app.processEvents()
        time.sleep(0.01)
until(lambda: w.latest is not None)
w.worker.step_once(3)
until(lambda: w.latest.updates >= 803)
w.typing.editor.setPlainText("The keeper said welcom")
w.open_preset("words")
until(lambda: w.latest is not None and w.latest.model_cfg.arch == "rnn")
w._on_reset()
bad = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
assert not bad, bad[:5]
w.close()
w.deleteLater()
app.processEvents()
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=180)
