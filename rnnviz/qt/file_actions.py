"""FileController: the File menu's models and corpora for MainWindow: open a model or a corpus,
import a PyTorch model, save the model, export the step-through as a GIF; and which corpus a fresh
model from the controls trains on (a built-in, the file read last, or a session's saved text)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Qt, Slot
from PySide6.QtWidgets import QApplication, QFileDialog, QMainWindow, QProgressDialog
from shiboken6 import isValid

from rnnviz.core.checkpoint import save_checkpoint
from rnnviz.core.corpus import Corpus, load_corpus
from rnnviz.core.errors import RnnvizError
from rnnviz.core.session import TrainerSpec, corpus_meta, new_spec, spec_from_checkpoint
from rnnviz.qt.controls import ControlsPanel
from rnnviz.qt.loader import CorpusOpener
from rnnviz.qt.notifier import Notifier
from rnnviz.qt.sessions import TrainingSession
from rnnviz.qt.settings import add_recent
from rnnviz.qt.typed_text import TypedText
from rnnviz.qt.unsaved import UnsavedGuard
from rnnviz.qt.views.unrolled import UnrolledPanel


class FileController(QObject):
    def __init__(
        self,
        window: QMainWindow,
        notify: Notifier,
        guard: UnsavedGuard,
        session: TrainingSession,
        text: TypedText,
        controls: ControlsPanel,
        unrolled: UnrolledPanel,
    ):
        """window: the parent of the file dialogs."""
        super().__init__(window)
        self.window, self.notify, self.guard, self.session = window, notify, guard, session
        self.text, self.controls, self.unrolled = text, controls, unrolled
        self.opener = CorpusOpener(window)  # a corpus file, read off the GUI thread
        self.opener.opened.connect(self._on_corpus_opened)
        self.opener.message.connect(lambda message: notify.warn(message, dialog=True))
        self.file_corpus: Corpus | None = None  # the corpus file read last
        self.session_corpora: dict[str, Corpus] = {}  # texts sessions brought, by path: never read there
        self.exporting = False  # an animation being rendered

    # ---- a fresh model from the controls -----------------------------------------------------------
    def spec_from_controls(self) -> TrainerSpec:
        c = self.controls
        return new_spec(self.corpus_from_controls(), c.model_config, c.train_config())

    def corpus_from_controls(self) -> Corpus:
        """The chosen corpus: a built-in, or the file read last (kept: it may have been a slow read)."""
        spec, level = self.controls.corpus_spec(), self.controls.level.currentText()
        kept = self.file_corpus
        if kept is None or kept.name != spec:  # a path a session named: its text, not the file there
            kept = self.session_corpora.get(spec)
        if kept is not None and kept.name == spec:
            return kept if kept.level == level else Corpus.from_text(kept.text, level, spec)
        return load_corpus(spec, level)

    def keep_corpus(self, corpus: Corpus) -> None:
        """A session's corpus text: Reset trains on it too (the file may be gone), and the selector's
        path is never read."""
        self.file_corpus = corpus
        self.session_corpora[corpus.name] = corpus

    # ---- models -------------------------------------------------------------------------------------
    def open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open model", "", "rnnviz models (*.safetensors);;All files (*)"
        )
        if path:
            self.open_model_file(path)

    def open_model_file(self, path: str) -> bool:
        if not self.guard.may_discard("opening a model"):
            return False
        try:
            self.session.start(spec_from_checkpoint(path, self.controls.corpus_spec()), path)
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)
            return False
        add_recent(path)
        return True

    def import_torch_model(self) -> None:
        """File > Import a PyTorch model: its state dict and vocabulary, converted by `rnnviz import`
        in a process of its own (this window never imports torch), then opened."""
        state, _ = QFileDialog.getOpenFileName(
            self.window, "Import a PyTorch model: its state dict", "",
            "State dicts (*.safetensors *.pt *.pth *.bin);;All files (*)",
        )  # fmt: skip
        if not state:
            return
        vocab, _ = QFileDialog.getOpenFileName(
            self.window, "Its vocabulary: a JSON list, or one token a line", str(Path(state).parent),
            "Vocabularies (*.json *.txt);;All files (*)",
        )  # fmt: skip
        if vocab:
            self.import_model_files(state, vocab)

    def import_model_files(self, state: str, vocab: str, out: str | None = None) -> QProcess:
        """Convert in the background; the model opens when it is ready (or a one-line message)."""
        out = out or str(Path(state).with_suffix(".rnnviz.safetensors"))
        proc = QProcess(self)
        proc.setProgram(sys.executable)
        proc.setArguments(["-m", "rnnviz", "import", "--state-dict", state, "--vocab", vocab, "--out", out])
        proc.finished.connect(lambda code, _status: self._on_imported(proc, code, out))
        self.notify.status(f"Importing {Path(state).name}\u2026", 0)
        proc.start()
        return proc

    def _on_imported(self, proc: QProcess, code: int, out: str) -> None:
        said = bytes(proc.readAllStandardError().data()).decode("utf-8", "replace").strip().splitlines()
        proc.deleteLater()
        if self.notify.closing:
            return
        if code != 0:
            why = said[-1].removeprefix("rnnviz: error: ") if said else f"the import ended with code {code}"
            self.notify.warn(f"The model could not be imported: {why}", dialog=True)
            return
        if self.open_model_file(out):
            self.notify.status(f"Imported as {out}")

    def save_model(self) -> None:
        snap, info = self.session.latest, self.session.info
        if snap is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save model", self.session.model_path or "model.safetensors",
            "rnnviz models (*.safetensors)",
        )  # fmt: skip
        if not path:
            return
        try:
            save_checkpoint(
                path,
                snap.model_cfg,
                snap.vocab,
                snap.weights,
                train=info.cfg.to_dict() if info else {},
                steps=snap.weights_step,
                extra={**corpus_meta(info.corpus), "preset": info.preset} if info else None,
            )
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)
            return
        self.session.model_path = path
        add_recent(path)
        self.guard.mark_saved(snap.weights_step)
        self.notify.status(f"Saved {path} ({snap.updates} steps)", 6000)

    # ---- corpora ------------------------------------------------------------------------------------
    def open_corpus(self) -> None:
        if not self.guard.may_discard("opening a corpus"):
            return
        path, _ = QFileDialog.getOpenFileName(
            self.window, "Open corpus", "", "Text files (*.txt);;All files (*)"
        )
        if path:
            self.opener.open(path, self.controls.level.currentText())

    @Slot(object)
    def _on_corpus_opened(self, corpus: Corpus) -> None:
        if self.notify.closing:
            return
        try:
            self.session.start(new_spec(corpus, self.controls.model_config, self.controls.train_config()))
        except RnnvizError as exc:
            self.notify.warn(str(exc), dialog=True)
            return
        self.file_corpus = corpus
        self.controls.add_corpus_file(corpus.name)
        self.notify.status(f"A fresh model on {Path(corpus.name).name}: press Play", 6000)

    # ---- the step-through as a GIF ------------------------------------------------------------------
    def export_animation(self, path: str | None = None) -> bool:
        """The step-through of the typed text as an animated GIF (the unrolled view's unit, layer,
        detail and speed), rendered frame by frame with a cancellable progress dialog."""
        from rnnviz.qt.animate import render_frames, save_gif

        tr, w = self.text.last.trace, self.text.probe.weights
        if tr is None or w is None:
            self.notify.warn("Type some text first: the animation unrolls the network over it.", dialog=True)
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self.window, "Export animation", "rnnviz.gif", "GIF images (*.gif)"
            )
            if not path:
                return False
        u = self.unrolled
        dialog = QProgressDialog("Rendering frames\u2026", "Cancel", 0, 100, self.window)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)

        def progress(done: int, total: int) -> bool:
            if self.notify.closing or not isValid(dialog):  # the window closed meanwhile: stop there
                return False
            dialog.setMaximum(total)
            dialog.setValue(done)
            QApplication.processEvents()
            return isValid(dialog) and not dialog.wasCanceled() and not self.notify.closing

        self.exporting = True
        try:
            images = render_frames(
                tr,
                w,
                self.session.loss_mode(),
                detail=u.detail.isChecked(),
                unit=u.unit.value(),
                layer=u.layer.value() - 1,
                progress=progress,
                interventions=u.interventions,
            )
            save_gif(images, path, u.speed.value())
        except RnnvizError as exc:
            if not self.notify.closing:
                self.notify.warn(str(exc), dialog=not str(exc).endswith("cancelled"))
            return False
        finally:
            self.exporting = False
            if isValid(dialog):
                dialog.close()
                dialog.deleteLater()
        self.notify.status(f"Exported {len(images)} frames to {path}")
        return True
