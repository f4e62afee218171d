"""The seeds' three systems as one-click presets, each with the figures it is judged by.

- words: a tanh RNN reads all letters of a word but the last and predicts the last (many-to-one);
- sine: an RNN forecasts the next value of a noisy sine from a window of past values (MSE);
- fable / fable-story: a word-level LSTM learns an original fable, from 3-word windows (the
  tutorial's way) or reading the whole story in order with a carried state;
- recall: a lab preset (`archs` set): an LSTM and the S6 side by side in the gradient lab on
  builtin:recall (core.recall), scored on the answers of held-out lines.

core.scoring's `report` gives the model's figures beside their references (baselines, the best
possible, the tutorial's result), for the CLI's --json line and the app's preset panel alike.
This module needs no torch: the app's window builds presets' specs without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.corpus import BUILTIN_PREFIX, Corpus, load_corpus
from rnnviz.core.series import Series, load_series
from rnnviz.core.session import TrainerSpec

RECALL_HIDDEN, RECALL_LAYERS, RECALL_STEPS = 64, 2, 4000  # 3.2 min on 2 cores (README)


@dataclass(frozen=True)
class Preset:
    name: str
    title: str  # for menus
    summary: str  # one line: what it trains and what to look at
    source: str  # builtin:NAME of its data; --corpus swaps it
    level: str  # char, word, or value
    model: dict  # ModelConfig fields except vocab_size
    train: TrainConfig
    steps: int  # the training budget of `rnnviz train --preset`
    references: dict  # fixed reference figures (the tutorial's results)
    archs: tuple[str, ...] = ()  # a lab preset: these models side by side in the gradient lab

    @property
    def lab(self) -> bool:
        return bool(self.archs)

    def model_config(self, source: Corpus | Series) -> ModelConfig:
        vocab_size = 0 if source.vocab is None else len(source.vocab)
        return ModelConfig(vocab_size=vocab_size, **self.model)


PRESETS = {
    p.name: p
    for p in (
        Preset(
            "words",
            "Last-letter words (RNN, many-to-one)",
            "reads welcome, please, namaskar, ... but their last letter, and predicts it",
            f"{BUILTIN_PREFIX}words",
            "char",
            dict(arch="rnn", nonlinearity="tanh", hidden=64, input="onehot"),
            TrainConfig(
                seq_len=8, batch=64, lr=1e-2, samples="words", loss_mode="many-to-one", val_fraction=0.0
            ),
            300,
            {},
        ),
        Preset(
            "sine",
            "Noisy-sine forecaster (RNN, regression)",
            "x_t = sin(0.02 t) + 2u_t: a window of past values predicts the next; MSE loss",
            f"{BUILTIN_PREFIX}sine",
            "value",
            dict(arch="rnn", nonlinearity="tanh", hidden=32, input="value", output="value"),
            TrainConfig(
                seq_len=8,
                batch=16,
                optimizer="rmsprop",
                lr=3e-4,  # at Keras's 1e-3 the test MSE jumps 0.32-0.38 from step to step
                clip=None,
                samples="windows",
                loss_mode="many-to-one",
                val_fraction=0.2,
            ),
            4000,
            {"tutorial_train_mse": 0.3537},
        ),
        Preset(
            "fable",
            "Fable, next word from 3 words (LSTM)",
            "a 2-layer word-level LSTM predicts each word of the fable from the 3 words before it",
            f"{BUILTIN_PREFIX}fable",
            "word",
            dict(arch="lstm", layers=2, hidden=256, input="embedding", embed_dim=64),
            TrainConfig(
                seq_len=3, batch=64, lr=3e-3, samples="windows", loss_mode="many-to-one", val_fraction=0.0
            ),
            300,
            {"tutorial_accuracy": 0.952, "target_accuracy": 0.95, "target_seconds": 60.0},
        ),
        Preset(
            "fable-story",
            "Fable, reading the whole story (stateful LSTM)",
            "the same LSTM reads the fable in order, carrying its state from word to word",
            f"{BUILTIN_PREFIX}fable",
            "word",
            dict(arch="lstm", layers=2, hidden=256, input="embedding", embed_dim=64),
            TrainConfig(seq_len=64, batch=1, lr=3e-3, val_fraction=0.0),
            300,
            {"tutorial_accuracy": 0.952, "target_accuracy": 0.95, "target_seconds": 60.0},
        ),
        Preset(
            "recall",
            "Associative recall: LSTM vs S6 (gradient lab)",
            "key-value pairs, then a key: an LSTM and the S6 learn to answer with its value, side by side",
            f"{BUILTIN_PREFIX}recall",
            "char",
            dict(hidden=RECALL_HIDDEN, layers=RECALL_LAYERS, state=16, input="onehot"),
            TrainConfig(batch=64, lr=3e-3, samples="lines", loss_mode="many-to-one", val_fraction=0.1),
            RECALL_STEPS,
            {},
            archs=("lstm", "ssm"),
        ),
    )
}


def get_preset(name: str) -> Preset:
    from rnnviz.core.errors import ConfigError

    if name not in PRESETS:
        raise ConfigError(f"no preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]


def load_source(preset: Preset, corpus: str | None = None, encoding: str = "utf-8") -> Corpus | Series:
    """The preset's data, or `corpus` (a path or builtin:NAME) read the same way."""
    spec = corpus or preset.source
    if preset.level == "value":
        return load_series(spec, 1.0 - preset.train.val_fraction)
    return load_corpus(spec, preset.level, encoding)


