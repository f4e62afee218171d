"""SessionFileActions: File > Save session / Open session / Open recent for MainWindow, and the
export of views and of the whole window.

A session is the model, its corpus and settings, the training history, the typed text and what the
views showed (core.session_file); opening one puts the screen back as it was."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDoubleSpinBox, QFileDialog, QMenu, QTabWidget

from rnnviz.core.corpus import BUILTIN_PREFIX
from rnnviz.core.errors import RnnvizError
from rnnviz.core.intervene import Intervention
from rnnviz.core.session import spec_from_checkpoint
from rnnviz.core.session_file import SUFFIX, save_session
from rnnviz.qt import export
from rnnviz.qt.session_loader import load_with_progress
from rnnviz.qt.settings import add_recent, recent_files

FILTER = f"rnnviz sessions (*{SUFFIX})"


class SessionFileActions:
    """Mixed into MainWindow (uses its worker, latest snapshot, views, controls and _start)."""

    # ---- saving ------------------------------------------------------------------------------
    def save_session(self, path: str | None = None) -> str | None:
        snap, trainer = self.latest, self.worker.info if self.worker else None
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
        history = self.history_until(snap.weights_step)  # the weights travel a few steps behind the curves
        try:
            written = save_session(
                path, state, snap.weights, snap.weights_step, self.typing.editor.toPlainText(),
                self.view_state(), history,
            )  # fmt: skip
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return None
        add_recent(str(written))
        self._mark_saved(snap.weights_step)
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
            "samples": self.samples.state(),
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
        if not self.may_discard("opening a session"):
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Open session", "", f"{FILTER};;All files (*)")
            if not path:
                return False
        try:
            loaded = load_with_progress(self, path, self.controls.corpus_spec())
            if loaded is None or self._closing:  # cancelled, or the window closed meanwhile
                return False
            session, spec = loaded
            if spec.model_cfg.regression:
                raise RnnvizError(f"{Path(path).name} holds a forecaster of numbers; open it as a model")
            self._start(spec)
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return False
        if not spec.corpus.name.startswith(BUILTIN_PREFIX):
            self.file_corpus = spec.corpus  # Reset trains on this text too (the file may be gone)
            self.session_corpora[spec.corpus.name] = spec.corpus  # the selector's path stays unread
        if self.pinned is None:  # the saved weights traced at once, before the session's first report
            self.probe.set_weights(spec.model_cfg, spec.corpus.vocab, spec.weights)
        try:
            self._restore(session, Path(path).name)
        except Exception as exc:  # noqa: BLE001 - a hand-edited view: the model is open, say what failed
            self._warn(f"{Path(path).name}: the model is open, but its view could not be restored "
                       f"({type(exc).__name__}: {exc})", dialog=True)  # fmt: skip
        add_recent(path)
        self.statusBar().showMessage(f"Opened {path}: step {session.checkpoint.steps}, press Play", 8000)
        return True

    def _restore(self, session, name: str = "the session") -> None:
        v = session.view
        self.restore_history(session.history)
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
            self.add_interventions(ivs, tuple(problems), source=name)
        t = self.typing
        t.editor.setPlainText(session.typed_text)
        t.editor.moveCursor(t.editor.textCursor().MoveOperation.End)
        self._retrace()
        self.restore_view(v)

    def history_until(self, step: int) -> dict:
        """The curves' and gradient norms' history of the steps up to `step`, as a session holds it."""
        history = {f"curves/{k}": v for k, v in self.curves.history_state().items()}
        history |= {f"gradnorms/{k}": v for k, v in self.gradnorms.history_state().items()}
        return history_up_to(history, step)

    def restore_history(self, history: dict) -> None:
        self.curves.restore_history({k[7:]: a for k, a in history.items() if k.startswith("curves/")})
        self.gradnorms.restore_history({k[10:]: a for k, a in history.items() if k.startswith("gradnorms/")})

    def restore_view(self, v: dict) -> None:
        """What view_state() saved. Values of the wrong kind (a hand-edited file) are left out,
        numbers out of a control's range are brought into it."""
        t, u = self.typing, self.unrolled
        uv = v.get("unrolled") if isinstance(v.get("unrolled"), dict) else {}
        _set(self.inside, v.get("inside_tab"))  # first: the unrolled view takes the trace when shown
        _set(self.tabs, v.get("tab"))
        boxes = [(self.controls.budget, v.get("budget")), (t.cont_len, v.get("continue")),
                 (t.temperature, v.get("temperature")), (u.unit, uv.get("unit")),
                 (u.layer, uv.get("layer")), (u.speed, uv.get("speed"))]  # fmt: skip
        for box, value in boxes:
            _set(box, value)
        if isinstance(v.get("target"), str) and t.target.findText(v["target"]) >= 0:
            t.target.setCurrentText(v["target"])
        self.samples.restore(v.get("samples"))
        for box, value in ((self.curves.smooth, v.get("smooth")), (u.detail, uv.get("detail"))):
            if isinstance(value, bool):
                box.setChecked(value)
        if isinstance(uv.get("frame"), int) and not isinstance(uv["frame"], bool):
            u.anim.go(max(0, min(uv["frame"], len(u.anim.frames) - 1)))
        uu = v.get("units") if isinstance(v.get("units"), dict) else {}
        if all(isinstance(uu.get(k), int) for k in ("layer", "unit")):
            layer = max(0, min(uu["layer"], self.units.layer.maximum() - 1))
            self.units.show_unit(
                layer, max(0, min(uu["unit"], self.units.unit.maximum())), str(uu.get("state", "h"))
            )
        tr = self.last_probe.trace
        if isinstance(v.get("selected"), int) and tr is not None and 0 <= v["selected"] < tr.steps:
            self.select_step(v["selected"])

    def open_model_file(self, path: str) -> bool:
        if not self.may_discard("opening a model"):
            return False
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
            opener = self.open_session if p.lower().endswith(SUFFIX) else self.open_model_file
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


def history_up_to(history: dict, step: int) -> dict:
    """The history of the steps up to `step` (reopened, training goes on from there)."""
    out = {}
    for key, a in history.items():
        if a.ndim == 2:
            out[key] = a[:, a[0] <= step]
        elif key.endswith("/steps"):
            keep = a <= step
            out[key], out[key[: -len("steps")] + "texts"] = (
                a[keep],
                history[key[: -len("steps")] + "texts"][keep],
            )
    return out


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
