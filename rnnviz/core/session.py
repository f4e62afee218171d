"""Building Trainers from settings or from a saved model (shared by the app and the CLI)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np

from rnnviz.core.checkpoint import Checkpoint, load_checkpoint
from rnnviz.core.corpus import BUILTIN_PREFIX, Corpus, load_corpus
from rnnviz.core.errors import ConfigError
from rnnviz.core.model import ModelConfig
from rnnviz.core.series import SINE, Series, load_series
from rnnviz.core.train import TrainConfig, Trainer

DEFAULT_MODEL = "models/default.safetensors"  # under assets/: a small LSTM pre-trained on builtin:story


def train_config_from(saved: dict) -> TrainConfig:
    """A TrainConfig from a checkpoint's `train` record, ignoring unknown keys."""
    known = {f.name for f in fields(TrainConfig)}
    try:
        return TrainConfig(**{k: v for k, v in saved.items() if k in known})
    except TypeError as exc:
        raise ConfigError(f"the saved training settings are invalid: {exc}") from None


def corpus_record(corpus: Corpus) -> str:
    """What a checkpoint records of its corpus: the built-in's name, or the file's absolute path."""
    name = corpus.name
    return name if name.startswith(BUILTIN_PREFIX) else str(Path(name).resolve())


def corpus_for(ck: Checkpoint, fallback: str) -> tuple[Corpus | Series, str | None]:
    """The corpus the model was trained on if it can be found, else `fallback`; read with the
    model's vocabulary. The note says when the fallback was used and how much of it is <unk>.
    A value model gets its series of numbers (the built-in noisy sine if it cannot be found)."""
    spec = ck.meta.get("corpus") or ""
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


def trainer_from_checkpoint(path: str, fallback_corpus: str, device: str = "auto") -> Trainer:
    ck = load_checkpoint(path)
    corpus, note = corpus_for(ck, fallback_corpus)
    trainer = Trainer(
        corpus, ck.model_cfg, train_config_from(ck.train), device=device, weights=ck.weights, updates=ck.steps
    )
    if note:
        trainer.notes.append(note)
    trainer.preset = ck.meta.get("preset")
    return trainer


def new_trainer(corpus: Corpus, model_of, cfg: TrainConfig, device: str = "auto") -> Trainer:
    """model_of(vocab_size) -> ModelConfig: the model's size depends on the corpus's vocabulary."""
    model_cfg: ModelConfig = model_of(len(corpus.vocab))
    return Trainer(corpus, model_cfg, cfg, device=device)
