"""The main window's menu bar, each item a (text, keys, callback) row handed to a controller's
method, and the window layout remembered between launches."""

from __future__ import annotations

import json
from collections.abc import Callable

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from rnnviz.qt.settings import app_settings, put
from rnnviz.qt.theme import view_menu

# What the window remembers of the last launch besides its layout (keys of view_state()).
REMEMBERED = ("tab", "inside_tab", "continue", "temperature", "smooth")
Item = tuple[str | None, object, Callable | None]  # (text, keys, callback); (None, ...): a separator


def build_menus(w) -> QMenu:
    """File, Train, Presets, Lab and View for MainWindow `w` (Help is the help controller's);
    returns the File menu's Open recent."""
    files, sessions = w.files, w.session_files
    recent = add_items(w, w.menuBar().addMenu("&File"), (
        ("&Open model...", QKeySequence.StandardKey.Open, files.open_model),
        ("Open &session...", "Ctrl+Shift+O", sessions.open_session),
        ("Open &recent", None, None),
        ("Open &corpus...", None, files.open_corpus),
        ("&Import a PyTorch model...", None, files.import_torch_model),
        (None, None, None),
        ("&Save model...", QKeySequence.StandardKey.Save, files.save_model),
        ("Save s&ession...", "Ctrl+Shift+S", sessions.save_session),
        (None, None, None),
        ("&Export the window as PNG...", "Ctrl+Shift+E", sessions.export_window),
        ("Export &animation (GIF)...", None, files.export_animation),
        (None, None, None),
        ("&Quit", "Ctrl+Q", w.close),
    ))  # fmt: skip
    recent.aboutToShow.connect(lambda: sessions.fill_recent(recent))
    add_items(w, w.menuBar().addMenu("&Train"), (
        ("Play / Pause", "F5", w.controls.play.toggle),
        ("Step", "F6", w.session.step),
        ("Reset", "Ctrl+R", w.reset),
    ))  # fmt: skip
    w.presets.fill_menu(w.menuBar().addMenu("&Presets"))
    lab = w.menuBar().addMenu("&Lab")
    lab.addAction("Compare architectures (RNN, LSTM, GRU, minGRU, minLSTM, S6)\u2026", lambda: w.open_lab())
    view_menu(w)
    return recent


def add_items(window: QMainWindow, menu: QMenu, items: tuple[Item, ...]) -> QMenu | None:
    """The items in `menu`; an item without a callback is a submenu, returned (filled by its owner)."""
    sub = None
    for text, keys, slot in items:
        if text is None:
            menu.addSeparator()
        elif slot is None:
            sub = menu.addMenu(text)
        else:
            action = QAction(text, window)
            if keys is not None:
                action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _checked=False, f=slot: f())
            menu.addAction(action)
    return sub


def save_layout(window: QMainWindow, view: dict) -> None:
    """The window's geometry, docks and the REMEMBERED choices of `view` (a view_state())."""
    put("window/geometry", window.saveGeometry())
    put("window/state", window.saveState())
    put("window/choices", json.dumps({k: view[k] for k in REMEMBERED}))


def restore_layout(window: QMainWindow, restore_view: Callable[[dict], None]) -> None:
    """The last launch's layout; the first time, 1440x900 or the whole screen if it is smaller."""
    s = app_settings()
    geometry = s.value("window/geometry")
    if not (isinstance(geometry, QByteArray) and window.restoreGeometry(geometry)):
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            room = screen.availableGeometry()
            window.resize(min(window.width(), room.width()), min(window.height(), room.height()))
            if room.width() < 1440 or room.height() < 900:
                window.move(room.topLeft())
    state = s.value("window/state")
    if isinstance(state, QByteArray):
        window.restoreState(state)
    try:
        choices = json.loads(s.value("window/choices", "{}") or "{}")
    except (TypeError, ValueError):
        return
    if isinstance(choices, dict):
        restore_view({k: v for k, v in choices.items() if k in REMEMBERED})


def export_menu(window, views, export_to):
    """The right-click Export menu on every view of `views` (qt.window_views.WindowViews)."""
    from rnnviz.qt import export

    menu = export.install(window, export_to)
    for widget, name in (
        (views.typing, "typing panel"), (views.internals, "inside view"), (views.unrolled, "unrolled view"),
        (views.curves, "training curves"), (views.gradnorms, "gradient norms"), (views.weights, "weights"),
        (views.samples, "samples"), (views.figures, "preset figures"), (views.units, "units view"),
        (views.trajectory, "trajectory"),
    ):  # fmt: skip
        menu.register(widget, name)
    return menu