def preset_spec(
    preset: Preset, source: Corpus | Series, device: str = "auto", model: dict | None = None, **train
) -> TrainerSpec:
    """A fresh model with the preset's settings; `model` and `train` override some of them."""
    model_cfg = replace(preset.model_config(source), **(model or {}))
    return TrainerSpec(source, model_cfg, replace(preset.train, **train), device=device, preset=preset.name)


def preset_trainer(preset: Preset, source: Corpus | Series, device: str = "auto", model=None, **train):
    """preset_spec(...) built into a Trainer (torch)."""
    return preset_spec(preset, source, device, model, **train).build()


# The report's figures in order: (key, label, the model's own figure or a reference).
FIGURES = (
    ("accuracy", "accuracy", True),
    ("held_out_accuracy", "held-out accuracy", True),
    ("train_mse", "train MSE", True),
    ("test_mse", "test MSE", True),
    ("prev_value_mse", "predict the previous value (test MSE)", False),
    ("noise_floor", "noise floor: variance of 2u", False),
    ("perfect_test_mse", "the true sine + 1 on the test part (MSE)", False),
    ("majority_accuracy", "always the most frequent target", False),
    ("best_possible_accuracy", "the best any predictor can do from the window", False),
    ("tutorial_accuracy", "the tutorial's 2-layer LSTM(512) after 50,000 iterations", False),
    ("tutorial_train_mse", "the tutorial's Keras RNN (train MSE)", False),
)


def figure_text(key: str, value: float) -> str:
    return f"{value:.1%}" if "accuracy" in key else f"{value:.4g}"


def format_report(doc: dict) -> str:
    """The figures as readable lines: the model's first, then the references."""
    lines = [f"preset {doc['preset']}: {doc['steps']} updates" + (
        f" in {doc['seconds']:.1f} s" if "seconds" in doc else "")]  # fmt: skip
    for key, label, own in FIGURES:
        v = doc.get(key)
        if isinstance(v, float) and math.isfinite(v):
            lines.append(f"  {'' if own else 'reference: '}{label}: {figure_text(key, v)}")
    if "words" in doc:
        wrong = [r["word"] for r in doc["words"] if r["predicted"] != r["word"][-1]]
        lines.append(f"  words wrong: {', '.join(wrong) if wrong else 'none'} (of {len(doc['words'])})")
    return "\n".join(lines)
