"""Many-to-one samples: input sequences (of any lengths), one target each.

Three ways to cut data into samples (TrainConfig.samples):
- "windows": every run of `seq_len` tokens (or values) predicts the one after it;
- "words": each word's letters but the last predict the last letter;
- "lines": each line's characters but the last predict the last (builtin:recall's answers);
- "stream" is not here: the Trainer reads the text in order with a carried state.
Samples are grouped by length, so each group is one fused forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.core.config import SAMPLE_MODES
from rnnviz.core.corpus import Corpus, tokenize
from rnnviz.core.errors import ConfigError
from rnnviz.core.series import Series


@dataclass(frozen=True, eq=False)
class Samples:
    """Inputs grouped by length: length -> (indices into the whole set, inputs (n, T), targets (n,))."""

    groups: dict[int, tuple[np.ndarray, torch.Tensor, torch.Tensor]]
    labels: tuple[str, ...]  # one per sample: the word, or where the window ends
    positions: np.ndarray  # (n,) where each target sits in the text or series (-1: not applicable)

    def __len__(self) -> int:
        return len(self.labels)

    def tokens(self) -> int:
        return sum(int(x.numel()) for _, x, _ in self.groups.values())

    def batches(self, pick: np.ndarray | None = None):
        """(x, y, indices) per length group, restricted to the sample indices in `pick`."""
        for idx, x, y in self.groups.values():
            if pick is None:
                yield x, y, idx
                continue
            rows = np.flatnonzero(np.isin(idx, pick))
            if len(rows):
                r = torch.as_tensor(rows, device=x.device)
                yield x[r], y[r], idx[rows]


def _group(inputs: list[np.ndarray], targets: np.ndarray, dtype, device) -> dict:
    groups: dict[int, list[int]] = {}
    for i, x in enumerate(inputs):
        groups.setdefault(len(x), []).append(i)
    out: dict = {}
    for T, members in sorted(groups.items()):
        idx = np.asarray(members)
        xs = torch.as_tensor(np.stack([inputs[i] for i in members]), dtype=dtype, device=device)
        ys = torch.as_tensor(targets[idx], dtype=dtype, device=device)
        out[T] = (idx, xs, ys)
    return out


def make_samples(inputs, targets, labels, positions, value: bool, device) -> Samples:
    dtype = torch.float32 if value else torch.int64
    return Samples(_group(inputs, np.asarray(targets), dtype, device), tuple(labels), np.asarray(positions))


def window_samples(source: Corpus | Series, window: int, val_fraction: float, device="cpu"):
    """Every `window` consecutive items predict the next: (train, held-out) Samples.

    A sample is held out when its target lies in the held-out tail (the series' test part, or
    the last val_fraction of a text); its inputs may reach back into the training part.
    """
    if isinstance(source, Series):
        data, split, value = source.values, source.split, True
    else:
        data, value = source.ids, False
        split = len(data) - int(len(data) * val_fraction) if val_fraction > 0 else len(data)
    ends = np.arange(window, len(data))
    if len(ends) == 0:
        raise ConfigError(
            f"{source.name} has {len(data)} items, too few for a window of {window} and a target"
        )
    parts = []
    for keep in (ends < split, ends >= split):
        at = ends[keep]
        inputs = [data[e - window : e] for e in at]
        labels = [f"{'t' if value else 'token'} {e}" for e in at]
        parts.append(make_samples(inputs, data[at], labels, at, value, device))
    if len(parts[0]) == 0:
        raise ConfigError(f"{source.name}: no training windows of {window} before the held-out part")
    return parts[0], parts[1]


def word_samples(corpus: Corpus, val_fraction: float, device="cpu"):
    """Each distinct word (2+ characters, in order of first appearance) -> its last character.

    The held-out part is the last val_fraction of the words.
    """
    if corpus.level != "char":
        raise ConfigError("the last-letter task reads characters: use a character-level vocabulary")
    words = [w for w in dict.fromkeys(tokenize(corpus.text, "word")) if len(w) >= 2]
    if not words:
        raise ConfigError(f"{corpus.name} has no words of two or more letters")
    n_val = int(len(words) * val_fraction) if len(words) > 1 else 0
    vocab = corpus.vocab
    parts = []
    for chunk in (words[: len(words) - n_val], words[len(words) - n_val :]):
        inputs = [vocab.encode(w[:-1]) for w in chunk]
        targets = np.array([vocab.stoi.get(w[-1], 0) for w in chunk], dtype=np.int64)
        parts.append(make_samples(inputs, targets, chunk, [-1] * len(chunk), False, device))
    return parts[0], parts[1]


def split_lines(text: str, val_fraction: float) -> tuple[list[str], list[str]]:
    """The distinct lines of 2+ characters, in order of first appearance: (training, held-out),
    the held-out part the last val_fraction of them."""
    lines = [x for x in dict.fromkeys(text.split("\n")) if len(x) >= 2]
    n_val = int(len(lines) * val_fraction) if len(lines) > 1 else 0
    return lines[: len(lines) - n_val], lines[len(lines) - n_val :]


def line_samples(corpus: Corpus, val_fraction: float, device="cpu"):
    """Each distinct line (split_lines) but its last character -> its last character."""
    if corpus.level != "char":
        raise ConfigError("line samples read characters: use a character-level vocabulary")
    train, held = split_lines(corpus.text, val_fraction)
    if not train:
        raise ConfigError(f"{corpus.name} has no lines of two or more characters")
    vocab = corpus.vocab
    parts = []
    for chunk in (train, held):
        inputs = [vocab.encode(x[:-1]) for x in chunk]
        targets = np.array([vocab.stoi.get(x[-1], 0) for x in chunk], dtype=np.int64)
        parts.append(make_samples(inputs, targets, chunk, [-1] * len(chunk), False, device))
    return parts[0], parts[1]


def build_samples(source: Corpus | Series, mode: str, seq_len: int, val_fraction: float, device="cpu"):
    if mode == "windows":
        return window_samples(source, seq_len, val_fraction, device)
    if mode == "words":
        if isinstance(source, Series):
            raise ConfigError("the last-letter task needs a text, not a series of numbers")
        return word_samples(source, val_fraction, device)
    if mode == "lines":
        if isinstance(source, Series):
            raise ConfigError("line samples need a text, not a series of numbers")
        return line_samples(source, val_fraction, device)
    raise ConfigError(f"unknown sample mode {mode!r}: choose {', '.join(SAMPLE_MODES)}")


@torch.no_grad()
def last_outputs(model, x: torch.Tensor) -> torch.Tensor:
    """The model's output after the last input step: logits (n, V) or values (n,)."""
    out, _ = model(x)
    last = out[:, -1]
    return last[:, 0] if model.cfg.regression else last


def predict(model, samples: Samples) -> np.ndarray:
    """Outputs for every sample, in sample order: values (n,), or probabilities (n, V)."""
    model.eval()
    result: np.ndarray | None = None
    for x, _, idx in samples.batches():
        out = last_outputs(model, x)
        o = (out if model.cfg.regression else torch.softmax(out, -1)).cpu().numpy().astype(np.float64)
        if result is None:
            result = np.empty((len(samples), *o.shape[1:]))
        result[idx] = o
    return result if result is not None else np.empty(0)
