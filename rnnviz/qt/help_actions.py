"""HelpActions: the Help menu, the "?" beside every view, the first-launch tour, and the window's
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
from rnnviz.qt.settings import get_bool, put

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

    def __init__(self, window):
        super().__init__(window)
        self.window = window

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
        if self._in(obj, self.window.unrolled) or key == Qt.Key.Key_Space and event.isAutoRepeat():
            return False
        return self.window.window_key(key, bool(mods & Qt.KeyboardModifier.ShiftModifier))

    @staticmethod
    def _in(widget: QWidget | None, parent: QWidget) -> bool:
        return widget is not None and (widget is parent or parent.isAncestorOf(widget))


class HelpActions:
    """Mixed into MainWindow (uses its views, controls, tabs and typing panel)."""

    TAB_TOPICS = ("curves", "gradnorms", "weights", "samples", "preset", "units", "trajectory")

    def _help(self) -> None:
        """The Help menu, the "?" buttons and the window's keys; the tour at the first launch."""
        menu = self.menuBar().addMenu("&Help")
        for text, keys, slot in (
            ("&What am I looking at?", "F1", lambda: helptext.guide_dialog(self)),
            ("Keyboard &shortcuts", "Ctrl+/", lambda: helptext.shortcuts_dialog(self)),
            ("Take the &tour", None, self.start_tour),
            ("&About rnnviz", None, self.about),
        ):
            action = QAction(text, self)
            if keys:
                action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            menu.addAction(action)
        self.inside.setCornerWidget(helptext.help_button(self._inside_topic, self), Qt.Corner.TopRightCorner)
        self.tabs.setCornerWidget(helptext.help_button(self._tab_topic, self), Qt.Corner.TopRightCorner)
        typing_help = helptext.help_button("typing", self)
        self.typing.layout().addWidget(typing_help, 2, 3, Qt.AlignmentFlag.AlignRight)
        self.timeline_bar.layout().addWidget(helptext.help_button("timeline", self))
        self.keys = WindowKeys(self)
        QApplication.instance().installEventFilter(self.keys)
        self.tour = None
        if not get_bool(TOUR_KEY):
            QTimer.singleShot(800, self.start_tour)

    def _inside_topic(self) -> str:
        return "unrolled" if self.inside.currentWidget() is self.unrolled else "inside"

    def _tab_topic(self) -> str:
        return self.TAB_TOPICS[min(self.tabs.currentIndex(), len(self.TAB_TOPICS) - 1)]

    def window_key(self, key, shift: bool) -> bool:
        """Space: play/pause training; Left/Right: the previous/next time step (Shift: 10);
        Home/End: the first/last. True when the key was used."""
        if self.inside.currentWidget() is self.unrolled:  # the step-through shown: its keys
            return self.unrolled.key(
                key, Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier(0)
            )
        if key == Qt.Key.Key_Space:
            self.controls.play.toggle()
            return True
        tr = self.last_probe.trace
        if tr is None or tr.steps == 0:
            return False
        cur = tr.steps - 1 if self.selected is None else self.selected
        n = 10 if shift else 1
        target = {
            Qt.Key.Key_Left: cur - n,
            Qt.Key.Key_Right: cur + n,
            Qt.Key.Key_Home: 0,
            Qt.Key.Key_End: tr.steps - 1,
        }[key]
        self.show_step(max(0, min(target, tr.steps - 1)))
        return True

    def start_tour(self) -> None:
        if self._closing:
            return
        if self.tour is not None:
            self.tour.close()
        self.tour = helptext.Tour(self, self._tour_steps())
        self.tour.finished.connect(lambda _r: put(TOUR_KEY, True))
        self.tour.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        key = id(self.tour)
        self.tour.destroyed.connect(lambda *_a: self._tour_gone(key))
        self.tour.show()

    def _tour_gone(self, key: int) -> None:
        if self.tour is not None and id(self.tour) == key:  # not a newer tour
            self.tour = None

    def _tour_steps(self):
        dock = self.controls.parentWidget()
        return [
            ("1. Type here", "Every keystroke runs the network over your text. The bars on the right "
             "are its guesses for the next character; click a step in the heatmaps below to see "
             "the guesses there.", lambda: self.typing),
            ("2. Train it", "The settings of the model and of training. Press <b>Play</b> (F5 or "
             "Space) and watch the guesses get better; Reset (Ctrl+R) starts a fresh model from "
             "these settings. The presets (Preset menu) are ready-made lessons.", lambda: dock),
            ("3. Look inside", "The hidden state h of every unit at every step of your text, an "
             "LSTM's cell state c and its gates, and ||dL/dh<sub>t</sub>||: how far back the "
             "gradient reaches. Left/Right move the selected step.", lambda: self.inside),
            ("4. Step through", "The <b>Unrolled</b> tab plays the forward pass and backpropagation "
             "through time, a step at a time, with the chosen unit's numbers in the equations.",
             lambda: self.inside.tabBar()),
            ("5. Watch it learn", "Loss and accuracy, gradient norms, the weights, samples, the "
             "neuron finder (Units) and the state trajectory, as training goes.", lambda: self.tabs),
            ("6. Ask", "Every view has a <b>?</b> that says what it shows and how to read its "
             "colours; F1 explains them all, Help &gt; Keyboard shortcuts lists the keys. Save the "
             "whole session with Ctrl+Shift+S.", lambda: self.tabs.cornerWidget()),
        ]  # fmt: skip

    def about(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "About rnnviz",
            f"<b>rnnviz {__version__}</b><p>See inside recurrent neural networks: train a small RNN, "
            "LSTM or GRU and watch its states, gates and gradients, live, on the real numbers.</p>",
            parent=self,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _help_closed(self) -> None:
        """The window is closing: its application-wide filters (keys, right-click export) go."""
        QApplication.instance().removeEventFilter(self.keys)
        QApplication.instance().removeEventFilter(self.exports)
        if self.tour is not None:
            self.tour.close()
