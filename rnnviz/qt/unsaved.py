"""UnsavedGuard: before a new model replaces one trained since it was last saved (Reset, Open,
a preset, Train from here, Quit), the window asks: save the session, discard, or cancel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

from rnnviz.qt.settings import get_bool, put

ASK_KEY = "ask/unsaved"  # False: never ask (the box's "Don't ask again")


class UnsavedGuard:
    def __init__(self, parent: QWidget, updates: Callable[[], int | None], save: Callable[[], str | None]):
        """updates: the current model's training steps (None before its first report); save: saves
        the session (asking where), the path written or None."""
        self.parent, self.updates, self.save = parent, updates, save
        self.saved_updates = 0  # the current model's step when it was started, opened or saved
        self.box: QMessageBox | None = None  # the last question asked

    def mark_saved(self, updates: int) -> None:
        self.saved_updates = updates

    def unsaved_steps(self) -> int:
        """Training steps of the current model that no file holds yet."""
        updates = self.updates()
        return 0 if updates is None else max(updates - self.saved_updates, 0)

    def _text(self) -> str:
        return f"The model has trained {self.unsaved_steps()} steps since it was last saved."

    def may_discard(self, what: str) -> bool:
        """True when the current model may be replaced: nothing unsaved, the user saved it or said
        discard. `what`: what replaces it ("a reset", "opening a session", ...)."""
        if self.unsaved_steps() == 0 or not get_bool(ASK_KEY, True):
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "rnnviz", self._text(), parent=self.parent)
        ticker = QTimer(box)  # training goes on behind the box: its count follows
        ticker.timeout.connect(lambda: box.setText(self._text()))
        ticker.start(250)
        box.setInformativeText(f"Save the session before {what}?")
        box.setStandardButtons(
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        never = QCheckBox("Don't ask again")
        box.setCheckBox(never)
        self.box = box
        answer = box.exec()
        if never.isChecked():
            put(ASK_KEY, False)
        if answer == QMessageBox.StandardButton.Save:
            return self.save() is not None
        return answer == QMessageBox.StandardButton.Discard
