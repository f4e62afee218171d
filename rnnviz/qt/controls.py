"""ControlsPanel: every training setting, like TensorFlow Playground's side panel.

Learning rate, clipping and optimiser apply at once (`live_changed`); data and model settings
re-create the model and apply on Reset (the panel says so and highlights Reset).
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.config import (
    MAX_HIDDEN,
    MAX_LAYERS,
    MAX_STATE,
    OPTIMIZER_NAMES,
    ModelConfig,
    TrainConfig,
    check_clip,
    check_lr,
)
from rnnviz.core.corpus import BUILTIN_PREFIX, BUILTINS
from rnnviz.core.errors import ConfigError
from rnnviz.qt.arch_box import arch_box, set_arch
from rnnviz.qt.views.common import compact

# How the text becomes training examples: (label, TrainConfig.samples).
SAMPLES = (
    ("ordered text", "stream"),
    ("windows \u2192 next", "windows"),
    ("words \u2192 last letter", "words"),
)


def _combo(items, current=None) -> QComboBox:
    box = compact(QComboBox())
    box.addItems(list(items))
    if current is not None:
        box.setCurrentText(current)
    return box


def _spin(lo: int, hi: int, value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setAccelerated(True)
    return box


def _fraction(hi: float, step: float, tip: str, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setToolTip(tip)
    return box


def _number(value: float) -> QLineEdit:
    edit = QLineEdit(f"{value:g}")
    v = QDoubleValidator()
    v.setNotation(QDoubleValidator.Notation.ScientificNotation)
    edit.setValidator(v)
    return edit


class ControlsPanel(QWidget):
    live_changed = Signal(dict)  # {"lr": x} | {"clip": x or None} | {"optimizer": name}
    play_toggled = Signal(bool)
    step_clicked = Signal()
    reset_clicked = Signal()
    open_corpus_requested = Signal()
    invalid = Signal(str)  # a one-line message for the status bar

    def __init__(self, parent=None):
        super().__init__(parent)
        self.corpus = compact(QComboBox())
        for name, (_, desc) in BUILTINS.items():
            self.corpus.addItem(f"{name} (built-in)", BUILTIN_PREFIX + name)
            self.corpus.setItemData(self.corpus.count() - 1, desc, 3)  # tooltip role
        open_btn = QPushButton("Open…")
        open_btn.setMaximumWidth(64)
        open_btn.setToolTip("Train on a UTF-8 text file of your own")
        open_btn.clicked.connect(self.open_corpus_requested)
        corpus_row = QHBoxLayout()
        corpus_row.addWidget(self.corpus, 1)
        corpus_row.addWidget(open_btn)
        self.level = _combo(("char", "word"))
        self.arch = compact(arch_box())
        self.nonlinearity = _combo(("tanh", "relu"))
        self.state = _spin(1, MAX_STATE, 16)
        self.state.setToolTip("S6 only: the state size N of each channel (its state is N numbers)")
        self.layers = _spin(1, MAX_LAYERS, 1)
        self.hidden = _spin(1, MAX_HIDDEN, 128)
        self.input = _combo(("auto", "onehot", "embedding"))
        self.input.setToolTip("auto: one-hot for characters, an embedding for words")
        self.embed_dim = _spin(1, MAX_HIDDEN, 32)
        self.embed_dim.setToolTip("Size of each token's embedding vector (input: embedding)")
        self.samples = compact(QComboBox())
        for label, mode in SAMPLES:
            self.samples.addItem(label, mode)
        self.samples.setToolTip(
            "ordered text: read in order, the state carried between chunks (truncated BPTT)\n"
            "windows: every run of 'seq. length' tokens predicts the next one (from a zero state)\n"
            "words: each word's letters but the last predict the last letter"
        )
        self.val_pct = _spin(0, 89, 10)
        self.val_pct.setSuffix(" %")
        self.val_pct.setToolTip("The end of the text held out: never trained on, used for the held-out curve")
        self.seq_len = _spin(1, 1024, 64)
        self.batch = _spin(1, 1024, 32)
        self.loss_mode = _combo(("many-to-many", "many-to-one"))
        self.seed = _spin(0, 2**31 - 1, 0)
        self.dropout = _fraction(
            0.9, 0.05, "Dropout between layers and before the head, while training (0: none)"
        )
        self.weight_decay = _fraction(
            1.0, 1e-4, "L2 penalty on the weights (the optimiser's weight decay; 0: none)", 5
        )
        self.optimizer = _combo(OPTIMIZER_NAMES, "adam")
        self.lr = _number(2e-3)
        self.clip_on = QCheckBox("clip")
        self.clip_on.setChecked(True)
        self.clip = _number(1.0)
        clip_row = QHBoxLayout()
        clip_row.addWidget(self.clip_on)
        clip_row.addWidget(self.clip, 1)
        self.budget = _spin(0, 10_000_000, 0)
        self.budget.setSpecialValueText("no limit")
        self.budget.setToolTip("Pause after this many steps (0: no limit); the status bar shows the ETA")

        self._applied = {"lr": self.lr.text(), "clip": self.clip.text()}  # what the trainer uses
        self.pending = QLabel("")
        self.pending.setWordWrap(True)
        self.pending.setStyleSheet("color: #D55E00;")
        data = QGroupBox("Data and model (apply on Reset)")
        form = QFormLayout(data)
        form.addRow("Corpus", corpus_row)
        form.addRow("Level", self.level)
        form.addRow("Architecture", self.arch)
        form.addRow("Nonlinearity", self.nonlinearity)
        form.addRow("State size N", self.state)
        form.addRow("Layers", self.layers)
        form.addRow("Hidden units", self.hidden)
        form.addRow("Input", self.input)
        form.addRow("Embedding size", self.embed_dim)
        form.addRow("Examples", self.samples)
        form.addRow("Seq. length", self.seq_len)
        form.addRow("Batch size", self.batch)
        form.addRow("Loss on", self.loss_mode)
        form.addRow("Held out", self.val_pct)
        form.addRow("Dropout", self.dropout)
        form.addRow("Weight decay", self.weight_decay)
        form.addRow("Seed", self.seed)
        live = QGroupBox("Optimisation (applies at once)")
        form2 = QFormLayout(live)
        form2.addRow("Optimizer", self.optimizer)
        form2.addRow("Learning rate", self.lr)
        form2.addRow("Grad. norm", clip_row)
        form2.addRow("Step budget", self.budget)

        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Start or pause training")
        self.step = QPushButton("Step")
        self.step.setToolTip("One update, then pause")
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Re-create the model from these settings (fresh weights)")
        buttons = QHBoxLayout()
        for b in (self.play, self.step, self.reset):
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addLayout(buttons)
        lay.addWidget(self.pending)
        lay.addWidget(live)
        lay.addWidget(data)
        lay.addStretch(1)
        self._connect()

    def _connect(self) -> None:
        self.play.toggled.connect(self._on_play)
        self.step.clicked.connect(self.step_clicked)
        self.reset.clicked.connect(self.reset_clicked)
        self.optimizer.currentTextChanged.connect(lambda name: self.live_changed.emit({"optimizer": name}))
        self.lr.editingFinished.connect(self._on_lr)
        self.clip.editingFinished.connect(self._on_clip)
        self.clip_on.toggled.connect(self._on_clip)
        for box in (
            self.corpus, self.level, self.arch, self.nonlinearity, self.input, self.loss_mode, self.samples
        ):  # fmt: skip
            box.currentIndexChanged.connect(self._on_structure)
        for spin in (
            self.layers,
            self.hidden,
            self.seq_len,
            self.batch,
            self.seed,
            self.embed_dim,
            self.val_pct,
            self.state,
        ):
            spin.valueChanged.connect(self._on_structure)
        self.dropout.valueChanged.connect(self._on_structure)
        self.weight_decay.valueChanged.connect(self._on_structure)
        self.arch.currentIndexChanged.connect(self._enable_arch_settings)
        self._enable_arch_settings()
        self.samples.currentIndexChanged.connect(self._sync_loss_mode)

    def arch_name(self) -> str:
        """The architecture chosen, as the config names it: "lstm", ..., "ssm"."""
        return self.arch.currentData()

    def set_arch(self, arch: str) -> None:
        set_arch(self.arch, arch)

    def _enable_arch_settings(self) -> None:
        """The nonlinearity is the plain RNN's; the state size N the SSM's."""
        self.nonlinearity.setEnabled(self.arch_name() == "rnn")
        self.state.setEnabled(self.arch_name() == "ssm")

    def _sync_loss_mode(self) -> None:
        """Windows and words have one target each: the loss is on the last step only."""
        stream = self.samples.currentData() == "stream"
        if not stream:
            self.loss_mode.setCurrentText("many-to-one")
        self.loss_mode.setEnabled(stream)

    def _on_play(self, on: bool) -> None:
        self.play.setText("Pause" if on else "Play")
        self.play_toggled.emit(on)

    def set_playing(self, on: bool) -> None:
        """Reflect the worker's state without emitting play_toggled."""
        self.play.blockSignals(True)
        self.play.setChecked(on)
        self.play.setText("Pause" if on else "Play")
        self.play.blockSignals(False)

    def _float(self, edit: QLineEdit, what: str) -> float | None:
        try:
            v = float(edit.text())
        except ValueError:
            v = math.nan
        if not math.isfinite(v) or v <= 0:
            self.invalid.emit(f"{what} must be a positive number, not {edit.text()!r}")
            return None
        return v

    def _checked(self, edit: QLineEdit, what: str, check, last: str) -> float | None:
        """The field's value if the trainer will take it; else say why and put the last value back."""
        value = self._float(edit, what)
        try:
            if value is None:
                raise ConfigError(f"{what} must be a positive number")
            check(value)
        except ConfigError as exc:
            if value is not None:
                self.invalid.emit(str(exc))
            edit.setText(last)
            return None
        return value

    def _on_lr(self) -> None:
        lr = self._checked(self.lr, "learning rate", check_lr, self._applied["lr"])
        if lr is not None and self.lr.text() != self._applied["lr"]:
            self._applied["lr"] = self.lr.text()
            self.live_changed.emit({"lr": lr})

    def show_lr(self, lr: float) -> None:
        """The trainer changed its learning rate (e.g. restored after divergence)."""
        self.lr.setText(f"{lr:g}")
        self._applied["lr"] = self.lr.text()

    def _on_clip(self) -> None:
        self.clip.setEnabled(self.clip_on.isChecked())
        if not self.clip_on.isChecked():
            self.live_changed.emit({"clip": None})
            return
        clip = self._checked(self.clip, "clipping norm", check_clip, self._applied["clip"])
        if clip is not None:
            self._applied["clip"] = self.clip.text()
            self.live_changed.emit({"clip": clip})

    def _on_structure(self) -> None:
        self.pending.setText("Settings changed: press Reset to re-create the model with them.")
        self.reset.setStyleSheet("font-weight: bold; color: #D55E00;")

    def clear_pending(self) -> None:
        self.pending.setText("")
        self.reset.setStyleSheet("")

    # ---- reading and writing the settings ------------------------------------------------
    def corpus_spec(self) -> str:
        return self.corpus.currentData()

    def add_corpus_file(self, path: str) -> None:
        idx = self.corpus.findData(path)
        if idx < 0:
            self.corpus.addItem(path.rsplit("/", 1)[-1], path)
            idx = self.corpus.count() - 1
            self.corpus.setItemData(idx, path, 3)
        self.corpus.setCurrentIndex(idx)

    def model_config(self, vocab_size: int) -> ModelConfig:
        level = self.level.currentText()
        inp = self.input.currentText()
        if inp == "auto":
            inp = "onehot" if level == "char" else "embedding"
        return ModelConfig(
            vocab_size=vocab_size,
            arch=self.arch_name(),
            nonlinearity=self.nonlinearity.currentText(),
            layers=self.layers.value(),
            hidden=self.hidden.value(),
            input=inp,
            embed_dim=self.embed_dim.value(),
            state=self.state.value(),
        )

    def train_config(self) -> TrainConfig:
        lr = self._float(self.lr, "learning rate")
        clip = self._float(self.clip, "clipping norm") if self.clip_on.isChecked() else None
        if lr is None or (self.clip_on.isChecked() and clip is None):
            raise ConfigError("fix the highlighted optimisation settings first")
        return TrainConfig(
            seq_len=self.seq_len.value(),
            batch=self.batch.value(),
            optimizer=self.optimizer.currentText(),
            lr=lr,
            clip=clip,
            seed=self.seed.value(),
            loss_mode=self.loss_mode.currentText(),
            val_fraction=self.val_pct.value() / 100,
            samples=self.samples.currentData(),
            dropout=self.dropout.value(),
            weight_decay=self.weight_decay.value(),
        )

    def show_config(self, corpus: str, level: str, cfg: ModelConfig, train: TrainConfig) -> None:
        """Display a loaded model's settings (signals blocked: nothing is pending after)."""
        widgets = (
            self.corpus, self.level, self.arch, self.nonlinearity, self.state, self.layers, self.hidden,
            self.input, self.seq_len, self.batch, self.loss_mode, self.seed, self.embed_dim, self.samples,
            self.val_pct, self.optimizer, self.lr, self.clip, self.clip_on, self.dropout, self.weight_decay,
        )  # fmt: skip
        for w in widgets:
            w.blockSignals(True)
        if self.corpus.findData(corpus) < 0:
            self.corpus.addItem(corpus.rsplit("/", 1)[-1], corpus)
        self.corpus.setCurrentIndex(self.corpus.findData(corpus))
        self.level.setCurrentText(level)
        self.set_arch(cfg.arch)
        self.nonlinearity.setCurrentText(cfg.nonlinearity)
        self.state.setValue(cfg.state)
        self._enable_arch_settings()
        self.layers.setValue(cfg.layers)
        self.hidden.setValue(cfg.hidden)
        auto = "onehot" if level == "char" else "embedding"
        self.input.setCurrentText("auto" if cfg.input == auto else cfg.input)
        self.seq_len.setValue(train.seq_len)
        self.batch.setValue(train.batch)
        self.loss_mode.setCurrentText(train.loss_mode)
        self.seed.setValue(train.seed)
        self.embed_dim.setValue(cfg.embed_dim)
        self.samples.setCurrentIndex(max(self.samples.findData(train.samples), 0))
        self.val_pct.setValue(round(train.val_fraction * 100))
        self.dropout.setValue(train.dropout)
        self.weight_decay.setValue(train.weight_decay)
        self._sync_loss_mode()
        self.optimizer.setCurrentText(train.optimizer)
        self.lr.setText(f"{train.lr:g}")
        self._applied = {"lr": self.lr.text(), "clip": f"{train.clip or 1.0:g}"}
        self.clip_on.setChecked(train.clip is not None)
        self.clip.setText(f"{train.clip or 1.0:g}")
        self.clip.setEnabled(train.clip is not None)
        for w in widgets:
            w.blockSignals(False)
        self.clear_pending()
