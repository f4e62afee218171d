"""PresetActions: the Presets menu's work for MainWindow. A token preset (last-letter words, the
fable) trains in the main window with its figures in the Preset tab; the noisy-sine forecaster
opens a window of its own."""

from __future__ import annotations

import time

import torch
from PySide6.QtGui import QAction

from rnnviz.core.errors import RnnvizError
from rnnviz.core.model import CharRNN
from rnnviz.core.presets import PRESETS, Preset, Scorer, load_source, preset_trainer
from rnnviz.core.snapshot import Snapshot
from rnnviz.core.train import Trainer

SCORE_EVERY_S = 0.5  # the Preset tab's figures are recomputed at most this often while training
# What each preset's typing box starts with: a word to complete, or words to continue.
EXAMPLES = {"words": "welcom", "fable": "Then came a", "fable-story": "At the edge of a dark"}


def probe_window(trainer: Trainer) -> int | str | None:
    """How the typed text is read, as the model was trained (see TextProbe.window)."""
    return {"windows": trainer.cfg.seq_len, "words": "word"}.get(trainer.cfg.samples)


class PresetActions:
    """Mixed into MainWindow (uses its tabs, figures panel, probe, typing panel and _start)."""

    def _preset_menu(self) -> None:
        menu = self.menuBar().addMenu("&Presets")
        for p in PRESETS.values():
            action = QAction(p.title, self)
            action.setStatusTip(p.summary)
            action.triggered.connect(lambda _=False, name=p.name: self.open_preset(name))
            menu.addAction(action)
        self.preset: Preset | None = None
        self.scorer: Scorer | None = None
        self.series_window = None
        self._score_model: CharRNN | None = None
        self._last_score = 0.0
        self.train_seconds = 0.0

    def open_preset(self, name: str) -> None:
        preset = PRESETS[name]
        if preset.level == "value":
            self.open_series()
            return
        try:
            trainer = preset_trainer(preset, load_source(preset))
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return
        self._start(trainer)
        self.typing.editor.setPlainText(EXAMPLES.get(name, ""))
        self.typing.editor.moveCursor(self.typing.editor.textCursor().MoveOperation.End)
        self.tabs.setCurrentWidget(self.figures)
        self.statusBar().showMessage(f"{preset.title}: press Play (it trains in seconds)", 8000)

    def open_series(self, trainer: Trainer | None = None) -> None:
        """The noisy-sine forecaster's window (made on first use); `trainer`: a value model to show."""
        from rnnviz.qt.series_window import SeriesWindow  # on demand, like the gradient lab

        if self.series_window is None:
            self.series_window = SeriesWindow(parent=self)
        if trainer is not None:
            self.series_window.open_trainer(trainer)
        self.series_window.show()
        self.series_window.raise_()
        self.series_window.activateWindow()

    def _preset_started(self, trainer: Trainer) -> None:
        """Called by _start: the Preset tab and the typing box follow the new trainer."""
        self.preset = PRESETS.get(trainer.preset or "")
        self.probe.window = probe_window(trainer)
        self.figures.set_preset(self.preset)
        self.train_seconds, self.target_seconds = 0.0, None
        self._score_model = None
        self.scorer = None
        if self.preset is not None:
            try:
                self.scorer = Scorer(self.preset, trainer.corpus, trainer.cfg)
            except RnnvizError as exc:  # the settings no longer suit the preset's figures
                self.statusBar().showMessage(f"no preset figures: {exc}", 8000)

    def keep_preset(self, trainer: Trainer) -> None:
        """A Reset on the preset's own data stays that preset (with the settings changed)."""
        p = self.preset
        if p is not None and self.controls.corpus_spec() == p.source and trainer.corpus.level == p.level:
            trainer.preset = p.name

    def _count_seconds(self, snap: Snapshot) -> None:
        self.train_seconds += sum(m.seconds for m in snap.recent)

    def _score(self, force: bool = False) -> None:
        """The Preset tab's figures for the latest weights (when it is shown)."""
        snap, now = self.latest, time.perf_counter()
        if self.scorer is None or snap is None or not self.figures.isVisible():
            return
        if not force and now - self._last_score < SCORE_EVERY_S:
            return
        self._last_score = now
        if self._score_model is None:
            self._score_model = CharRNN(snap.model_cfg)
        self._score_model.load_state_dict({k: torch.from_numpy(v) for k, v in snap.weights.items()})
        doc = self.scorer.figures(self._score_model) | {"steps": snap.updates, "seconds": self.train_seconds}
        target = doc.get("target_accuracy")
        if self.target_seconds is None and target is not None and doc["accuracy"] >= target:
            self.target_seconds = self.train_seconds  # first seen at this check (within SCORE_EVERY_S)
        if self.target_seconds is not None:
            doc["target_reached_seconds"] = self.target_seconds
        self.figures.show_figures(doc)
