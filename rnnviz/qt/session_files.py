"""SessionFileActions: File > Save session / Open session / Open recent for MainWindow, and the
export of views and of the whole window.

A session is the model, its corpus and settings, the training history, the typed text and what the
views showed (core.session_file); opening one puts the screen back as it was."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMenu

from rnnviz.core.errors import RnnvizError
from rnnviz.core.intervene import Intervention
from rnnviz.core.session import spec_from_checkpoint
from rnnviz.core.session_file import SUFFIX, load_session, save_session, session_spec
from rnnviz.qt import export
from rnnviz.qt.settings import add_recent, recent_files

FILTER = f"rnnviz sessions (*{SUFFIX})"


class SessionFileActions:
    """Mixed into MainWindow (uses its worker, latest snapshot, views, controls and _start)."""

    # ---- saving ------------------------------------------------------------------------------
    def save_session(self, path: str | None = None) -> str | None:
        snap, trainer = self.latest, self.worker.trainer if self.worker else None
        if snap is None or trainer is None:
            self._warn("Nothing to save yet: the model is still being built.", dialog=True)
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save session", f"session{SUFFIX}", FILTER)
            if not path:
                return None
        state = {
            "model_cfg": snap.model_cfg,
            "vocab": snap.vocab,
            "corpus": trainer.corpus,
            "train": trainer.cfg.to_dict(),
            "preset": trainer.preset,
        }
        history = {f"curves/{k}": v for k, v in self.curves.history_state().items()}
        history |= {f"gradnorms/{k}": v for k, v in self.gradnorms.history_state().items()}
        try:
            written = save_session(
                path, state, snap.weights, snap.weights_step, self.typing.editor.toPlainText(),
                self.view_state(), history,
            )  # fmt: skip
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return None
        add_recent(str(written))
        self.statusBar().showMessage(f"Saved the session to {written} (step {snap.weights_step})", 8000)
        return str(written)

    def view_state(self) -> dict:
        u, t = self.unrolled, self.typing
        layer, unit, state = self.units.chosen()
        return {
            "inside_tab": self.inside.currentIndex(),
            "tab": self.tabs.currentIndex(),
            "selected": self.selected,
            "target": t.target.currentText(),
            "continue": t.cont_len.value(),
            "temperature": t.temperature.value(),
            "smooth": self.curves.smooth.isChecked(),
            "budget": self.controls.budget.value(),
            "unrolled": {
                "unit": u.unit.value(),
                "layer": u.layer.value(),
                "detail": u.detail.isChecked(),
                "speed": u.speed.value(),
                "frame": u.anim.index,
            },  # fmt: skip
            "units": {"layer": layer, "unit": unit, "state": state},
            "interventions": [
                {
                    "layer": iv.layer,
                    "what": iv.what,
                    "value": iv.value,
                    "units": None if iv.units is None else list(iv.units),
                }  # fmt: skip
                for iv in self.interventions
            ],
        }

    # ---- opening -----------------------------------------------------------------------------
    def open_session(self, path: str | None = None) -> bool:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open session", "", f"{FILTER};;All files (*)")
            if not path:
                return False
        try:
            session = load_session(path)
            spec = session_spec(session, self.controls.corpus_spec())
            if spec.model_cfg.regression:
                raise RnnvizError(f"{Path(path).name} holds a forecaster of numbers; open it as a model")
            self._start(spec)
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return False
        if self.pinned is None:  # the saved weights traced at once, before the session's first report
            self.probe.set_weights(spec.model_cfg, spec.corpus.vocab, spec.weights)
        self._restore(session)
        add_recent(path)
        self.statusBar().showMessage(f"Opened {path}: step {session.checkpoint.steps}, press Play", 8000)
        return True

    def _restore(self, session) -> None:
        h, v = session.history, session.view
        self.curves.restore_history({k[7:]: a for k, a in h.items() if k.startswith("curves/")})
        self.gradnorms.restore_history({k[10:]: a for k, a in h.items() if k.startswith("gradnorms/")})
        for iv in v.get("interventions") or []:
            try:
                units = None if iv.get("units") is None else tuple(int(u) for u in iv["units"])
                iv = Intervention(int(iv["layer"]), str(iv["what"]), float(iv["value"]), units)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # a hand-edited file: the rest still opens
            self.add_intervention(iv)
        t = self.typing
        t.editor.setPlainText(session.typed_text)
        t.editor.moveCursor(t.editor.textCursor().MoveOperation.End)
        self._retrace()
        self.restore_view(v)

    def restore_view(self, v: dict) -> None:
        """What view_state() saved; values of the wrong kind (a hand-edited file) are left out."""
        t = self.typing
        _set(self.controls.budget.setValue, v.get("budget"), int)
        _set(t.cont_len.setValue, v.get("continue"), int)
        _set(t.temperature.setValue, v.get("temperature"), float)
        if isinstance(v.get("target"), str) and t.target.findText(v["target"]) >= 0:
            t.target.setCurrentText(v["target"])
        _set(self.curves.smooth.setChecked, v.get("smooth"), bool)
        u, uv = self.unrolled, v.get("unrolled") or {}
        for box, key in ((u.unit, "unit"), (u.layer, "layer"), (u.speed, "speed")):
            _set(box.setValue, uv.get(key), type(box.value()))
        _set(u.detail.setChecked, uv.get("detail"), bool)
        _set(self.inside.setCurrentIndex, v.get("inside_tab"), int)
        _set(self.tabs.setCurrentIndex, v.get("tab"), int)
        _set(u.anim.go, uv.get("frame"), int)
        uu = v.get("units") or {}
        if isinstance(uu, dict) and all(isinstance(uu.get(k), int) for k in ("layer", "unit")):
            self.units.show_unit(uu["layer"], uu["unit"], str(uu.get("state", "h")))
        tr = self.last_probe.trace
        if isinstance(v.get("selected"), int) and tr is not None and 0 <= v["selected"] < tr.steps:
            self.select_step(v["selected"])

    def open_model_file(self, path: str) -> bool:
        try:
            self._start(spec_from_checkpoint(path, self.controls.corpus_spec()), path)
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return False
        add_recent(path)
        return True

    def _fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        paths = recent_files()
        for p in paths:
            opener = self.open_session if p.endswith(SUFFIX) else self.open_model_file
            menu.addAction(Path(p).name, lambda p=p, o=opener: o(p)).setToolTip(p)
        if not paths:
            menu.addAction("(none yet)").setEnabled(False)

    # ---- export ------------------------------------------------------------------------------
    def export_to(self, widget, path: str, scale: float = 1.0) -> bool:
        try:
            written = export.export_widget(widget, path, scale)
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return False
        self.statusBar().showMessage(f"Exported {written}", 8000)
        return True

    def export_window(self) -> None:
        path = export.ask_path(self, "Export the window", "rnnviz-window", (".png",))
        if path:
            scale = export.ask_scale(self, "Export the window")
            if scale is not None:
                self.export_to(self, path, scale)


def _set(setter, value, kind) -> None:
    """setter(value) if the saved value is of the kind expected (a hand-edited file may hold anything)."""
    if isinstance(value, bool) and kind is not bool:
        return
    if isinstance(value, kind) or (kind is float and isinstance(value, int)):
        setter(kind(value))
