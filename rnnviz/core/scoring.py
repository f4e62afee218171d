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
    sc = scorer
    t = np.concatenate([sc.samples.positions, sc.held_out.positions])
    return t, np.concatenate([predict(model, sc.samples), predict(model, sc.held_out)])


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
