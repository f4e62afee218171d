"""The training timeline: weights kept every N updates (in memory, bounded), and the bar whose
slider moves every view of the typed text back to one of them ("what did this unit do at step
200?"), a second scrub axis beside the time-step scrubber of the unrolled view.

"Train on from here" starts a new session from the chosen weights with the same settings and
seed; from the first checkpoint (the initial weights) that replays training from the same
initialisation.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QWidget

from rnnviz.core.errors import RnnvizError
from rnnviz.core.snapshot import Snapshot

EVERY = 50  # updates between checkpoints
CAP = 64  # checkpoints kept at most
MAX_BYTES = 256 * 2**20  # and at most this much memory for them


class Timeline:
    """(updates, weights) every `every` updates; when full, every other one is dropped (the first
    and the last kept), so the timeline spans all of training more coarsely as it goes on."""

    def __init__(self, every: int = EVERY, cap: int = CAP, max_bytes: int = MAX_BYTES):
        self.every, self.cap, self.max_bytes = every, cap, max_bytes
        self.points: list[tuple[int, dict]] = []  # (updates, weights), oldest first
        self._spacing = every  # updates between the points kept (doubles as the timeline fills)

    def clear(self) -> None:
        self.points = []
        self._spacing = self.every

    def offer(self, snap: Snapshot) -> bool:
        """Keep the snapshot's weights if they are due (True when kept). They are never changed
        after they are sent, so they are kept as they are, not copied."""
        step = snap.weights_step
        if self.points and step < self.points[-1][0] + self._spacing:
            return False
        self.points.append((step, snap.weights))
        size = sum(a.nbytes for a in snap.weights.values())
        while len(self.points) > self.cap or len(self.points) * size > self.max_bytes:
            if len(self.points) <= 2:
                break
            self.points = self.points[:-1:2] + [self.points[-1]]
            self._spacing *= 2
        return True

    def __len__(self) -> int:
        return len(self.points)


class TimelineBar(QWidget):
    """A slider over the kept checkpoints; its right end is "live" (the latest weights)."""

    moved = Signal(object)  # None: live, or (updates, weights) to show
    train_from = Signal(object)  # (updates, weights): train on from this checkpoint

    def __init__(self, timeline: Timeline, parent=None):
        super().__init__(parent)
        self.timeline = timeline
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip(
            "Move every view of the typed text back to the weights of an earlier step (right end: live)"
        )
        self.label = QLabel("live")
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("step 100,000"))
        self.every = QSpinBox()
        self.every.setRange(1, 100_000)
        self.every.setValue(timeline.every)
        self.every.setPrefix("every ")
        self.every.setToolTip("Keep the weights every this many updates (older ones thin out)")
        self.every.valueChanged.connect(self._on_every)
        self.train_button = QPushButton("Train from here")
        self.train_button.setToolTip(
            "A new session from these weights, with the same settings and seed (from the first "
            "checkpoint: training replayed from the same initialisation)"
        )
        self.train_button.clicked.connect(self._on_train)
        self.best_step: int | None = None  # the best held-out step (TrainingCurves.best_changed)
        self.best_button = QPushButton("Best")
        self.best_button.setToolTip(
            "Go to the kept weights nearest the best held-out step (the star on the loss)"
        )
        self.best_button.clicked.connect(self.go_to_best)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addWidget(QLabel("Timeline"))
        lay.addWidget(self.slider, 1)
        for w in (self.label, self.best_button, self.every, self.train_button):
            lay.addWidget(w)
        self.slider.valueChanged.connect(self._on_slider)
        self.refresh()

    @property
    def live(self) -> bool:
        return self.slider.value() >= self.slider.maximum()

    def refresh(self) -> None:
        """The checkpoints changed: a live slider stays live, a pinned one stays on its step."""
        n, was_live = len(self.timeline), self.live
        pinned = (
            None if was_live or self.slider.value() >= n else self.timeline.points[self.slider.value()][0]
        )
        self.slider.blockSignals(True)
        self.slider.setRange(0, n)  # n: live
        if was_live:
            self.slider.setValue(n)
        elif pinned is not None:
            steps = [s for s, _ in self.timeline.points]
            self.slider.setValue(min(range(n), key=lambda k: abs(steps[k] - pinned)))
        self.slider.blockSignals(False)
        self.train_button.setEnabled(not self.live)
        self._show_label()

    def set_best(self, step: int | None) -> None:
        self.best_step = step
        self._show_label()

    def go_to_best(self) -> None:
        """Move to the kept checkpoint nearest the best held-out step."""
        if self.best_step is None or not len(self.timeline):
            return
        steps = [s for s, _ in self.timeline.points]
        self.slider.setValue(min(range(len(steps)), key=lambda k: abs(steps[k] - self.best_step)))

    def _on_slider(self, k: int) -> None:
        self.train_button.setEnabled(not self.live)
        self._show_label()
        self.moved.emit(None if self.live else self.timeline.points[k])

    def _on_train(self) -> None:
        if not self.live:
            self.train_from.emit(self.timeline.points[self.slider.value()])

    def _on_every(self, n: int) -> None:
        self.timeline.every = self.timeline._spacing = n

    def _show_label(self) -> None:
        self.best_button.setEnabled(self.best_step is not None and len(self.timeline) > 0)
        if self.best_step is not None:
            self.best_button.setToolTip(
                f"Go to the kept weights nearest step {self.best_step:,}, the best held-out"
            )
        if self.live or not len(self.timeline):
            self.label.setText("live")
            self.label.setToolTip("every view shows the latest weights")
        else:
            step = self.timeline.points[self.slider.value()][0]
            self.label.setText(f"step {step:,}")
            latest = self.timeline.points[-1][0]
            self.label.setToolTip(f"the weights of step {step:,}; the latest kept: step {latest:,}")


class TimelineController:
    """The timeline of the main window's session: it keeps the session's weights as they arrive;
    moving the bar shows the typed text with earlier weights (`pinned`), "Train on from here"
    starts a new session from them (asking first if training would be lost)."""

    def __init__(self, session, guard, text, weights_view, curves, notify):
        """session: qt.sessions.TrainingSession; guard: qt.unsaved.UnsavedGuard; text:
        qt.typed_text.TypedText; weights_view: the Weights tab; curves: the Loss tab (it marks the
        step shown); notify: qt.notifier.Notifier."""
        self.session, self.guard, self.text, self.notify = session, guard, text, notify
        self.weights_view, self.curves = weights_view, curves
        self.timeline = Timeline()
        self.bar = TimelineBar(self.timeline)
        self.bar.moved.connect(self.show_point)
        self.bar.train_from.connect(self.train_from)
        self.pinned: tuple[int, dict] | None = None  # (updates, weights) the views show, else live

    def follow(self, _info=None) -> None:
        """A new session: an empty timeline, the views live."""
        self.timeline.clear()
        self.pinned = None
        self.bar.refresh()

    def keep(self, snap: Snapshot) -> None:
        if self.timeline.offer(snap):
            self.bar.refresh()

    def show_point(self, point) -> None:
        """Show the typed text with the weights of `point` (updates, weights); None: the latest."""
        self.pinned = point
        snap = self.session.latest
        if snap is None:
            return
        weights = snap.weights if point is None else point[1]
        self.text.probe.set_weights(snap.model_cfg, snap.vocab, weights)
        if self.weights_view.isVisible():
            self.weights_view.set_weights(weights)
        self.text.retrace()
        self.curves.mark_step(None if point is None else point[0])
        if point is not None:
            self.notify.status(
                f"the typed text's views show the weights of step {point[0]:,} (training goes on)"
            )

    def train_from(self, point) -> None:
        """A new session from a checkpoint: the same data, settings and seed."""
        if self.session.worker is None or not self.guard.may_discard("training from an earlier step"):
            return
        step, weights = point
        try:
            self.session.start(self.session.spec_going_on(weights, step))
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)
            return
        self.notify.status(f"training on from step {step:,}: press Play")
