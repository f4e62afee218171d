"""ListenController: who listens to whom for the typed text (core.listen), computed on a thread of
its own for the Listening tab (qt.views.listen), and only while that tab is shown.

Typing never waits for it: the typed text's trace (`follow`, the second half of a keystroke) only
asks. A newer text or choice cancels the computation under way at its next step (the steps done
are kept, so a text that grows by a token costs one step: core.listen.Listener); new weights alone
do not cancel it, and ask at most once every REFRESH_S while training, so the matrix keeps up
without taking the core the training process needs. Rows come in order and are shown as they
come (every PARTIAL_S) when the whole takes longer (an LSTM's Jacobian over a long text); for new
weights alone the matrix shown stays until the new one is whole.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from rnnviz.core.errors import RnnvizError
from rnnviz.core.listen import JACOBIAN, Listener, kind_of
from rnnviz.core.probe import Probe, TextProbe
from rnnviz.core.trace import TraceWeights
from rnnviz.qt.views.listen import ListenView

REFRESH_S = 1.0  # new weights (training) are shown at most this often
PARTIAL_S = 0.25  # the rows computed so far are shown this often while a long computation runs
CHUNK = 4  # tokens read between two looks at the clock


@dataclass(frozen=True, eq=False)
class _Job:
    weights: TraceWeights
    ids: np.ndarray
    tokens: tuple[str, ...]
    unknown: np.ndarray = field(repr=False)
    layer: int
    measure: str
    channel: int | None
    interventions: tuple
    serial: int
    progressive: bool = True  # show the first rows while the rest is computed (not for new weights only)

    @property
    def key(self) -> tuple:
        """What is asked, but the weights."""
        return (tuple(self.ids.tolist()), self.layer, self.measure, self.channel, self.interventions)


class _Worker(QObject):
    partial = Signal(object, object)  # Listening of the first rows, _Job
    done = Signal(object, object)  # Listening (None: cancelled), _Job
    failed = Signal(str, object)

    def __init__(self):
        super().__init__()
        self.stopping = threading.Event()
        self.wanted = 0  # jobs older than this serial stop at their next step (set from the GUI thread)
        self.listener: Listener | None = None

    @Slot(object)
    def run(self, job: _Job) -> None:
        try:
            lis = self._listen(job)
        except RnnvizError as exc:
            self.failed.emit(str(exc), job)
            return
        except Exception as exc:  # noqa: BLE001 - diverged weights, memory: said, never fatal
            self.failed.emit(f"who listens to whom could not be computed: {type(exc).__name__}: {exc}", job)
            return
        self.done.emit(lis, job)

    def _listen(self, job: _Job):
        w = job.weights
        if self.listener is None or self.listener.w is not w:
            dtype = np.float32 if kind_of(w.cfg.arch) == JACOBIAN else np.float64  # half the time; ~1e-5
            self.listener = Listener(w, dtype)
        T, shown = len(job.ids), time.perf_counter()
        k = T if job.channel is not None else min(CHUNK, T)
        while True:
            lis = self.listener.listen(job.ids[:k], job.layer, job.measure, job.channel, job.interventions,
                                       job.tokens[:k], cancelled=lambda: self._cancelled(job))  # fmt: skip
            if lis is None or k == T:
                return lis
            if job.progressive and time.perf_counter() - shown > PARTIAL_S:
                self.partial.emit(lis, job)
                shown = time.perf_counter()
            k = min(k + CHUNK, T)

    def _cancelled(self, job: _Job) -> bool:
        return self.stopping.is_set() or job.serial < self.wanted


class ListenController(QObject):
    _start = Signal(object)

    def __init__(self, probe: TextProbe, view: ListenView, parent: QObject | None = None):
        """probe: the typed text's (its weights and interventions); view: the Listening tab."""
        super().__init__(parent)
        self.probe, self.view = probe, view
        self.last: Probe | None = None  # the typed text's last trace
        self.cfg = None  # the model the view is set for
        self.busy = False
        self._waiting: _Job | None = None
        self._asked: tuple | None = None  # (weights, key) of the last job asked for
        self._started = 0.0  # when the last job for new weights was asked for
        self.serial = 0
        self.refresh = QTimer(self)
        self.refresh.setSingleShot(True)
        self.refresh.timeout.connect(self.update)
        self.thread = QThread()
        self.thread.setObjectName("rnnviz-listen")
        self._worker = _Worker()
        self._worker.moveToThread(self.thread)
        self._start.connect(self._worker.run)
        self._worker.partial.connect(self._on_partial)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self.thread.start()
        view.settings_changed.connect(self.update)
        view.shown.connect(self.update)

    def follow(self, probe: Probe) -> None:
        """The typed text was traced (a keystroke's second half, new weights, a new model)."""
        self.last = probe
        self.update()

    def update(self) -> None:
        """Ask for the typed text's alpha as the view chooses it, when the view is shown."""
        w = self.probe.weights
        if w is not None and w.cfg != self.cfg:
            self.cfg = w.cfg
            self.view.set_model(w.cfg)
            self._asked = None
        if not self.view.isVisible():
            return
        tr = self.last.trace if self.last is not None else None
        if w is None or tr is None:
            self.view.clear("Type a text: this view shows how much each step hears of every token before it.")
            self._asked = None
            return
        layer, measure, channel = self.view.settings()
        job = _Job(w, tr.ids, tr.tokens, tr.unknown, layer, measure, channel, tuple(self.probe.interventions),
                   self.serial + 1)  # fmt: skip
        if self._asked is not None and self._asked[1] == job.key:
            if self._asked[0] is w:
                return  # asked already
            wait = REFRESH_S - (time.perf_counter() - self._started)
            if wait > 0:  # new weights only: soon, not on every snapshot
                self.refresh.start(int(wait * 1000) + 1)
                return
            job = replace(job, progressive=False)  # the matrix shown stays until the new one is whole
        else:
            self._worker.wanted = job.serial  # what was asked before is of no use now
        self.serial, self._asked, self._started = job.serial, (w, job.key), time.perf_counter()
        if self.busy:
            self._waiting = job
            return
        self.busy = True
        self._start.emit(job)

    def _current(self, job: _Job) -> bool:
        """A result still worth showing: of this model, and not older than what is shown."""
        return job.weights.cfg == self.cfg and job.serial >= self._worker.wanted

    @Slot(object, object)
    def _on_partial(self, lis, job: _Job) -> None:
        if self._current(job):
            self.view.set_listening(lis, job.tokens, job.unknown)

    @Slot(object, object)
    def _on_done(self, lis, job: _Job) -> None:
        self._next()
        if lis is not None and self._current(job):
            self.view.set_listening(lis, job.tokens, job.unknown)

    @Slot(str, object)
    def _on_failed(self, message: str, job: _Job) -> None:
        self._next()
        if self._current(job):
            self.view.clear(message)

    def _next(self) -> None:
        self.busy, job = False, self._waiting
        self._waiting = None
        if job is not None:
            self.busy = True
            self._start.emit(job)

    def stop(self) -> None:
        """End the thread (a computation under way stops at its next step)."""
        if self._worker.stopping.is_set():
            return
        self._worker.stopping.set()
        self.refresh.stop()
        for signal in (self._worker.partial, self._worker.done, self._worker.failed):
            signal.disconnect()
        self.thread.quit()
        self.thread.wait()  # unbounded: a QThread destroyed while running aborts the process
