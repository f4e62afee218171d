"""Notifier: how the main window's controllers tell the user something: a status-bar line, or a
message box that never blocks training. It also knows when the window is closing (then the
controllers start nothing new)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QMessageBox


class Notifier:
    def __init__(self, window: QMainWindow):
        self.window = window  # the parent of every message box
        self.last_dialog: QMessageBox | None = None  # the last one opened (a caller may add buttons)
        self.closing = False  # the window is closing: nothing new is started

    def status(self, message: str, ms: int = 8000) -> None:
        """A status-bar line for `ms` milliseconds (0: until the next one)."""
        self.window.statusBar().showMessage(message, ms)

    def warn(self, message: str, dialog: bool = False) -> None:
        """A status-bar line; with dialog, also a message box that does not block training."""
        self.status(message, 10000)
        if dialog:
            box = QMessageBox(QMessageBox.Icon.Warning, "rnnviz", message, parent=self.window)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            self.last_dialog = box
