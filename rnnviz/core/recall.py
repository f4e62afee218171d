"""Associative recall, a task where selectivity matters: builtin:recall, generated here.

Each line holds PAIRS key-value pairs, then a query: one of the line's keys, whose value is the
line's last character, e.g. "d3 q7 a3 x0 m9 k2 ? q7". The keys of a line are distinct letters
drawn at random, the values random digits (a digit may repeat), the query key a random one of the
line's keys, every line drawn afresh from a seeded generator: nothing but the pair seen earlier in
the line tells the answer. Read as many-to-one samples (TrainConfig.samples "lines": each line
but its last character predicts the last character), a model is scored on the answers only.
Needs no torch.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

KEYS = "abcdefghijklmnopqrstuvwxyz"
VALUES = "0123456789"
PAIRS = 4  # key-value pairs per line: "a4 k7 x2 m9 ? k7"
LINES = 20_000  # lines in builtin:recall (with a few thousand, an LSTM learns the lines by heart: README)
SEED = 0
QUERY = "?"


def recall_lines(rng: np.random.Generator, count: int, pairs: int = PAIRS, keys: str = KEYS) -> list[str]:
    """`count` lines: `pairs` distinct keys with random values, then "? KEY VALUE" for a random one
    of them. Drawn for all lines at once: keys (the first `pairs` of a random permutation of
    KEYS), then values, then the query."""
    chosen = np.argsort(rng.random((count, len(keys))), axis=1)[:, :pairs]
    values = rng.integers(0, len(VALUES), size=(count, pairs))
    q = rng.integers(0, pairs, size=count)
    out = []
    for k, v, j in zip(chosen.tolist(), values.tolist(), q.tolist(), strict=True):
        body = " ".join(keys[a] + VALUES[b] for a, b in zip(k, v, strict=True))
        out.append(f"{body} {QUERY} {keys[k[j]]}{VALUES[v[j]]}")
    return out


def recall_text(lines: int = LINES, pairs: int = PAIRS, seed: int = SEED, keys: str = KEYS) -> str:
    """`lines` distinct lines (repeats are dropped and more drawn), one per text line: the same
    text for the same arguments on every machine (numpy's PCG64)."""
    if not 1 <= pairs <= len(keys):
        raise ValueError(f"pairs must be 1 to {len(keys)}, not {pairs}")
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < lines:
        out.update(dict.fromkeys(recall_lines(rng, lines - len(out), pairs, keys)))
    return "\n".join(out) + "\n"


def parse_line(line: str) -> tuple[dict[str, str], str, str]:
    """ "d3 q7 ? q7" -> ({"d": "3", "q": "7"}, "q", "7"): the pairs, the query key, the answer."""
    head, _, query = line.partition(f" {QUERY} ")
    pairs = dict((p[0], p[1]) for p in head.split())
    return pairs, query[0], query[1]


def baselines(lines: list[str]) -> dict:
    """Accuracies without recall, on these lines (counted directly):
    - majority: always the value most frequent as an answer in these lines;
    - values_without_keys: a model that knows which values the line holds but not which key each
      belongs to, and says the most frequent of them: right with probability (its count) / pairs.
    Chance is 1/10."""
    parsed = [parse_line(x) for x in lines]
    answers = Counter(a for _, _, a in parsed)
    bag = [Counter(p.values()).most_common(1)[0][1] / len(p) for p, _, _ in parsed]
    return {
        "chance_accuracy": 1 / len(VALUES),
        "majority_accuracy": answers.most_common(1)[0][1] / len(parsed),
        "values_without_keys_accuracy": float(np.mean(bag)),
    }
