"""HelpController: the Help menu, the "?" beside every view, the first-launch tour, and the window's
keys (Space play/pause, Left/Right/Home/End the selected step) for MainWindow."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMenuBar,
    QMessageBox,
    QPlainTextEdit,
    QTabBar,
    QTextEdit,
    QWidget,
)

from rnnviz import __version__
from rnnviz.qt import help as helptext
from rnnviz.qt.notifier import Notifier
from rnnviz.qt.settings import get_bool, put
from rnnviz.qt.typed_text import TypedText
from rnnviz.qt.window_views import WindowViews

# Widgets that use these keys themselves: the window's keys leave them alone there.
TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox, QComboBox, QAbstractSlider)
SPACE_USERS = (*TEXT_INPUTS, QAbstractButton, QAbstractItemView)  # buttons and check boxes press
ARROW_USERS = (*TEXT_INPUTS, QTabBar, QAbstractItemView, QMenuBar, QMenu)  # they move in themselves
STEP_KEYS = (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End)
TOUR_KEY = "tour/done"


class WindowKeys(QObject):
    """Space and the step keys for the whole main window, wherever the focus is, except in the
    widgets that need them (text boxes, buttons, tab bars, tables, menus) and inside the unrolled
    view (which has its own)."""

    def __init__(self, window: QWidget, unrolled: QWidget, use_key):
        """use_key(key, shift) -> bool: the window's use of a key (True when used)."""
        super().__init__(window)
        self.window, self.unrolled, self.use_key = window, unrolled, use_key

    def eventFilter(self, obj, event) -> bool:
        if event.type() != QEvent.Type.KeyPress:
            return False
        key, mods = event.key(), event.modifiers()
        if key != Qt.Key.Key_Space and key not in STEP_KEYS:
            return False
        if mods & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier):
            return False
        # obj: the widget the key is for (the focus widget, or a parent it passed the key on to)
        if not isinstance(obj, QWidget) or obj.window() is not self.window:
            return False
        if isinstance(obj, SPACE_USERS if key == Qt.Key.Key_Space else ARROW_USERS):
            return False
        if self._in(obj, self.unrolled) or key == Qt.Key.Key_Space and event.isAutoRepeat():
            return False
        return self.use_key(key, bool(mods & Qt.KeyboardModifier.ShiftModifier))

    @staticmethod
    def _in(widget: QWidget | None, parent: QWidget) -> bool:
        return widget is not None and (widget is parent or parent.isAncestorOf(widget))


