"""What a Trainer is built from, from settings or from a saved model (shared by the app and the CLI).

A TrainerSpec holds no torch objects: the app's window builds one without importing torch and
sends it to the training process, which calls `build()`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from rnnviz.core.checkpoint import Checkpoint, load_checkpoint
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.corpus import BUILTIN_PREFIX, Corpus, load_corpus
from rnnviz.core.errors import ConfigError
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
    """The gradient lab's models (core.lab.Comparison): one per architecture, the same corpus,
    size, seed and optimiser. Picklable; `build()` imports torch."""

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

    @property
    def model_cfg(self) -> ModelConfig:
        """The first model's settings (the others differ in their architecture only)."""
        inp = "onehot" if self.corpus.level == "char" else "embedding"
        n = len(self.corpus.vocab)
        return ModelConfig(n, self.archs[0], hidden=self.hidden, layers=self.layers, input=inp)

    def build(self):
        from rnnviz.core.lab import Comparison

        s = self
        return Comparison(s.corpus, s.hidden, s.layers, s.cfg, s.device, s.window, s.positions, s.archs)


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


def corpus_for(ck: Checkpoint, fallback: str) -> tuple[Corpus | Series, str | None]:
    """The corpus the model was trained on if it can be found, else `fallback`; read with the
    model's vocabulary. The note says when the fallback was used and how much of it is <unk>.
    A value model gets its series of numbers (the built-in noisy sine if it cannot be found)."""
    spec = ck.meta.get("corpus")
    spec = spec if isinstance(spec, str) else ""  # a hand-edited file may hold anything
    found = spec.startswith(BUILTIN_PREFIX) or (spec != "" and Path(spec).is_file())
    if ck.model_cfg.regression:
        split = 1.0 - float(ck.train.get("val_fraction", 0.2))
        if found:
            return load_series(spec, split), None
        return load_series(SINE, split), f"this model's series ({spec or 'unrecorded'}) was not found: {SINE}"
    use = spec if found else fallback
    corpus = Corpus.from_text(load_corpus(use, ck.vocab.level).text, ck.vocab.level, use, vocab=ck.vocab)
    if found:
        return corpus, None
    unk = float(np.mean(corpus.ids == 0))
    where = f"{spec} (not found)" if spec else "an unrecorded corpus"
    return corpus, (
        f"this model was trained on {where}; it now trains on {use}, where {unk:.0%} of the "
        "tokens are outside its vocabulary"
    )


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
