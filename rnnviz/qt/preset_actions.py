"""PresetController: the Presets menu's work for MainWindow. A token preset (last-letter words, the
fable) trains in the main window with its figures in the Preset tab; the noisy-sine forecaster
opens a window of its own; a lab preset (associative recall) opens the gradient lab with it."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu

from rnnviz.core.errors import RnnvizError
from rnnviz.core.presets import PRESETS, Preset, load_source, preset_spec
from rnnviz.core.session import TrainerSpec
from rnnviz.qt.notifier import Notifier
from rnnviz.qt.sessions import TrainingSession
from rnnviz.qt.typed_text import TypedText
from rnnviz.qt.unsaved import UnsavedGuard
from rnnviz.qt.window_views import WindowViews

# What each preset's typing box starts with: a word to complete, or words to continue.
EXAMPLES = {"words": "welcom", "fable": "Then came a", "fable-story": "At the edge of a dark"}


def probe_window(info) -> int | str | None:
    """How the typed text is read, as the model was trained (see TextProbe.window)."""
    return {"windows": info.cfg.seq_len, "words": "word"}.get(info.cfg.samples)


class PresetController:
    def __init__(
        self,
        window: QMainWindow,
        views: WindowViews,
        notify: Notifier,
        guard: UnsavedGuard,
        session: TrainingSession,
        text: TypedText,
    ):
        """window: the parent of the noisy-sine window."""
        self.window, self.views, self.notify, self.guard = window, views, notify, guard
        self.session, self.text = session, text
        self.preset: Preset | None = None  # the current session's preset
        self.series_window = None  # the noisy-sine forecaster's window, made on first use

    def fill_menu(self, menu: QMenu) -> None:
        for p in PRESETS.values():
            action = QAction(p.title, self.window)
            action.setStatusTip(p.summary)
            action.triggered.connect(lambda _=False, name=p.name: self.open_preset(name))
            menu.addAction(action)

    def open_preset(self, name: str) -> None:
        preset = PRESETS[name]
        if preset.level == "value":
            self.open_series()
            return
        if preset.lab:
            self.window.open_lab(preset)  # MainWindow's: its lab window, made on first use
            return
        if not self.guard.may_discard(f"the {name} preset"):
            return
        try:
            self.session.start(preset_spec(preset, load_source(preset)))
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)
            return
        self.text.set_text(EXAMPLES.get(name, ""))
        self.views.tabs.setCurrentWidget(self.views.figures)
        self.notify.status(f"{preset.title}: press Play (it trains in seconds)")

    def open_series(self, spec: TrainerSpec | None = None) -> None:
        """The noisy-sine forecaster's window (made on first use); `spec`: a value model to show."""
        from rnnviz.qt.series_window import SeriesWindow  # on demand, like the gradient lab

        if self.series_window is None:
            self.series_window = SeriesWindow(parent=self.window)
        if spec is not None:
            self.series_window.open_spec(spec)
        self.series_window.show()
        self.series_window.raise_()
        self.series_window.activateWindow()

    def follow(self, info) -> None:
        """A session starts: the Preset tab and the typing box follow it."""
        self.preset = PRESETS.get(info.preset or "")
        self.text.probe.window = probe_window(info)
        self.views.figures.set_preset(self.preset)

    def show_figures(self, doc: dict) -> None:
        """A preset's figures, measured in the training session (core.scoring.PresetMonitor)."""
        if self.preset is not None:
            self.views.figures.show_figures(doc)

    def keep_preset(self, spec: TrainerSpec) -> TrainerSpec:
        """A Reset on the preset's own data stays that preset (with the settings changed)."""
        p = self.preset
        if p is not None and self.views.controls.corpus_spec() == p.source and spec.corpus.level == p.level:
            return spec.with_preset(p.name)
        return spec

    def close(self) -> None:
        if self.series_window is not None:
            self.series_window.close()  # its training process ends with it
