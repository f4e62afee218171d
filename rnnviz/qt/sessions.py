"""SessionActions: starting training sessions for MainWindow (the window's model, from the
controls, a saved model or a preset) and handing the views over to a new session."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QTimer

from rnnviz.core.corpus import BUILTIN_PREFIX, Corpus, assets_dir, load_corpus
from rnnviz.core.errors import RnnvizError
from rnnviz.core.session import DEFAULT_MODEL, TrainerSpec, new_spec, spec_from_checkpoint
from rnnviz.core.session_file import SUFFIX as SESSION_SUFFIX

EVAL_EVERY = 100
START_WAIT_S = 60.0  # building a trainer takes milliseconds, once torch is loaded (~2 s at launch)
WELCOME_TEXT = "The keeper counted the ships"


class SessionActions:
    """Mixed into MainWindow (uses its host, views, controls and typing panel). The slots of the
    session's cross-thread signals stay on MainWindow itself."""

    def _start_first(self, model: str | None, corpus: str | None, text: str | None = None) -> None:
        """The pre-trained default model (or `model`), or a fresh one on `corpus`. It is shown at
        once; the training process builds its trainer meanwhile (it is still importing torch)."""
        default = assets_dir() / DEFAULT_MODEL
        if model and Path(model).suffix.lower() == SESSION_SUFFIX:  # `rnnviz FILE.rnnviz`, or the desktop's
            session, model = model, None  # the default model at once, then the session read over it
            QTimer.singleShot(0, lambda: self._open_at_launch(session, text))
        if corpus and corpus.startswith(BUILTIN_PREFIX):
            self.controls.corpus.setCurrentIndex(max(self.controls.corpus.findData(corpus), 0))
        elif corpus:  # a file: read it off the GUI thread, then start a fresh model on it
            QTimer.singleShot(0, lambda: self.opener.open(corpus, self.controls.level.currentText()))
        builtin = bool(corpus) and corpus.startswith(BUILTIN_PREFIX)
        try:
            if model or (default.is_file() and not builtin):
                spec = spec_from_checkpoint(model or str(default), self.controls.corpus_spec())
                self._start(spec, model, wait=False)
            else:
                self._start(self._spec_from_controls(), wait=False)
        except RnnvizError as exc:  # a bad file: say so, and start on the default corpus instead
            self._warn(str(exc), dialog=True)
            self.controls.corpus.setCurrentIndex(0)
            self._start(self._spec_from_controls(), wait=False)
        self.typing.editor.setPlainText(WELCOME_TEXT if text is None else text)
        self.typing.editor.moveCursor(self.typing.editor.textCursor().MoveOperation.End)

    def _open_at_launch(self, path: str, text: str | None) -> None:
        """A session named at launch; a file that cannot be opened leaves the default model, said in a
        dialog. --text, if given, replaces the session's typed text."""
        if self.open_session(path) and text is not None:
            self.typing.editor.setPlainText(text)
            self.typing.editor.moveCursor(self.typing.editor.textCursor().MoveOperation.End)

    def _spec_from_controls(self) -> TrainerSpec:
        c = self.controls
        return new_spec(self._corpus_from_controls(), c.model_config, c.train_config())

    def _corpus_from_controls(self) -> Corpus:
        """The chosen corpus: a built-in, or the file read last (kept: it may have been a slow read)."""
        spec, level = self.controls.corpus_spec(), self.controls.level.currentText()
        kept = self.file_corpus
        if kept is None or kept.name != spec:  # a path a session named: its text, not the file there
            kept = self.session_corpora.get(spec)
        if kept is not None and kept.name == spec:
            return kept if kept.level == level else Corpus.from_text(kept.text, level, spec)
        return load_corpus(spec, level)

    def _start(self, spec: TrainerSpec, model_path: str | None = None, wait: bool = True) -> None:
        """A new training session; the current one goes on if this one cannot be built (RnnvizError).

        wait=False (at launch): shown at once, built by the training process when it is ready."""
        if spec.model_cfg.regression:  # a forecaster of numbers has a window of its own
            self.open_series(spec)
            return
        worker = self.host.session(spec, EVAL_EVERY, self.controls.budget.value())
        worker.snapshot_ready.connect(self._on_snapshot)
        worker.failed.connect(self._on_failed)
        worker.diverged.connect(self._on_diverged)
        worker.notice.connect(self._on_notice)
        worker.running_changed.connect(self._on_running)
        worker.figures_ready.connect(self._on_figures)
        worker.config_changed.connect(self._on_config)
        if not wait:
            worker.started.connect(self._on_started)
            worker.start_failed.connect(self._on_start_failed)
        self.host.start(worker, None if not wait else START_WAIT_S)
        self._adopt(worker, model_path, show_notes=wait)
        if spec.weights is not None and not wait:  # the saved weights, traced before training starts
            self.probe.set_weights(spec.model_cfg, spec.corpus.vocab, spec.weights)

    def _adopt(self, worker, model_path: str | None, show_notes: bool) -> None:
        """The views follow the new session; the previous one is stopped (its late reports ignored)."""
        if self.worker is not None:
            self.host.stop(self.worker)
        self.worker, trainer = worker, worker.info
        self._mark_saved(trainer.steps)
        self.model_path = model_path
        self.latest = None
        self.probe.clear()  # nothing of the previous model is traced from here on
        self._retrace()
        for view in (self.curves, self.gradnorms):
            view.clear()
        self.samples.last_step = None
        self.internals.set_model(trainer.model_cfg)
        self.unrolled.unit.setMaximum(trainer.model_cfg.hidden - 1)  # before a saved view sets them
        self.unrolled.layer.setMaximum(trainer.model_cfg.layers)
        self.weights.set_model(trainer.model_cfg, trainer.corpus.vocab.tokens)
        self.gradnorms.set_clip(trainer.cfg.clip)
        self.typing.set_vocab(trainer.corpus.vocab.tokens)
        self.controls.show_config(trainer.corpus.name, trainer.corpus.level, trainer.model_cfg, trainer.cfg)
        self.controls.set_playing(False)
        self._preset_started(trainer)
        self._units_follow(trainer)
        if show_notes:
            for note in trainer.notes:
                self._warn(note, dialog=True)
        self.status.start(trainer, worker.budget_end)
        self.progress.set_budget(max(worker.budget_end - self.controls.budget.value(), 0), worker.budget_end)

    def spec_going_on(self, weights: dict, step: int, cfg=None) -> TrainerSpec:
        """The current session's data and settings (`cfg` in place of its training settings), going
        on from `weights` after `step` updates."""
        t = self.worker.info
        return TrainerSpec(t.corpus, t.model_cfg, cfg or t.cfg, weights, step, preset=t.preset)

    def lost_training(self) -> bool:
        """The training process died under the current session (it said so: worker.error)."""
        return bool(getattr(self.host, "dead", False)) and getattr(self.worker, "error", None) is not None

    def resume_lost(self) -> bool:
        """Play after the training process died: a new process goes on from the last weights it sent,
        with the same data and settings (the learning rate last applied); the curves are kept up to
        that step. False when nothing was received to go on from (Reset starts afresh)."""
        snap, trainer = self.latest, self.worker.info if self.worker is not None else None
        if snap is None or trainer is None:
            self._warn("the training process has ended before sending any weights: Reset starts a new one")
            return False
        step = snap.weights_step
        history = self.history_until(step)
        cfg = trainer.cfg if snap.metrics is None else replace(trainer.cfg, lr=snap.metrics.lr)
        spec = self.spec_going_on(snap.weights, step, cfg)
        self._start(spec, self.model_path, wait=False)  # a new process; the GUI goes on while it starts
        self.restore_history(history)
        self.worker.play()
        self.statusBar().showMessage(f"a new training process goes on from step {step:,}", 8000)
        return True

    def unfinished_threads(self) -> int:
        return self.host.unfinished()

    def _from_current(self) -> bool:
        """True when the signal being handled comes from the current session, not a stopped one."""
        return self.worker is not None and self.sender() is self.worker
