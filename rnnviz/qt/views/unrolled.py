"""UnrolledPanel: the unrolled network and its step-through animation.

Frames (core.unroll.frames) go forward one step at a time (each gate, in detail mode), then back
through time from the target step. Keys while the panel has focus: Space play/pause, Left/Right
one frame (Shift: 10), Home/End; a speed control and a scrubber. Editing the text or training
further re-traces: the animation keeps its place.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QScrollBar,
    QSlider,
    QSpinBox,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.trace import Trace, TraceWeights
from rnnviz.core.unroll import Frame, frame_detail, frames
from rnnviz.qt.views.common import fmt, show_token
from rnnviz.qt.views.unrolled_paint import (
    HEADER_H,
    LEFT,
    View,
    columns,
    needed_height,
    paint,
    panel_height,
    unit_at,
)

MIN_COL, MAX_COL = 76.0, 220.0  # a gradient norm fits in half a column beside its arrows


class StepThrough(QObject):
    """The frame sequence and where the animation is in it; plays on a timer."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.frames: list[Frame] = []
        self.index = 0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.set_speed(2.0)

    @property
    def frame(self) -> Frame | None:
        return self.frames[self.index] if self.frames else None

    def set_frames(self, new: list[Frame]) -> None:
        """New frames (a re-trace): stay on the same frame if it still exists, else the nearest."""
        old = self.frame
        self.frames = new
        if old is not None and old in new:
            self.index = new.index(old)
        else:
            self.index = min(self.index, max(len(new) - 1, 0))
        self.changed.emit()

    def go(self, index: int) -> None:
        index = max(0, min(index, len(self.frames) - 1))
        if index != self.index:
            self.index = index
            self.changed.emit()

    def step(self, n: int) -> None:
        self.go(self.index + n)

    def set_speed(self, frames_per_s: float) -> None:
        self.timer.setInterval(max(20, int(1000 / frames_per_s)))

    def play(self, on: bool) -> None:
        if on and self.index >= len(self.frames) - 1:
            self.go(0)  # Play at the end starts over
        (self.timer.start if on else self.timer.stop)()

    def _tick(self) -> None:
        if self.index >= len(self.frames) - 1:
            self.timer.stop()
            self.changed.emit()  # the Play button follows
            return
        self.step(1)


class UnrolledCanvas(QWidget):
    def __init__(self, panel: UnrolledPanel):
        super().__init__()
        self.panel = panel  # (its parent is the scroll area's viewport)
        self.trace: Trace | None = None
        self.view = View()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumHeight(260)
        self.setMouseTracking(True)  # hover: the exact value of the square under the mouse
        self.frames_by: QTimer | None = None  # the window's frame timer (follow_frames)
        self._due = False  # an update waits for the window's next frame

    def follow_frames(self, timer: QTimer) -> None:
        """Paint at the window's frames only: while `timer` runs, an update waits for the frame
        tick's end (flush), so that the drawing (4-12 ms a paint) is painted at most once a frame,
        with the frame's other views. It had painted when asked: a step of the playing step-through,
        or an update just after a re-trace's paint, came at any moment between two ticks, and one
        just before a tick held that frame up (the Unrolled tab's frame p99 26-32 ms on Xvfb)."""
        self.frames_by = timer

    def update(self, *args) -> None:
        if args or self.frames_by is None or not self.frames_by.isActive():
            super().update(*args)
        else:
            self._due = True

    def flush(self) -> None:
        """The end of a frame tick: what was asked for since the last is painted now (queued with
        the tick's other paints)."""
        if self._due:
            self._due = False
            super().update()

    def hover_text(self, x: float, y: float) -> str:
        """The step, token, layer, unit and value of the square of h at (x, y), or ""."""
        tr = self.trace
        hit = None if tr is None else unit_at(QRectF(self.rect()), tr, self.view, x, y)
        if hit is None:  # the header's whole caption or the panel's lines, when shortened
            return self.view.caption if y < HEADER_H else self.view.panel if y > self._panel_top() else ""
        t, n, u = hit
        text = f"step {t} {show_token(tr.tokens[t])!r} \u00b7 layer {n + 1} \u00b7 unit {u}"
        text += f" \u00b7 h = {fmt(tr.h[n, t, u])}"
        if tr.state is not None:  # the S6: the channel's state row, by its size
            text += f", |s| = {fmt(float(np.linalg.norm(tr.state[n, t, u])))} (N = {tr.cfg.state})"
        return text + (f", c = {fmt(tr.c[n, t, u])}" if tr.c is not None else "")

    def _panel_top(self) -> float:
        tr = self.trace
        return (
            self.height() - panel_height(tr.cfg.arch)
            if tr is not None and self.view.detail
            else self.height()
        )

    def mouseMoveEvent(self, event) -> None:
        text = self.hover_text(event.position().x(), event.position().y())
        if text:
            QToolTip.showText(event.globalPosition().toPoint(), text, self)
        else:
            QToolTip.hideText()
        super().mouseMoveEvent(event)

    def refresh_colormaps(self) -> None:
        """Follow the colour-map preference (the drawing reads it on every paint)."""
        self.update()

    def fit_height(self) -> None:
        """At least the height the drawing needs for its layers and cell panel (shorter, its rows
        and labels would overlap): where the tab is lower, the drawing scrolls instead."""
        tr = self.trace
        need = 260 if tr is None else max(260, math.ceil(needed_height(tr, self.view.detail is not None)))
        if need != self.minimumHeight():
            self.setMinimumHeight(need)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        if self.trace is None:
            p.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter, "Type some text to unroll the network over it."
            )
        else:
            paint(p, QRectF(self.rect()), self.trace, self.view)
        p.end()

    def keyPressEvent(self, event) -> None:
        """The step-through keys when the drawing has focus (the panel's shortcuts cover the rest)."""
        if not self.panel.key(event.key(), event.modifiers()):
            super().keyPressEvent(event)

    def wheelEvent(self, event) -> None:
        """Ctrl+wheel zooms (column width); the wheel alone scrolls the steps."""
        steps = event.angleDelta().y() / 120
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.view.col_w = max(MIN_COL, min(MAX_COL, self.view.col_w * (1.15**steps)))
            self.panel.sync_scroll()
        else:
            self.panel.scroll.setValue(self.panel.scroll.value() - int(steps))
        event.accept()


