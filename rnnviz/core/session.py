"""What a Trainer is built from, from settings or from a saved model (shared by the app and the CLI).

A TrainerSpec holds no torch objects: the app's window builds one without importing torch and
sends it to the training process, which calls `build()`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from rnnviz.core.checkpoint import Checkpoint, load_checkpoint
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.corpus import BUILTIN_PREFIX, Corpus, load_corpus
from rnnviz.core.errors import ConfigError, RnnvizError
from rnnviz.core.series import SINE, Series, load_series

DEFAULT_MODEL = "models/default.safetensors"  # under assets/: a small LSTM pre-trained on builtin:story


@dataclass(frozen=True, eq=False)
class TrainerSpec:
    """Everything a Trainer is made of: data, model and training settings, and optionally the
    weights and step count to go on from. Picklable; `build()` imports torch."""

    corpus: Corpus | Series
    model_cfg: ModelConfig
    cfg: TrainConfig
    weights: dict[str, np.ndarray] | None = None  # None: fresh, seeded weights
    updates: int = 0
    device: str = "auto"
    preset: str | None = None  # the preset this model started from, if any
    notes: tuple[str, ...] = ()  # things to tell the user (e.g. which corpus was used instead)

    def build(self):
        from rnnviz.core.train import Trainer

        trainer = Trainer(self.corpus, self.model_cfg, self.cfg, self.device, self.weights, self.updates)
        trainer.preset = self.preset
        trainer.notes = list(self.notes) + trainer.notes
        return trainer

    def with_preset(self, name: str | None) -> TrainerSpec:
        return replace(self, preset=name)


@dataclass(frozen=True, eq=False)
class LabSpec:
    """The gradient lab's models (core.lab.Comparison): one per architecture (1 to 3 of the six),
    the same corpus, size, seed and optimiser. Picklable; `build()` imports torch."""

    corpus: Corpus
    hidden: int
    layers: int
    cfg: TrainConfig
    archs: tuple[str, ...] = ("rnn", "lstm", "gru")
    measure_every: int = 50
    device: str = "cpu"
    window: int = 48
    positions: int = 32
    preset: str | None = None
    notes: tuple[str, ...] = ()
    updates: int = 0
    state: int = 16  # the S6's state size N per channel

    @property
    def model_cfg(self) -> ModelConfig:
        """The first model's settings (the others differ in their architecture only)."""
        inp = "onehot" if self.corpus.level == "char" else "embedding"
        n = len(self.corpus.vocab)
        return ModelConfig(
            n, self.archs[0], hidden=self.hidden, layers=self.layers, input=inp, state=self.state
        )

    def build(self):
        from rnnviz.core.lab import Comparison

        s = self
        return Comparison(
            s.corpus, s.hidden, s.layers, s.cfg, s.device, s.window, s.positions, s.archs, s.state
        )


def train_config_from(saved: dict) -> TrainConfig:
    """A TrainConfig from a checkpoint's `train` record, ignoring unknown keys."""
    known = {f.name for f in fields(TrainConfig)}
    try:
        return TrainConfig(**{k: v for k, v in saved.items() if k in known})
    except TypeError as exc:
        raise ConfigError(f"the saved training settings are invalid: {exc}") from None


def corpus_record(corpus: Corpus | Series) -> str:
    """What a checkpoint records of its corpus: the built-in's name, or the file's absolute path."""
    name = corpus.name
    return name if name.startswith(BUILTIN_PREFIX) else str(Path(name).resolve())


def corpus_meta(corpus: Corpus | Series) -> dict:
    """What a checkpoint records of its corpus: where (corpus_record) and the SHA-256 of its
    contents, so that a file at that path is read back only if it is the same."""
    return {"corpus": corpus_record(corpus), "corpus_sha256": content_sha256(corpus)}