class HelpController:
    """The Help menu, the "?" buttons, the window's keys and the tour of the main window."""

    TAB_TOPICS = ("curves", "gradnorms", "weights", "samples", "preset", "units", "trajectory")

    def __init__(
        self, window: QMainWindow, views: WindowViews, text: TypedText, timeline_bar, notify: Notifier
    ):
        """window: the main window (its menu bar, the tour's parent); timeline_bar: it gets a "?"."""
        self.window, self.views, self.text, self.notify = window, views, text, notify
        self.timeline_bar = timeline_bar
        self.keys = WindowKeys(window, views.unrolled, self.window_key)
        self.tour: helptext.Tour | None = None

    def install(self) -> None:
        """The Help menu, the "?" buttons and the window's keys; the tour at the first launch."""
        w, v = self.window, self.views
        menu = w.menuBar().addMenu("&Help")
        for text, keys, slot in (
            ("&What am I looking at?", "F1", lambda: helptext.guide_dialog(w)),
            ("Keyboard &shortcuts", "Ctrl+/", lambda: helptext.shortcuts_dialog(w)),
            ("Take the &tour", None, self.start_tour),
            ("&About rnnviz", None, self.about),
        ):
            action = QAction(text, w)
            if keys:
                action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            menu.addAction(action)
        v.inside.setCornerWidget(helptext.help_button(self._inside_topic, w), Qt.Corner.TopRightCorner)
        v.tabs.setCornerWidget(helptext.help_button(self._tab_topic, w), Qt.Corner.TopRightCorner)
        typing_help = helptext.help_button("typing", w)
        v.typing.layout().addWidget(typing_help, 2, 3, Qt.AlignmentFlag.AlignRight)
        self.timeline_bar.layout().addWidget(helptext.help_button("timeline", w))
        QApplication.instance().installEventFilter(self.keys)
        if not get_bool(TOUR_KEY):
            QTimer.singleShot(800, self.start_tour)

    def _inside_topic(self) -> str:
        shown = self.views.inside.currentWidget()
        return getattr(shown, "help_topic", "unrolled" if shown is self.views.unrolled else "inside")

    def _tab_topic(self) -> str:
        return self.TAB_TOPICS[min(self.views.tabs.currentIndex(), len(self.TAB_TOPICS) - 1)]

    def window_key(self, key, shift: bool) -> bool:
        """Space: play/pause training; Left/Right: the previous/next time step (Shift: 10);
        Home/End: the first/last. True when the key was used."""
        v = self.views
        if v.inside.currentWidget() is v.unrolled:  # the step-through shown: its keys
            return v.unrolled.key(key, Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier(0))
        if key == Qt.Key.Key_Space:
            v.controls.play.toggle()
            return True
        to = {Qt.Key.Key_Left: "left", Qt.Key.Key_Right: "right", Qt.Key.Key_Home: "first"}.get(key, "last")
        return self.text.move_selection(to, 10 if shift else 1)

    def start_tour(self) -> None:
        if self.notify.closing:
            return
        if self.tour is not None:
            self.tour.close()
        self.tour = helptext.Tour(self.window, self._tour_steps())
        self.tour.finished.connect(lambda _r: put(TOUR_KEY, True))
        self.tour.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        key = id(self.tour)
        self.tour.destroyed.connect(lambda *_a: self._tour_gone(key))
        self.tour.show()

    def _tour_gone(self, key: int) -> None:
        if self.tour is not None and id(self.tour) == key:  # not a newer tour
            self.tour = None

    def _tour_steps(self):
        v = self.views
        dock = v.controls.parentWidget()
        return [
            ("1. Type here", "Every keystroke runs the network over your text. The bars on the right "
             "are its guesses for the next character; click a step in the heatmaps below to see "
             "the guesses there.", lambda: v.typing),
            ("2. Train it", "The settings of the model and of training. Press <b>Play</b> (F5 or "
             "Space) and watch the guesses get better; Reset (Ctrl+R) starts a fresh model from "
             "these settings. The presets (Preset menu) are ready-made lessons.", lambda: dock),
            ("3. Look inside", "The hidden state h of every unit at every step of your text, an "
             "LSTM's cell state c and its gates, and ||dL/dh<sub>t</sub>||: how far back the "
             "gradient reaches. Left/Right move the selected step.", lambda: v.inside),
            ("4. Step through", "The <b>Unrolled</b> tab plays the forward pass and backpropagation "
             "through time, a step at a time, with the chosen unit's numbers in the equations.",
             lambda: v.inside.tabBar()),
            ("5. Watch it learn", "Loss and accuracy, gradient norms, the weights, samples, the "
             "neuron finder (Units) and the state trajectory, as training goes.", lambda: v.tabs),
            ("6. Ask", "Every view has a <b>?</b> that says what it shows and how to read its "
             "colours; F1 explains them all, Help &gt; Keyboard shortcuts lists the keys. Save the "
             "whole session with Ctrl+Shift+S.", lambda: v.tabs.cornerWidget()),
        ]  # fmt: skip

    def about(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "About rnnviz",
            f"<b>rnnviz {__version__}</b><p>See inside recurrent neural networks: train a small RNN, "
            "LSTM or GRU and watch its states, gates and gradients, live, on the real numbers.</p>",
            parent=self.window,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def close(self) -> None:
        """The window is closing: its application-wide key filter goes, and the tour."""
        QApplication.instance().removeEventFilter(self.keys)
        if self.tour is not None:
            self.tour.close()
