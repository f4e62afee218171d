"""CorpusAnalysis: the corpus read by the model on a thread of its own (for the neuron finder and
the state trajectory): every layer's states over the first tokens of the corpus, and the
principal components of each layer's h. One job at a time; a newer request replaces a waiting one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Signal, Slot

from rnnviz.core.corpus import Corpus
from rnnviz.core.errors import RnnvizError
from rnnviz.core.pca import Projection, fit_pca
from rnnviz.core.trace import TraceWeights
from rnnviz.core.units import States, corpus_states

GUI_POSITIONS = 20_000  # tokens of the corpus the app reads (rnnviz units reads all of it)


@dataclass(frozen=True)
class Analysis:
    states: States
    pca: tuple[Projection, ...]  # per layer, of h
    step: int  # the updates of the weights read with
    corpus: str  # its name


@dataclass(frozen=True)
class _Job:
    weights: TraceWeights
    corpus: Corpus
    step: int
    limit: int
    generation: int  # results of an older generation (an earlier session) are dropped


class _Reader(QObject):
    done = Signal(object, int)  # Analysis, its generation
    failed = Signal(str, int)

    def __init__(self):
        super().__init__()
        self.stopping = threading.Event()

    @Slot(object)
    def run(self, job: _Job) -> None:
        try:
            c = job.corpus
            states = corpus_states(job.weights, c.text, c.ids, c.level, job.limit, self.stopping.is_set)
            pca = tuple(fit_pca(states.h[n]) for n in range(states.h.shape[0]))
        except RnnvizError as exc:
            self.failed.emit(str(exc), job.generation)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. diverged weights, memory: said, never fatal
            self.failed.emit(f"the corpus could not be read: {type(exc).__name__}: {exc}", job.generation)
            return
        self.done.emit(Analysis(states, pca, job.step, c.name), job.generation)


class CorpusAnalysis(QObject):
    ready = Signal(object)  # Analysis, on the GUI thread
    failed = Signal(str)
    _start = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.busy, self._waiting, self.generation = False, None, 0
        self.thread = QThread()
        self.thread.setObjectName("rnnviz-corpus-analysis")
        self._reader = _Reader()
        self._reader.moveToThread(self.thread)
        self._start.connect(self._reader.run)
        self._reader.done.connect(self._on_done)
        self._reader.failed.connect(self._on_failed)
        self.thread.start()

    def request(self, weights: TraceWeights, corpus: Corpus, step: int, limit: int = GUI_POSITIONS) -> None:
        self._run(_Job(weights, corpus, step, limit, self.generation))

    def reset(self) -> None:
        """A new session: what is being read, or waits to be, belongs to the old one."""
        self.generation += 1
        self._waiting = None

    def _run(self, job: _Job) -> None:
        if self.busy:
            self._waiting = job
            return
        self.busy = True
        self._start.emit(job)

    @Slot(object, int)
    def _on_done(self, analysis: Analysis, generation: int) -> None:
        self._next()
        if generation == self.generation:
            self.ready.emit(analysis)

    @Slot(str, int)
    def _on_failed(self, message: str, generation: int) -> None:
        self._next()
        if generation == self.generation:
            self.failed.emit(message)

    def _next(self) -> None:
        self.busy, job = False, self._waiting
        self._waiting = None
        if job is not None:
            self._run(job)

    def stop(self) -> None:
        """End the thread (a reading under way stops at its next chunk of the corpus)."""
        if self._reader.stopping.is_set():
            return
        self._reader.stopping.set()
        for signal in (self._reader.done, self._reader.failed):
            signal.disconnect()  # nothing more reaches a window that is going away
        self.thread.quit()
        self.thread.wait()  # unbounded: a QThread destroyed while running aborts the process
