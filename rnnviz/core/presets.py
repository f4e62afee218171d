"""The seeds' three systems as one-click presets, each with the figures it is judged by.

- words: a tanh RNN reads all letters of a word but the last and predicts the last (many-to-one);
- sine: an RNN forecasts the next value of a noisy sine from a window of past values (MSE);
- fable / fable-story: a word-level LSTM learns an original fable, from 3-word windows (the
  tutorial's way) or reading the whole story in order with a carried state.

`report` gives the model's figures beside their references (baselines, the best possible, the
tutorial's result), for the CLI's --json line and the app's preset panel alike.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, replace

import numpy as np
import torch

from rnnviz.core.corpus import BUILTIN_PREFIX, Corpus, load_corpus
from rnnviz.core.model import ModelConfig
from rnnviz.core.samples import Samples, build_samples, last_outputs, predict
from rnnviz.core.series import Series, load_series, previous_value_mse
from rnnviz.core.train import TrainConfig, Trainer


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


def preset_trainer(
    preset: Preset, source: Corpus | Series, device: str = "auto", model: dict | None = None, **train
) -> Trainer:
    """A fresh Trainer with the preset's settings; `model` and `train` override some of them."""
    model_cfg = replace(preset.model_config(source), **(model or {}))
    trainer = Trainer(source, model_cfg, replace(preset.train, **train), device=device)
    trainer.preset = preset.name
    return trainer


def report(preset: Preset, trainer: Trainer, seconds: float | None = None) -> dict:
    """The preset's figures for the trainer's model as it is now, beside their references."""
    doc: dict = {"preset": preset.name, "steps": trainer.updates}
    if seconds is not None:
        doc["seconds"] = round(seconds, 3)
    return doc | Scorer(preset, trainer.corpus, trainer.cfg).figures(trainer.model)


class Scorer:
    """Scores any model (the trainer's, or one rebuilt from a snapshot) on a preset's data, on the
    CPU: the same figures for the CLI's report and the app's preset panel."""

    def __init__(self, preset: Preset, source: Corpus | Series, cfg: TrainConfig):
        self.preset, self.source, self.cfg = preset, source, cfg
        self.value = source.vocab is None
        if cfg.samples == "stream":
            self.samples = self.held_out = None
            self.train_ids = torch.as_tensor(source.split(cfg.val_fraction)[0])
        else:
            self.samples, self.held_out = build_samples(source, cfg.samples, cfg.seq_len, cfg.val_fraction)
        self.references = self._references()

    @torch.no_grad()
    def figures(self, model) -> dict:
        was_training = model.training
        model.eval()
        try:
            doc = self._series(model) if self.value else self._tokens(model)
        finally:
            model.train(was_training)
        return doc | self.references | self.preset.references

    def _series(self, model) -> dict:
        doc = {"train_mse": _mse(model, self.samples), "test_mse": _mse(model, self.held_out)}
        return doc | {"window": self.cfg.seq_len}

    def _tokens(self, model) -> dict:
        device = next(model.parameters()).device
        if self.samples is None:  # the training text read once, in order, from a zero state
            ids = self.train_ids.to(device)
            logits, _ = model(ids[None, :-1])
            doc = {"accuracy": float((logits[0].argmax(-1) == ids[1:]).double().mean())}
        else:
            doc = {"accuracy": _accuracy(model, self.samples)}
            if len(self.held_out):
                doc["held_out_accuracy"] = _accuracy(model, self.held_out)
        if self.cfg.samples == "words":
            doc["words"] = self._words(model)
        return doc

    def _words(self, model) -> list[dict]:
        """Each training word with the model's most likely last letter and its probability."""
        probs = predict(model, self.samples)
        tokens = self.source.vocab.tokens
        rows = []
        for i, word in enumerate(self.samples.labels):
            best = int(np.argmax(probs[i]))
            rows.append({"word": word, "predicted": tokens[best], "p": float(probs[i, best])})
        return rows

    def _references(self) -> dict:
        """Figures that do not depend on the model: baselines and the best possible."""
        if self.value:
            series: Series = self.source
            targets = self.held_out.positions
            doc = {"prev_value_mse": previous_value_mse(series.values, targets) if len(targets) else None}
            if series.signal is not None:
                doc["noise_floor"] = series.noise_floor
                if len(targets):  # the noise drawn on the test part: what a perfect forecaster scores
                    err = series.values[targets] - series.signal[targets]
                    doc["perfect_test_mse"] = float(np.mean(err**2))
            return doc
        if self.samples is None:
            targets, contexts = self.train_ids[1:].tolist(), []
        else:
            targets, contexts = [], []
            for x, y, _ in self.samples.batches():
                targets += y.tolist()
                contexts += [tuple(r) for r in x.tolist()]
        doc = {"majority_accuracy": Counter(targets).most_common(1)[0][1] / len(targets)}
        if contexts:  # contexts followed by different tokens cap what any predictor can do
            seen: dict[tuple, Counter] = defaultdict(Counter)
            for c, y in zip(contexts, targets, strict=True):
                seen[c][y] += 1
            doc["best_possible_accuracy"] = sum(c.most_common(1)[0][1] for c in seen.values()) / len(targets)
        return doc


def _outputs(model, samples: Samples) -> tuple[torch.Tensor, torch.Tensor]:
    device = next(model.parameters()).device
    outs, ys = [], []
    for x, y, _ in samples.batches():
        outs.append(last_outputs(model, x.to(device)))
        ys.append(y.to(device))
    return torch.cat(outs), torch.cat(ys)


def _mse(model, samples: Samples) -> float | None:
    if len(samples) == 0:
        return None
    out, y = _outputs(model, samples)
    return float(((out - y) ** 2).double().mean())


def _accuracy(model, samples: Samples) -> float:
    out, y = _outputs(model, samples)
    return float((out.argmax(-1) == y).double().mean())


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
