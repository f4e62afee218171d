"""PresetActions: the Presets menu's work for MainWindow. A token preset (last-letter words, the
fable) trains in the main window with its figures in the Preset tab; the noisy-sine forecaster
opens a window of its own."""

from __future__ import annotations

from PySide6.QtGui import QAction

from rnnviz.core.errors import RnnvizError
from rnnviz.core.presets import PRESETS, Preset, load_source, preset_spec
from rnnviz.core.session import TrainerSpec

# What each preset's typing box starts with: a word to complete, or words to continue.
EXAMPLES = {"words": "welcom", "fable": "Then came a", "fable-story": "At the edge of a dark"}


def probe_window(trainer) -> int | str | None:
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
        self.series_window = None

    def open_preset(self, name: str) -> None:
        preset = PRESETS[name]
        if preset.level == "value":
            self.open_series()
            return
        if not self.may_discard(f"the {name} preset"):
            return
        try:
            self._start(preset_spec(preset, load_source(preset)))
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return
        self.typing.editor.setPlainText(EXAMPLES.get(name, ""))
        self.typing.editor.moveCursor(self.typing.editor.textCursor().MoveOperation.End)
        self.tabs.setCurrentWidget(self.figures)
        self.statusBar().showMessage(f"{preset.title}: press Play (it trains in seconds)", 8000)

    def open_series(self, spec: TrainerSpec | None = None) -> None:
        """The noisy-sine forecaster's window (made on first use); `spec`: a value model to show."""
        from rnnviz.qt.series_window import SeriesWindow  # on demand, like the gradient lab

        if self.series_window is None:
            self.series_window = SeriesWindow(parent=self)
        if spec is not None:
            self.series_window.open_spec(spec)
        self.series_window.show()
        self.series_window.raise_()
        self.series_window.activateWindow()

    def _preset_started(self, trainer) -> None:
        """Called when a session starts: the Preset tab and the typing box follow the new trainer."""
        self.preset = PRESETS.get(trainer.preset or "")
        self.probe.window = probe_window(trainer)
        self.figures.set_preset(self.preset)

    def keep_preset(self, spec: TrainerSpec) -> TrainerSpec:
        """A Reset on the preset's own data stays that preset (with the settings changed)."""
        p = self.preset
        if p is not None and self.controls.corpus_spec() == p.source and spec.corpus.level == p.level:
            return spec.with_preset(p.name)
        return spec