class UnrolledPanel(QWidget):
    step_selected = Signal(int)  # the time step of the current frame, for the other views

    def __init__(self, parent=None):
        super().__init__(parent)
        self._quiet = False  # new frames, not the user: the other views keep their selection
        self.anim = StepThrough(self)
        self.weights: TraceWeights | None = None
        self.interventions: tuple = ()  # those the trace was made with: the cell panel replays them
        self.canvas = UnrolledCanvas(self)
        self.area = QScrollArea()  # vertical only: the steps scroll with self.scroll
        self.area.setWidget(self.canvas)
        self.area.setWidgetResizable(True)
        self.area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll = QScrollBar(Qt.Orientation.Horizontal)
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Play / pause the step-through (Space)")
        buttons = []
        for text, tip, fn in (
            ("|\u25c0", "First frame (Home)", lambda: self.anim.go(0)),
            ("\u25c0", "Previous frame (Left; Shift+Left: 10)", lambda: self.anim.step(-1)),
            ("\u25b6", "Next frame (Right; Shift+Right: 10)", lambda: self.anim.step(1)),
            ("\u25b6|", "Last frame (End)", lambda: self.anim.go(len(self.anim.frames) - 1)),
        ):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.setMaximumWidth(36)
            b.clicked.connect(fn)
            buttons.append(b)
        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.25, 30.0)
        self.speed.setValue(2.0)
        self.speed.setSuffix(" fps")
        self.speed.setToolTip("Frames per second while playing")
        self.detail = QCheckBox("each gate")
        self.detail.setToolTip("Forward frames for every sub-step of the cell (each gate), not one per step")
        self.unit = QSpinBox()
        self.unit.setPrefix("unit ")
        self.layer = QSpinBox()
        self.layer.setPrefix("layer ")
        self.layer.setMinimum(1)
        self.scrubber = QSlider(Qt.Orientation.Horizontal)
        self.caption = QLabel(" ")
        self.caption.setWordWrap(True)
        self.caption.setMinimumWidth(10)
        bar = QHBoxLayout()
        bar.addWidget(self.play)
        for b in buttons:
            bar.addWidget(b)
        for w in (self.speed, self.detail):
            bar.addWidget(w)
        bar.addStretch(1)
        self.scrubber.setToolTip("Scrub through the frames: forward steps, then backward ones")
        scrub = QHBoxLayout()
        scrub.addWidget(self.layer)
        scrub.addWidget(self.unit)
        scrub.addWidget(self.scrubber, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addLayout(scrub)
        lay.addWidget(self.caption)
        lay.addWidget(self.area, 1)
        lay.addWidget(self.scroll)
        self._connect()

    def _connect(self) -> None:
        self.play.toggled.connect(self._on_play)
        self.speed.valueChanged.connect(self.anim.set_speed)
        self.detail.toggled.connect(self._refresh_frames)
        self.unit.valueChanged.connect(self._update)
        self.layer.valueChanged.connect(self._update)
        self.scrubber.valueChanged.connect(self.anim.go)
        self.scroll.valueChanged.connect(self._on_scroll)
        self.anim.changed.connect(self._update)
        for keys in ("Space", "Right", "Left", "Shift+Right", "Shift+Left", "Home", "End"):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            seq = QKeySequence(keys)[0]
            sc.activated.connect(lambda c=seq: self.key(c.key(), c.keyboardModifiers()))

    def key(self, key, modifiers) -> bool:
        """Space play/pause, Left/Right one frame (Shift: 10), Home/End. True if handled."""
        ten = 10 if modifiers & Qt.KeyboardModifier.ShiftModifier else 1
        K = Qt.Key
        if key == K.Key_Space:
            self.play.toggle()
        elif key in (K.Key_Right, K.Key_Left):
            self.anim.step(ten if key == K.Key_Right else -ten)
        elif key == K.Key_Home:
            self.anim.go(0)
        elif key == K.Key_End:
            self.anim.go(len(self.anim.frames) - 1)
        else:
            return False
        return True

    def set_trace(
        self, trace: Trace | None, weights: TraceWeights | None, loss_mode: str, interventions=()
    ) -> None:
        """The typed text's trace with the weights (and interventions) it came from; keeps the
        animation's place."""
        self.canvas.trace, self.weights, self.interventions = trace, weights, tuple(interventions)
        self.canvas.view.loss_mode = loss_mode
        if trace is None:
            self.anim.set_frames([])
            return
        self.unit.setMaximum(trace.cfg.hidden - 1)
        self.layer.setMaximum(trace.cfg.layers)
        self._fit_columns()
        self._refresh_frames()

    def _fit_columns(self) -> None:
        tr = self.canvas.trace
        if tr is not None:
            fit = (self.canvas.width() - LEFT - 8) / max(tr.steps, 1)  # every step in view if they fit
            self.canvas.view.col_w = max(MIN_COL, min(fit, 140.0))
            self.sync_scroll()

    def _refresh_frames(self) -> None:
        """New frames (a new text or new weights): the other views keep their selection; only a
        step the user moves to selects it (at launch, frame 0 does not select step 0)."""
        tr = self.canvas.trace
        self._quiet = True
        try:
            self.anim.set_frames(frames(tr, self.detail.isChecked()) if tr is not None else [])
        finally:
            self._quiet = False

    def _on_play(self, on: bool) -> None:
        self.play.setText("Pause" if on else "Play")
        self.anim.play(on)

    def sync_scroll(self) -> None:
        tr = self.canvas.trace
        shown = len(columns(self.canvas.width(), self.canvas.view, tr.steps)) if tr else 0
        self.scroll.setRange(0, max((tr.steps if tr else 0) - shown, 0))
        self.scroll.setPageStep(max(shown, 1))
        self.canvas.update()

    def _on_scroll(self, first: int) -> None:
        self.canvas.view.first = first
        self.canvas.update()

    def _update(self) -> None:
        """Show the current frame: scroll it into view, fill the cell panel, tell the other views."""
        f, tr, view = self.anim.frame, self.canvas.trace, self.canvas.view
        self.scrubber.blockSignals(True)
        self.scrubber.setRange(0, max(len(self.anim.frames) - 1, 0))
        self.scrubber.setValue(self.anim.index)
        self.scrubber.blockSignals(False)
        if self.play.isChecked() and not self.anim.timer.isActive():
            self.play.setChecked(False)
        view.frame, view.unit, view.layer = f, self.unit.value(), self.layer.value() - 1
        if f is None or tr is None:
            view.detail = None
            self.canvas.fit_height()
            self.caption.setText(" ")
            self.canvas.update()
            return
        w, ivs = self.weights, self.interventions
        view.detail = frame_detail(w, tr, f, view.layer, view.unit, ivs) if w is not None else None
        self.canvas.fit_height()
        self.caption.setText(f"frame {self.anim.index + 1}/{len(self.anim.frames)} \u00b7 {f.caption(tr)}")
        shown = len(columns(self.canvas.width(), view, tr.steps))
        if not view.first <= f.t < view.first + shown:
            self.scroll.setValue(max(0, f.t - shown + 2) if f.t >= view.first + shown else f.t)
        self.canvas.update()
        if not self._quiet:
            self.step_selected.emit(f.t)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()
