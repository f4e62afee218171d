"""PySide6-Essentials 6.12.0 on Python 3.11 drops a reference to None on every Qt call that
returns nothing, and pyqtgraph then dies (`none_dealloc`). pyproject.toml pins below 6.12;
this test fails if a broken build is installed anyway."""

import sys

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QPainterPath


def test_void_qt_calls_keep_none_alive():
    r, p, path = QRectF(0, 0, 1, 1), QPointF(0, 0), QPainterPath()
    before = sys.getrefcount(None)
    for i in range(300):
        r.setWidth(i)
        p.setX(i)
        path.reserve(4)
    assert sys.getrefcount(None) - before > -50
