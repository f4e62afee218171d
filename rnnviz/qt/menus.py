"""MenuActions: the menu bar of MainWindow, and the window layout remembered between launches."""

from __future__ import annotations

import json

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence

from rnnviz.qt.settings import app_settings, put
from rnnviz.qt.theme import view_menu

# What the window remembers of the last launch besides its layout (keys of view_state()).
REMEMBERED = ("tab", "inside_tab", "continue", "temperature", "smooth")


class MenuActions:
    """Mixed into MainWindow."""

    def _menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        self._add(file, (
            ("&Open model...", QKeySequence.StandardKey.Open, self.open_model),
            ("Open &session...", "Ctrl+Shift+O", self.open_session),
            ("Open &recent", None, None),
            ("Open &corpus...", None, self.open_corpus),
            ("&Import a PyTorch model...", None, self.import_torch_model),
            (None, None, None),
            ("&Save model...", QKeySequence.StandardKey.Save, self.save_model),
            ("Save s&ession...", "Ctrl+Shift+S", self.save_session),
            (None, None, None),
            ("&Export the window as PNG...", "Ctrl+Shift+E", self.export_window),
            ("Export &animation (GIF)...", None, self.export_animation),
            (None, None, None),
            ("&Quit", "Ctrl+Q", self.close),
        ))  # fmt: skip
        train = self.menuBar().addMenu("&Train")
        self._add(train, (
            ("Play / Pause", "F5", self.controls.play.toggle),
            ("Step", "F6", self._on_step),
            ("Reset", "Ctrl+R", self._on_reset),
        ))  # fmt: skip
        self._preset_menu()
        lab = self.menuBar().addMenu("&Lab")
        lab.addAction("Compare RNN, LSTM and GRU\u2026", self.open_lab)
        self.lab_window = None  # the gradient lab, made on first use
        view_menu(self)
        self.exports = _export_menu(self)

    def _add(self, menu, items) -> None:
        for text, keys, slot in items:
            if text is None:
                menu.addSeparator()
            elif slot is None:  # the recent files, filled each time the menu opens
                recent = menu.addMenu(text)
                recent.aboutToShow.connect(lambda r=recent: self._fill_recent(r))
                self.recent_menu = recent
            else:
                action = QAction(text, self)
                if keys is not None:
                    action.setShortcut(QKeySequence(keys))
                action.triggered.connect(lambda _checked=False, f=slot: f())
                menu.addAction(action)

    def open_lab(self) -> None:
        """The gradient lab: an RNN, an LSTM and a GRU trained side by side, in a window of its own."""
        from rnnviz.qt.lab_window import LabWindow  # on demand: most sessions never open it

        if self.lab_window is None:
            self.lab_window = LabWindow(parent=self)
        self.lab_window.show()
        self.lab_window.raise_()
        self.lab_window.activateWindow()

    def save_layout(self) -> None:
        view = self.view_state()
        put("window/geometry", self.saveGeometry())
        put("window/state", self.saveState())
        put("window/choices", json.dumps({k: view[k] for k in REMEMBERED}))

    def restore_layout(self) -> None:
        """The last launch's layout; the first time, 1440x900 or the whole screen if it is smaller."""
        s = app_settings()
        geometry = s.value("window/geometry")
        if not (isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)):
            screen = QGuiApplication.primaryScreen()
            if screen is not None:
                room = screen.availableGeometry()
                self.resize(min(self.width(), room.width()), min(self.height(), room.height()))
                if room.width() < 1440 or room.height() < 900:
                    self.move(room.topLeft())
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        try:
            choices = json.loads(s.value("window/choices", "{}") or "{}")
        except (TypeError, ValueError):
            return
        if isinstance(choices, dict):
            self.restore_view({k: v for k, v in choices.items() if k in REMEMBERED})


def _export_menu(window):
    from rnnviz.qt import export

    menu = export.install(window)
    for widget, name in (
        (window.typing, "typing panel"), (window.internals, "inside view"),
        (window.unrolled, "unrolled view"),
        (window.curves, "training curves"), (window.gradnorms, "gradient norms"), (window.weights, "weights"),
        (window.samples, "samples"), (window.figures, "preset figures"), (window.units, "units view"),
        (window.trajectory, "trajectory"),
    ):  # fmt: skip
        menu.register(widget, name)
    return menu
