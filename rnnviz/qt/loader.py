"""Opening corpus files without freezing the GUI.

CorpusLoader reads and tokenises a text file on its own thread, with progress and cancel;
CorpusOpener drives it from the GUI (prefix of huge files, progress dialog, encoding fallback).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from rnnviz.core.corpus import Corpus, LoadCancelled, NotUtf8Error, read_text
from rnnviz.core.errors import RnnvizError


class CorpusLoader(QObject):
    progressed = Signal(int, int)  # bytes read, bytes to read
    loaded = Signal(object)  # Corpus
    failed = Signal(str, bool)  # one-line message; True when the file is not UTF-8 (another encoding may do)
    finished = Signal()

    def __init__(self, path: str, level: str, encoding: str = "utf-8", max_bytes: int | None = None):
        super().__init__()
        self.path, self.level, self.encoding, self.max_bytes = path, level, encoding, max_bytes
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def _progress(self, done: int, total: int) -> bool:
        self.progressed.emit(done, total)
        return not self._cancel.is_set()

    @Slot()
    def run(self) -> None:
        try:
            text = read_text(self.path, self.encoding, self.max_bytes, self._progress)
            corpus = None if self._cancel.is_set() else Corpus.from_text(text, self.level, self.path)
            if corpus is not None and not self._cancel.is_set():  # cancelled while tokenising: drop it
                self.loaded.emit(corpus)
        except LoadCancelled:
            pass  # the user asked for it: nothing to say
        except NotUtf8Error as exc:
            self.failed.emit(str(exc), True)
        except RnnvizError as exc:
            self.failed.emit(str(exc), False)
        except MemoryError:
            self.failed.emit(f"not enough memory to read {self.path}: use a prefix of it", False)
        finally:
            self.finished.emit()


def start_loader(loader: CorpusLoader) -> QThread:
    """Run `loader` on a new QThread that quits when it is done; the caller keeps both alive."""
    thread = QThread()
    loader.moveToThread(thread)
    thread.started.connect(loader.run)
    loader.finished.connect(thread.quit)
    thread.start()
    return thread


PREFIX_MB = 16  # files larger than this: offer to train on their first PREFIX_MB


class CorpusOpener(QObject):
    """Opening a text file from the GUI: offer a prefix of a huge file, read it off the GUI thread
    with a cancellable progress dialog, offer Latin-1 when it is not UTF-8. Emits `opened`."""

    opened = Signal(object)  # Corpus
    message = Signal(str)  # a one-line problem, for a dialog

    def __init__(self, parent_widget):
        super().__init__(parent_widget)
        self.parent_widget = parent_widget
        self.loader: CorpusLoader | None = None
        self.thread: QThread | None = None
        self.progress: QProgressDialog | None = None
        self.dialog: QMessageBox | None = None  # the latest question asked, for tests
        self._running_on: list = []

    def open(
        self, path: str, level: str, encoding: str = "utf-8", max_bytes: int | None = None, ask: bool = True
    ) -> None:
        try:
            size = Path(path).stat().st_size
        except OSError as exc:
            self.message.emit(f"cannot open {path}: {exc.strerror or exc}")
            return
        if ask and max_bytes is None and size > PREFIX_MB * 2**20:
            self._ask(
                f"{Path(path).name} is {size / 2**20:,.0f} MB: reading all of it takes a while and "
                f"much memory.",
                [
                    (f"Use the first {PREFIX_MB} MB", (path, level, encoding, PREFIX_MB * 2**20)),
                    ("Read it all", (path, level, encoding, None)),
                ],
            )
            return
        self.cancel()
        self.loader = CorpusLoader(path, level, encoding, max_bytes)
        self.loader.progressed.connect(self._on_progress)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_failed)
        self.loader.finished.connect(self._on_finished)
        self._progress_dialog().setLabelText(f"Reading {Path(path).name}\u2026")
        self.thread = start_loader(self.loader)

    def _ask(self, text: str, choices: list[tuple[str, tuple]]) -> None:
        box = QMessageBox(QMessageBox.Icon.Question, "rnnviz", text, parent=self.parent_widget)
        buttons = {box.addButton(label, QMessageBox.ButtonRole.AcceptRole): args for label, args in choices}
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(next(iter(buttons)))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda b: self.open(*buttons[b], ask=False) if b in buttons else None)
        box.open()
        self.dialog = box

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.setValue(int(1000 * done / max(total, 1)))

    @Slot(object)
    def _on_loaded(self, corpus) -> None:
        self.opened.emit(corpus)

    @Slot(str, bool)
    def _on_failed(self, text: str, not_utf8: bool) -> None:
        loader = self.loader
        if not_utf8 and loader is not None:
            self._ask(
                text, [("Read it as Latin-1", (loader.path, loader.level, "latin-1", loader.max_bytes))]
            )
        else:
            self.message.emit(text)

    def _progress_dialog(self) -> QProgressDialog:
        """One dialog, made once and reused: deleting it from a slot that its own setValue may be
        running (a modal progress dialog processes events) crashed."""
        if self.progress is None:
            self.progress = QProgressDialog("", "Cancel", 0, 1000, self.parent_widget)
            self.progress.setMinimumDuration(300)
            self.progress.setWindowModality(Qt.WindowModality.WindowModal)
            self.progress.setAutoClose(False)
            self.progress.setAutoReset(False)
            self.progress.canceled.connect(self._on_cancel)
        self.progress.setValue(0)
        return self.progress

    @Slot()
    def _on_cancel(self) -> None:
        if self.loader is not None:
            self.loader.cancel()

    @Slot()
    def _on_finished(self) -> None:
        if self.progress is not None:
            self.progress.reset()

    def busy(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def cancel(self, wait_ms: int = 2000) -> None:
        """Stop a read under way and wait for its thread (at most wait_ms; -1: until it ends, as
        when the window closes: a QThread destroyed while running aborts the process, and a read
        of a regular file stops at its next chunk)."""
        if self.loader is not None:
            self.loader.cancel()
            for signal in (self.loader.progressed, self.loader.loaded, self.loader.failed):
                signal.disconnect()  # nothing more reaches a window that is going away
        if self.thread is not None:
            self.thread.quit()
            if not (self.thread.wait() if wait_ms < 0 else self.thread.wait(wait_ms)):
                self._running_on.append((self.loader, self.thread))  # never destroy a running QThread
        self.loader = self.thread = None
