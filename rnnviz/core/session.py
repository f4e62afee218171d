"""Building Trainers from settings or from a saved model (shared by the app and the CLI)."""

from __future__ import annotations

from dataclasses import fields

from rnnviz.core.checkpoint import Checkpoint, load_checkpoint
from rnnviz.core.corpus import BUILTIN_PREFIX, Corpus, load_corpus
from rnnviz.core.errors import ConfigError
from rnnviz.core.model import ModelConfig
from rnnviz.core.train import TrainConfig, Trainer

DEFAULT_MODEL = "models/default.safetensors"  # under assets/: a small LSTM pre-trained on builtin:story


def train_config_from(saved: dict) -> TrainConfig:
    """A TrainConfig from a checkpoint's `train` record, ignoring unknown keys."""
    known = {f.name for f in fields(TrainConfig)}
    try:
        return TrainConfig(**{k: v for k, v in saved.items() if k in known})
    except TypeError as exc:
        raise ConfigError(f"the saved training settings are invalid: {exc}") from None


def corpus_for(ck: Checkpoint, fallback: str) -> Corpus:
    """The model's own built-in corpus if it names one, else `fallback`, read with the model's vocabulary."""
    spec = ck.meta.get("corpus") or ""
    spec = spec if spec.startswith(BUILTIN_PREFIX) else fallback
    text = load_corpus(spec, ck.vocab.level).text
    return Corpus.from_text(text, ck.vocab.level, spec, vocab=ck.vocab)


def trainer_from_checkpoint(path: str, fallback_corpus: str, device: str = "auto") -> Trainer:
    ck = load_checkpoint(path)
    corpus = corpus_for(ck, fallback_corpus)
    return Trainer(
        corpus, ck.model_cfg, train_config_from(ck.train), device=device, weights=ck.weights, updates=ck.steps
    )


def new_trainer(corpus: Corpus, model_of, cfg: TrainConfig, device: str = "auto") -> Trainer:
    """model_of(vocab_size) -> ModelConfig: the model's size depends on the corpus's vocabulary."""
    model_cfg: ModelConfig = model_of(len(corpus.vocab))
    return Trainer(corpus, model_cfg, cfg, device=device)
