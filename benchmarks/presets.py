"""The presets' targets, measured: each preset trained with its own settings, headless.

- fable / fable-story: seconds of training until next-word accuracy >= 95% (checked every
  --check steps; the clock stops while checking), target <= 60 s;
- sine: train and test MSE after the preset's budget, for window lengths 4 (the tutorial's),
  8 (the preset's) and 16, beside predicting the previous value and the noise floor; target
  test MSE <= 0.36;
- words: accuracy over the words after the preset's budget;
- a reference no network can beat on average: the Bayes forecaster that knows the signal's form
  (sin(0.02 t + phase) + 2u, u uniform) and infers the phase from the window, per window length.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from rnnviz.core.presets import PRESETS, load_source, preset_trainer
from rnnviz.core.scoring import Scorer


def time_to_accuracy(name: str, target: float, limit_s: float, check: int) -> tuple[float | None, float, int]:
    preset = PRESETS[name]
    trainer = preset_trainer(preset, load_source(preset), device="cpu")
    scorer = Scorer(preset, trainer.corpus, trainer.cfg)
    trainer.optimizer  # noqa: B018  (built before the clock starts: its first use imports torch._dynamo)
    spent, acc = 0.0, 0.0
    while spent < limit_s:
        t0 = time.perf_counter()
        for _ in range(check):
            trainer.step()
        spent += time.perf_counter() - t0
        acc = scorer.figures(trainer.model)["accuracy"]
        if acc >= target:
            return spent, acc, trainer.updates
    return None, acc, trainer.updates


def sine(window: int, steps: int) -> dict:
    preset = PRESETS["sine"]
    trainer = preset_trainer(preset, load_source(preset), device="cpu", seq_len=window)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    seconds = time.perf_counter() - t0
    return Scorer(preset, trainer.corpus, trainer.cfg).figures(trainer.model) | {"seconds": seconds}


def bayes_mse(window: int, phases: int = 20000) -> tuple[float, float]:
    """(train, test) MSE of the posterior-mean forecast given the window, over a uniform prior on
    the phase: the best any forecaster can do from `window` values of this series."""
    series = load_source(PRESETS["sine"])
    x, grid = series.values, np.linspace(0, 2 * np.pi, phases, endpoint=False)
    signal = np.sin(grid[:, None] + 0.02 * np.arange(window + 1))  # (phases, window + 1)
    errs = []
    for t in range(window, len(x)):
        d = x[t - window : t] - signal[:, :window]
        ok = np.all((d >= 0) & (d < 2), axis=1)  # phases under which every u lies in [0, 1)
        pred = signal[ok, window].mean() + 1.0 if ok.any() else x[t - window : t].mean()
        errs.append((pred - x[t]) ** 2)
    errs = np.asarray(errs)
    split = series.split - window
    return float(errs[:split].mean()), float(errs[split:].mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", type=int, default=10, help="steps between accuracy checks")
    p.add_argument("--limit", type=float, default=60.0, help="seconds of training before giving up")
    a = p.parse_args()
    torch.set_num_threads(2)
    for name in ("fable", "fable-story"):
        seconds, acc, steps = time_to_accuracy(name, 0.95, a.limit, a.check)
        got = f"{seconds:.1f} s ({steps} steps)" if seconds is not None else f"not within {a.limit:.0f} s"
        print(f"{name:12s} 95% next-word accuracy after {got}; accuracy then {acc:.1%}  [target <= 60 s]")
    for window in (4, 8, 16):
        f = sine(window, PRESETS["sine"].steps)
        print(
            f"sine w={window:<3d} train MSE {f['train_mse']:.4f}  test MSE {f['test_mse']:.4f}  "
            f"previous value {f['prev_value_mse']:.4f}  noise floor {f['noise_floor']:.4f}  "
            f"perfect on this test part {f['perfect_test_mse']:.4f}  ({f['seconds']:.1f} s)  [target <= 0.36]"
        )
        train_b, test_b = bayes_mse(window)
        print(f"         the Bayes forecaster from {window} values: train MSE {train_b:.4f}  "
              f"test MSE {test_b:.4f}")  # fmt: skip
    preset = PRESETS["words"]
    trainer = preset_trainer(preset, load_source(preset), device="cpu")
    t0 = time.perf_counter()
    for _ in range(preset.steps):
        trainer.step()
    f = Scorer(preset, trainer.corpus, trainer.cfg).figures(trainer.model)
    print(f"words        accuracy {f['accuracy']:.1%} of {len(f['words'])} words after {preset.steps} steps "
          f"({time.perf_counter() - t0:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
