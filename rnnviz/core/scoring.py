"""Scoring a model on a preset's data: the figures `rnnviz train --preset` prints and the app's
Preset tab shows, beside their references. Needs torch (the models run here)."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import torch

from rnnviz.core.corpus import Corpus
from rnnviz.core.presets import Preset
from rnnviz.core.samples import Samples, build_samples, last_outputs, predict
from rnnviz.core.series import Series, previous_value_mse
from rnnviz.core.train import TrainConfig, Trainer


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
        self.samples: Samples | None = None  # None when the text is read as a stream
        self.held_out: Samples | None = None
        if cfg.samples == "stream":
            assert isinstance(source, Corpus), "a series is read in windows"
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

    def _windows(self) -> tuple[Samples, Samples]:
        """The training and held-out samples (the preset reads windows, not a stream)."""
        assert self.samples is not None and self.held_out is not None
        return self.samples, self.held_out

    def _series(self, model) -> dict:
        train, test = self._windows()
        doc = {"train_mse": _mse(model, train), "test_mse": _mse(model, test)}
        return doc | {"window": self.cfg.seq_len}

    def _tokens(self, model) -> dict:
        device = next(model.parameters()).device
        doc: dict = {}
        if self.samples is None:  # the training text read once, in order, from a zero state
            ids = self.train_ids.to(device)
            logits, _ = model(ids[None, :-1])
            doc["accuracy"] = float((logits[0].argmax(-1) == ids[1:]).double().mean())
        else:
            train, test = self._windows()
            doc["accuracy"] = _accuracy(model, train)
            if len(test):
                doc["held_out_accuracy"] = _accuracy(model, test)
        if self.cfg.samples == "words":
            doc["words"] = self._words(model)
        return doc

    def _words(self, model) -> list[dict]:
        """Each training word with the model's most likely last letter and its probability."""
        samples = self._windows()[0]
        probs = predict(model, samples)
        assert self.source.vocab is not None
        tokens = self.source.vocab.tokens
        rows = []
        for i, word in enumerate(samples.labels):
            best = int(np.argmax(probs[i]))
            rows.append({"word": word, "predicted": tokens[best], "p": float(probs[i, best])})
        return rows

    def _references(self) -> dict:
        """Figures that do not depend on the model: baselines and the best possible."""
        if self.value:
            series = self.source
            assert isinstance(series, Series)
            at = self._windows()[1].positions
            doc = {"prev_value_mse": previous_value_mse(series.values, at) if len(at) else None}
            if series.signal is not None:
                doc["noise_floor"] = series.noise_floor
                if len(at):  # the noise drawn on the test part: what a perfect forecaster scores
                    err = series.values[at] - series.signal[at]
                    doc["perfect_test_mse"] = float(np.mean(err**2))
            return doc
        contexts: list[tuple] = []
        targets: list[int] = []
        if self.samples is None:
            targets = self.train_ids[1:].tolist()
        else:
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


class PresetMonitor:
    """A preset's figures during training (core.loop.TrainLoop's monitor): the model's figures
    beside the references, the seconds trained, and when the target was first reached. A value
    model's figures also carry its forecast of every target, train and test ("forecast": positions
    and values), and come ten times a second: the forecaster's window draws them as it trains."""

    def __init__(self, preset: Preset, trainer: Trainer):
        self.scorer = Scorer(preset, trainer.corpus, trainer.cfg)
        self.target_seconds: float | None = None
        self.every = 0.1 if self.scorer.value else 0.5  # seconds of training between reports

    def __call__(self, trainer: Trainer, seconds: float) -> dict:
        doc = self.scorer.figures(trainer.model) | {"steps": trainer.updates, "seconds": seconds}
        if self.scorer.value:
            doc["forecast"] = forecast(trainer.model, self.scorer)
        target = doc.get("target_accuracy")
        if self.target_seconds is None and target is not None and doc["accuracy"] >= target:
            self.target_seconds = seconds  # first seen at this check (within the monitor's interval)
        if self.target_seconds is not None:
            doc["target_reached_seconds"] = self.target_seconds
        return doc


def forecast(model, scorer: Scorer) -> tuple[np.ndarray, np.ndarray]:
    """A value model's forecast of every target, train then test: (positions, values)."""
    train, test = scorer._windows()
    t = np.concatenate([train.positions, test.positions])
    return t, np.concatenate([predict(model, train), predict(model, test)])


def preset_monitor(trainer: Trainer) -> tuple[PresetMonitor | None, str | None]:
    """The monitor of the trainer's preset (None without one), and why there is none if its
    settings no longer suit the preset's figures."""
    from rnnviz.core.errors import RnnvizError
    from rnnviz.core.presets import PRESETS

    preset = PRESETS.get(trainer.preset or "")
    if preset is None:
        return None, None
    try:
        return PresetMonitor(preset, trainer), None
    except RnnvizError as exc:
        return None, f"no preset figures: {exc}"
