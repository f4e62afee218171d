"""FileActions: the File menu's work for MainWindow (open a model or a corpus, save a model) and
its way of telling the user about problems: a status line, or a message box that never blocks."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFileDialog, QMessageBox

from rnnviz.core.checkpoint import save_checkpoint
from rnnviz.core.corpus import Corpus
from rnnviz.core.errors import RnnvizError
from rnnviz.core.session import corpus_record, new_trainer, trainer_from_checkpoint


class FileActions:
    """Mixed into MainWindow (uses its controls, runner, latest, opener and _start)."""

    def open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", "", "rnnviz models (*.safetensors);;All files (*)"
        )
        if path:
            try:
                self._start(trainer_from_checkpoint(path, self.controls.corpus_spec()), path)
            except RnnvizError as exc:
                self._warn(str(exc), dialog=True)

    def open_corpus(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open corpus", "", "Text files (*.txt);;All files (*)")
        if path:
            self.opener.open(path, self.controls.level.currentText())

    @Slot(object)
    def _on_corpus_opened(self, corpus: Corpus) -> None:
        if self._closing:
            return
        try:
            trainer = new_trainer(corpus, self.controls.model_config, self.controls.train_config())
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return
        self.file_corpus = corpus
        self.controls.add_corpus_file(corpus.name)
        self._start(trainer)
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
        trainer = self.runner.worker.trainer if self.runner else None
        try:
            save_checkpoint(
                path,
                snap.model_cfg,
                snap.vocab,
                snap.weights,
                train=trainer.cfg.to_dict() if trainer else {},
                steps=snap.updates,
                extra={"corpus": corpus_record(trainer.corpus), "preset": trainer.preset}
                if trainer
                else None,
            )
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return
        self.model_path = path
        self.statusBar().showMessage(f"Saved {path} ({snap.updates} steps)", 6000)

    def _warn(self, message: str, dialog: bool = False) -> None:
        """A status-bar message; with dialog, also a message box that does not block training."""
        self.statusBar().showMessage(message, 10000)
        if dialog:
            box = QMessageBox(QMessageBox.Icon.Warning, "rnnviz", message, parent=self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            self.last_dialog = box
