"""Real-valued sequences for forecasting: the built-in noisy sine, or numbers read from a file.

The noisy sine is x_t = sin(0.02 t) + 2 u_t, u_t uniform on [0, 1), t = 0..999 (seeded). Its
noise 2u has variance 4/12 = 1/3: no forecaster can beat a mean squared error of about 1/3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rnnviz.core.corpus import BUILTIN_PREFIX, read_text
from rnnviz.core.errors import CorpusError

SINE = f"{BUILTIN_PREFIX}sine"
NOISE_VAR = 1.0 / 3.0  # variance of 2u, u ~ U[0, 1)
MAX_VALUES = 10_000_000
_SEP = re.compile(r"[\s,;]+")


@dataclass(frozen=True, eq=False)
class Series:
    """A sequence of real values; the first `split` of them are for training."""

    name: str
    values: np.ndarray  # (N,) float64
    split: int
    signal: np.ndarray | None = None  # the noise-free part, when known (built-in sine)

    @property
    def level(self) -> str:
        return "value"

    @property
    def vocab(self):  # a series has no vocabulary; the type matches Corpus.vocab's use
        return None

    @property
    def noise_floor(self) -> float | None:
        """The expected MSE of a perfect forecaster (the noise's variance), when known."""
        return NOISE_VAR if self.signal is not None else None


def noisy_sine(n: int = 1000, seed: int = 0, train_fraction: float = 0.8) -> Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    signal = np.sin(0.02 * t)
    values = signal + 2.0 * rng.random(n)
    return Series(SINE, values, int(n * train_fraction), signal + 1.0)  # E[2u] = 1


def parse_values(text: str, name: str) -> np.ndarray:
    """Numbers separated by whitespace, commas or semicolons; anything else is a one-line error."""
    parts = [p for p in _SEP.split(text.strip()) if p]
    if len(parts) > MAX_VALUES:
        raise CorpusError(f"{name} has {len(parts):,} values; at most {MAX_VALUES:,} are read")
    values = np.empty(len(parts))
    for i, p in enumerate(parts):
        try:
            values[i] = float(p)
        except ValueError:
            raise CorpusError(f"{name}: value {i + 1} is not a number: {p[:40]!r}") from None
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise CorpusError(f"{name}: value {bad + 1} is not finite: {parts[bad]!r}")
    return values


def load_series(spec: str, train_fraction: float = 0.8) -> Series:
    """`builtin:sine` or a text file of numbers; the first train_fraction of them train."""
    if spec == SINE:
        return noisy_sine(train_fraction=train_fraction)
    if spec.startswith(BUILTIN_PREFIX):
        raise CorpusError(f"no built-in series {spec!r}; the built-in one is {SINE}")
    values = parse_values(read_text(spec), spec)
    if len(values) < 10:
        raise CorpusError(f"{spec} has {len(values)} values; a forecaster needs at least 10")
    return Series(spec, values, int(len(values) * train_fraction))


def previous_value_mse(values: np.ndarray, targets: np.ndarray) -> float:
    """MSE of the naive forecast x_(t+1) = x_t over the given target positions."""
    targets = targets[targets >= 1]
    return float(np.mean((values[targets] - values[targets - 1]) ** 2))
