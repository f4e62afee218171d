"""SessionFileController: File > Save session / Open session / Open recent for MainWindow, what
opens at launch, and the export of views and of the whole window.

A session is the model, its corpus and settings, the training history, the typed text and what the
views showed (core.session_file); opening one puts the screen back as it was."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDoubleSpinBox, QFileDialog, QMainWindow, QMenu, QTabWidget

from rnnviz.core.corpus import BUILTIN_PREFIX, assets_dir
from rnnviz.core.errors import RnnvizError
from rnnviz.core.intervene import Intervention
from rnnviz.core.session import DEFAULT_MODEL, spec_from_checkpoint
from rnnviz.core.session_file import SUFFIX, save_session
from rnnviz.qt import export
from rnnviz.qt.file_actions import FileController
from rnnviz.qt.history import History
from rnnviz.qt.notifier import Notifier
from rnnviz.qt.session_loader import SessionLoad, load_with_progress
from rnnviz.qt.sessions import TrainingSession
from rnnviz.qt.settings import add_recent, recent_files
from rnnviz.qt.timeline import TimelineController
from rnnviz.qt.typed_text import TypedText
from rnnviz.qt.unit_actions import UnitsController
from rnnviz.qt.unsaved import UnsavedGuard
from rnnviz.qt.window_views import WindowViews

FILTER = f"rnnviz sessions (*{SUFFIX})"
WELCOME_TEXT = "The keeper counted the ships"


class SessionFileController:
    def __init__(
        self,
        window: QMainWindow,
        views: WindowViews,
        notify: Notifier,
        guard: UnsavedGuard,
        session: TrainingSession,
        files: FileController,
        text: TypedText,
        units: UnitsController,
        timeline: TimelineController,
        history: History,
    ):
        """window: the parent of the file dialogs, and what Export the window exports."""
        self.window, self.views, self.notify, self.guard = window, views, notify, guard
        self.session, self.files, self.text, self.units = session, files, text, units
        self.timeline, self.history = timeline, history
        self.load: SessionLoad | None = None  # a session being read (qt.session_loader)

    # ---- at launch ---------------------------------------------------------------------------------
    def launch(self, model: str | None, corpus: str | None, text: str | None = None) -> None:
        """The pre-trained default model (or `model`, or a session file), or a fresh one on `corpus`.
        It is shown at once; the training process builds its trainer meanwhile (it is still
        importing torch)."""
        controls, default = self.views.controls, assets_dir() / DEFAULT_MODEL
        if model and Path(model).suffix.lower() == SUFFIX:  # `rnnviz FILE.rnnviz`, or the desktop's
            session, model = model, None  # the default model at once, then the session read over it
            QTimer.singleShot(0, lambda: self._open_at_launch(session, text))
        if corpus and corpus.startswith(BUILTIN_PREFIX):
            controls.corpus.setCurrentIndex(max(controls.corpus.findData(corpus), 0))
        elif corpus:  # a file: read it off the GUI thread, then start a fresh model on it
            QTimer.singleShot(0, lambda: self.files.opener.open(corpus, controls.level.currentText()))
        builtin = bool(corpus) and corpus.startswith(BUILTIN_PREFIX)
        try:
            if model or (default.is_file() and not builtin):
                spec = spec_from_checkpoint(model or str(default), controls.corpus_spec())
                self.session.start(spec, model, wait=False)
            else:
                self.session.start(self.files.spec_from_controls(), wait=False)
        except RnnvizError as exc:  # a bad file: say so, and start on the default corpus instead
            self.notify.warn(str(exc), dialog=True)
            controls.corpus.setCurrentIndex(0)
            self.session.start(self.files.spec_from_controls(), wait=False)
        self.text.set_text(WELCOME_TEXT if text is None else text)

    def _open_at_launch(self, path: str, text: str | None) -> None:
        """A session named at launch; a file that cannot be opened leaves the default model, said in a
        dialog. --text, if given, replaces the session's typed text."""
        if self.open_session(path) and text is not None:
            self.text.set_text(text)

    # ---- saving ------------------------------------------------------------------------------
    def save_session(self, path: str | None = None) -> str | None:
        snap, info = self.session.latest, self.session.info
        if snap is None or info is None:
            self.notify.warn("Nothing to save yet: the model is still being built.", dialog=True)
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self.window, "Save session", f"session{SUFFIX}", FILTER)
            if not path:
                return None
        state = {
            "model_cfg": snap.model_cfg,
            "vocab": snap.vocab,
            "corpus": info.corpus,
            "train": info.cfg.to_dict(),
            "preset": info.preset,
        }
        history = self.history.until(snap.weights_step)  # the weights travel a few steps behind the curves
        try:
            written = save_session(
                path, state, snap.weights, snap.weights_step, self.views.typing.editor.toPlainText(),
                self.view_state(), history,
            )  # fmt: skip
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)
            return None
        add_recent(str(written))
        self.guard.mark_saved(snap.weights_step)
        self.notify.status(f"Saved the session to {written} (step {snap.weights_step})")
        return str(written)

    def view_state(self) -> dict:
        v = self.views
        u, t = v.unrolled, v.typing
        layer, unit, state = v.units.chosen()
        return {
            "inside_tab": v.inside.currentIndex(),
            "tab": v.tabs.currentIndex(),
            "selected": self.text.selected,
            "target": t.target.currentText(),
            "continue": t.cont_len.value(),
            "temperature": t.temperature.value(),
            "smooth": v.curves.smooth.isChecked(),
            "budget": v.controls.budget.value(),
            "unrolled": {
                "unit": u.unit.value(),
                "layer": u.layer.value(),
                "detail": u.detail.isChecked(),
                "speed": u.speed.value(),
                "frame": u.anim.index,
            },  # fmt: skip
            "units": {"layer": layer, "unit": unit, "state": state},
            "samples": v.samples.state(),
            "interventions": [
                {
                    "layer": iv.layer,
                    "what": iv.what,
                    "value": iv.value,
                    "units": None if iv.units is None else list(iv.units),
                }  # fmt: skip
                for iv in self.units.interventions
            ],
        }

    # ---- opening -----------------------------------------------------------------------------
    def open_session(self, path: str | None = None) -> bool:
        if not self.guard.may_discard("opening a session"):
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open session", "", f"{FILTER};;All files (*)")
            if not path:
                return False
        try:
            loaded = load_with_progress(self.window, path, self.views.controls.corpus_spec(), self)
            if loaded is None or self.notify.closing:  # cancelled, or the window closed meanwhile
                return False
            session, spec = loaded
            if spec.model_cfg.regression:
                raise RnnvizError(f"{Path(path).name} holds a forecaster of numbers; open it as a model")
            self.session.start(spec)
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)
            return False
        if not spec.corpus.name.startswith(BUILTIN_PREFIX):
            self.files.keep_corpus(spec.corpus)
        if self.timeline.pinned is None:  # the saved weights traced at once, before the first report
            self.text.probe.set_weights(spec.model_cfg, spec.corpus.vocab, spec.weights)
        try:
            self._restore(session, Path(path).name)
        except Exception as exc:  # noqa: BLE001 - a hand-edited view: the model is open, say what failed
            self.notify.warn(f"{Path(path).name}: the model is open, but its view could not be restored "
                             f"({type(exc).__name__}: {exc})", dialog=True)  # fmt: skip
        add_recent(path)
        self.notify.status(f"Opened {path}: step {session.checkpoint.steps}, press Play")
        return True

    def _restore(self, session, name: str = "the session") -> None:
        v = session.view
        self.history.restore(session.history)
        saved = v.get("interventions")
        saved = saved if isinstance(saved, list) else []
        ivs, problems = [], []
        for n, iv in enumerate(saved):
            try:
                units = None if iv.get("units") is None else tuple(int(u) for u in iv["units"])
                ivs.append(Intervention(int(iv["layer"]), str(iv["what"]), float(iv["value"]), units))
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
                problems.append(f"intervention {n + 1} is not one rnnviz wrote")  # the rest still open
        if ivs or problems:  # one re-trace, one message
            self.units.add_interventions(ivs, tuple(problems), source=name)
        self.text.set_text(session.typed_text)
        self.text.retrace()
        self.restore_view(v)

    def restore_view(self, v: dict) -> None:
        """What view_state() saved. Values of the wrong kind (a hand-edited file) are left out,
        numbers out of a control's range are brought into it."""
        views = self.views
        t, u = views.typing, views.unrolled
        uv = v.get("unrolled") if isinstance(v.get("unrolled"), dict) else {}
        _set(views.inside, v.get("inside_tab"))  # first: the unrolled view takes the trace when shown
        _set(views.tabs, v.get("tab"))
        boxes = [(views.controls.budget, v.get("budget")), (t.cont_len, v.get("continue")),
                 (t.temperature, v.get("temperature")), (u.unit, uv.get("unit")),
                 (u.layer, uv.get("layer")), (u.speed, uv.get("speed"))]  # fmt: skip
        for box, value in boxes:
            _set(box, value)
        if isinstance(v.get("target"), str) and t.target.findText(v["target"]) >= 0:
            t.target.setCurrentText(v["target"])
        views.samples.restore(v.get("samples"))
        for box, value in ((views.curves.smooth, v.get("smooth")), (u.detail, uv.get("detail"))):
            if isinstance(value, bool):
                box.setChecked(value)
        if isinstance(uv.get("frame"), int) and not isinstance(uv["frame"], bool):
            u.anim.go(max(0, min(uv["frame"], len(u.anim.frames) - 1)))
        uu = v.get("units") if isinstance(v.get("units"), dict) else {}
        units = views.units
        if all(isinstance(uu.get(k), int) for k in ("layer", "unit")):
            layer = max(0, min(uu["layer"], units.layer.maximum() - 1))
            units.show_unit(layer, max(0, min(uu["unit"], units.unit.maximum())), str(uu.get("state", "h")))
        tr = self.text.last.trace
        if isinstance(v.get("selected"), int) and tr is not None and 0 <= v["selected"] < tr.steps:
            self.text.select_step(v["selected"])

    def fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        paths = recent_files()
        for p in paths:
            opener = self.open_session if p.lower().endswith(SUFFIX) else self.files.open_model_file
            menu.addAction(Path(p).name, lambda p=p, o=opener: o(p)).setToolTip(p)
        if not paths:
            menu.addAction("(none yet)").setEnabled(False)

    # ---- export ------------------------------------------------------------------------------
    def export_to(self, widget, path: str, scale: float = 1.0) -> bool:
        try:
            written = export.export_widget(widget, path, scale)
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)
            return False
        self.notify.status(f"Exported {written}")
        return True

    def export_window(self) -> None:
        path = export.ask_path(self.window, "Export the window", "rnnviz-window", (".png",))
        if path:
            scale = export.ask_scale(self.window, "Export the window")
            if scale is not None:
                self.export_to(self.window, path, scale)


def _set(widget, value) -> None:
    """A spin box's value or a tab widget's index from a saved number, brought into its range
    (a hand-edited file may hold anything: other kinds are left out)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return
    if isinstance(widget, QTabWidget):
        if isinstance(value, int):
            widget.setCurrentIndex(max(0, min(value, widget.count() - 1)))
        return
    value = max(widget.minimum(), min(value, widget.maximum()))
    widget.setValue(value if isinstance(widget, QDoubleSpinBox) else int(value))
