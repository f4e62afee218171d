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