def content_sha256(corpus: Corpus | Series) -> str:
    data = corpus.text.encode("utf-8") if isinstance(corpus, Corpus) else np.asarray(corpus.values).tobytes()
    return hashlib.sha256(data).hexdigest()


def corpus_for(ck: Checkpoint, fallback: str) -> tuple[Corpus | Series, str | None]:
    """The corpus the model was trained on if it can be found, else `fallback`; read with the
    model's vocabulary. The note says when the fallback was used and how much of it is <unk>.
    A value model gets its series of numbers (the built-in noisy sine if it cannot be found).
    A file the model names is used only if its contents have the SHA-256 the model records: a
    model file someone sent never makes rnnviz read another file of the receiver's."""
    spec = ck.meta.get("corpus")
    spec = spec if isinstance(spec, str) else ""  # a hand-edited file may hold anything
    found, why = _named_corpus(ck, spec)
    if ck.model_cfg.regression:
        split = 1.0 - float(ck.train.get("val_fraction", 0.2))
        if found is not None:
            return found, None
        return load_series(SINE, split), f"this model's series ({spec or 'unrecorded'}) {why}: {SINE}"
    if found is not None:
        return found, None
    text = load_corpus(fallback, ck.level).text
    corpus = Corpus.from_text(text, ck.level, fallback, vocab=ck.vocab)
    unk = float(np.mean(corpus.ids == 0))
    where = f"{spec} ({why})" if spec else "an unrecorded corpus"
    return corpus, (
        f"this model was trained on {where}; it now trains on {fallback}, where {unk:.0%} of the "
        "tokens are outside its vocabulary"
    )


def _named_corpus(ck: Checkpoint, spec: str) -> tuple[Corpus | Series | None, str]:
    """The corpus the checkpoint names, if built in or a file whose contents match its recorded
    hash; else None and why not."""
    value = ck.model_cfg.regression
    split = 1.0 - float(ck.train.get("val_fraction", 0.2)) if value else 0.0
    if spec.startswith(BUILTIN_PREFIX):
        return (load_series(spec, split) if value else _with_vocab(load_corpus(spec, ck.level), ck)), ""
    digest = ck.meta.get("corpus_sha256")
    if not spec or not Path(spec).is_file():
        return None, "not found"
    if not isinstance(digest, str):
        return None, "not read: the model records no hash of it, open it yourself to use it"
    try:
        found = load_series(spec, split) if value else _with_vocab(load_corpus(spec, ck.level), ck)
    except RnnvizError:
        return None, "unreadable"
    if content_sha256(found) != digest:
        return None, "not used: it has changed since the model was trained, or is another file"
    return found, ""


def _with_vocab(corpus: Corpus, ck: Checkpoint) -> Corpus:
    return Corpus.from_text(corpus.text, ck.level, corpus.name, vocab=ck.vocab)


def spec_from_checkpoint(path: str, fallback_corpus: str, device: str = "auto") -> TrainerSpec:
    """A saved model, to go on training where it stopped (on its own corpus if it can be found)."""
    return spec_from(load_checkpoint(path), fallback_corpus, device)


def spec_from(ck: Checkpoint, fallback_corpus: str, device: str = "auto") -> TrainerSpec:
    corpus, note = corpus_for(ck, fallback_corpus)
    return TrainerSpec(
        corpus, ck.model_cfg, train_config_from(ck.train), ck.weights, ck.steps, device,
        ck.meta.get("preset"), (note,) if note else (),
    )  # fmt: skip


def new_spec(corpus: Corpus, model_of, cfg: TrainConfig, device: str = "auto") -> TrainerSpec:
    """model_of(vocab_size) -> ModelConfig: the model's size depends on the corpus's vocabulary."""
    return TrainerSpec(corpus, model_of(len(corpus.vocab)), cfg, device=device)


def trainer_from_checkpoint(path: str, fallback_corpus: str, device: str = "auto"):
    return spec_from_checkpoint(path, fallback_corpus, device).build()
