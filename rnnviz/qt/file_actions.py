"""FileActions: the File menu's work for MainWindow (open a model or a corpus, save a model) and
its way of telling the user about problems: a status line, or a message box that never blocks."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QProcess, Qt, Slot
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QProgressDialog
from shiboken6 import isValid

from rnnviz.core.checkpoint import save_checkpoint
from rnnviz.core.corpus import Corpus
from rnnviz.core.errors import RnnvizError
from rnnviz.core.session import corpus_meta, new_spec
from rnnviz.qt.settings import add_recent


class FileActions:
    """Mixed into MainWindow (uses its controls, worker, latest, opener and _start)."""

    def open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", "", "rnnviz models (*.safetensors);;All files (*)"
        )
        if path:
            self.open_model_file(path)

    def import_torch_model(self) -> None:
        """File > Import a PyTorch model: its state dict and vocabulary, converted by `rnnviz import`
        in a process of its own (this window never imports torch), then opened."""
        state, _ = QFileDialog.getOpenFileName(
            self, "Import a PyTorch model: its state dict", "",
            "State dicts (*.safetensors *.pt *.pth *.bin);;All files (*)",
        )  # fmt: skip
        if not state:
            return
        vocab, _ = QFileDialog.getOpenFileName(
            self, "Its vocabulary: a JSON list, or one token a line", str(Path(state).parent),
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
        self.statusBar().showMessage(f"Importing {Path(state).name}\u2026")
        proc.start()
        return proc

    def _on_imported(self, proc: QProcess, code: int, out: str) -> None:
        said = bytes(proc.readAllStandardError().data()).decode("utf-8", "replace").strip().splitlines()
        proc.deleteLater()
        if self._closing:
            return
        if code != 0:
            why = said[-1].removeprefix("rnnviz: error: ") if said else f"the import ended with code {code}"
            self._warn(f"The model could not be imported: {why}", dialog=True)
            return
        if self.open_model_file(out):
            self.statusBar().showMessage(f"Imported as {out}", 8000)

    def open_corpus(self) -> None:
        if not self.may_discard("opening a corpus"):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open corpus", "", "Text files (*.txt);;All files (*)")
        if path:
            self.opener.open(path, self.controls.level.currentText())

    @Slot(object)
    def _on_corpus_opened(self, corpus: Corpus) -> None:
        if self._closing:
            return
        try:
            spec = new_spec(corpus, self.controls.model_config, self.controls.train_config())
            self._start(spec)
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return
        self.file_corpus = corpus
        self.controls.add_corpus_file(corpus.name)
        self.statusBar().showMessage(f"A fresh model on {Path(corpus.name).name}: press Play", 6000)

    def save_model(self) -> None:
        snap = self.latest
        if snap is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, "Save model", self.model_path or "model.safetensors", "rnnviz models (*.safetensors)"
        )
        if not path:
            return
        trainer = self.worker.info if self.worker else None
        try:
            save_checkpoint(
                path,
                snap.model_cfg,
                snap.vocab,
                snap.weights,
                train=trainer.cfg.to_dict() if trainer else {},
                steps=snap.weights_step,
                extra={**corpus_meta(trainer.corpus), "preset": trainer.preset} if trainer else None,
            )
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return
        self.model_path = path
        add_recent(path)
        self._mark_saved(snap.weights_step)
        self.statusBar().showMessage(f"Saved {path} ({snap.updates} steps)", 6000)

    def export_animation(self, path: str | None = None) -> bool:
        """The step-through of the typed text as an animated GIF (the unrolled view's unit, layer,
        detail and speed), rendered frame by frame with a cancellable progress dialog."""
        from rnnviz.qt.animate import render_frames, save_gif

        tr, w = self.last_probe.trace, self.probe.weights
        if tr is None or w is None:
            self._warn("Type some text first: the animation unrolls the network over it.", dialog=True)
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(
                self, "Export animation", "rnnviz.gif", "GIF images (*.gif)"
            )
            if not path:
                return False
        u = self.unrolled
        dialog = QProgressDialog("Rendering frames\u2026", "Cancel", 0, 100, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)

        def progress(done: int, total: int) -> bool:
            if self._closing or not isValid(dialog):  # the window closed meanwhile: stop there
                return False
            dialog.setMaximum(total)
            dialog.setValue(done)
            QApplication.processEvents()
            return isValid(dialog) and not dialog.wasCanceled() and not self._closing

        trainer = self.worker.info if self.worker else None
        self.exporting = True
        try:
            images = render_frames(
                tr,
                w,
                trainer.cfg.loss_mode if trainer else "many-to-many",
                detail=u.detail.isChecked(),
                unit=u.unit.value(),
                layer=u.layer.value() - 1,
                progress=progress,
            )
            save_gif(images, path, u.speed.value())
        except RnnvizError as exc:
            if not self._closing:
                self._warn(str(exc), dialog=not str(exc).endswith("cancelled"))
            return False
        finally:
            self.exporting = False
            if isValid(dialog):
                dialog.close()
                dialog.deleteLater()
        self.statusBar().showMessage(f"Exported {len(images)} frames to {path}", 8000)
        return True

    def _warn(self, message: str, dialog: bool = False) -> None:
        """A status-bar message; with dialog, also a message box that does not block training."""
        self.statusBar().showMessage(message, 10000)
        if dialog:
            box = QMessageBox(QMessageBox.Icon.Warning, "rnnviz", message, parent=self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            self.last_dialog = box
