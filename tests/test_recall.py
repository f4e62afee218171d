"""builtin:recall (core.recall) and its line samples, checked by reading the text back directly."""

from collections import Counter

import numpy as np
import pytest

from rnnviz.core.config import TrainConfig
from rnnviz.core.corpus import BUILTINS, builtin_path, load_corpus
from rnnviz.core.errors import ConfigError
from rnnviz.core.recall import KEYS, LINES, PAIRS, VALUES, baselines, parse_line, recall_text
from rnnviz.core.samples import build_samples, split_lines


def test_every_line_answers_with_the_value_of_its_queried_key():
    text = recall_text()
    assert text == recall_text() and text != recall_text(seed=1)  # seeded, deterministic
    lines = text.splitlines()
    assert len(lines) == LINES == len(set(lines))
    answers, positions = Counter(), Counter()
    for line in lines:
        words = line.split(" ")
        assert len(words) == PAIRS + 2 and words[PAIRS] == "?"
        pairs, query = words[:PAIRS], words[PAIRS + 1]
        keys = [w[0] for w in pairs]
        assert len(set(keys)) == PAIRS and set(keys) <= set(KEYS)  # distinct keys in each line
        assert all(len(w) == 2 and w[1] in VALUES for w in pairs)
        assert query in pairs  # the query's key is one of the line's, its value that pair's
        positions[pairs.index(query)] += 1
        answers[query[1]] += 1
        assert parse_line(line) == (dict(pairs), query[0], query[1])
    # the query is any pair, the answer any digit: nothing but recall tells it
    assert set(positions) == set(range(PAIRS)) and min(positions.values()) > 0.8 * LINES / PAIRS
    assert set(answers) == set(VALUES) and max(answers.values()) < 1.2 * LINES / len(VALUES)


def test_builtin_recall_is_the_generated_text():
    assert "recall" in BUILTINS and builtin_path("builtin:recall").name == "recall.py"
    c = load_corpus("builtin:recall")
    assert c.text == recall_text() and c.name == "builtin:recall"
    assert set(c.vocab.tokens[1:]) == set(KEYS + VALUES + " ?\n")


def test_baselines_by_counting_every_guess():
    lines = recall_text(lines=300, pairs=3, seed=5).splitlines()
    doc = baselines(lines)
    answers = [x[-1] for x in lines]
    best_constant = max(np.mean([a == d for a in answers]) for d in VALUES)
    assert doc["majority_accuracy"] == pytest.approx(best_constant)
    # a guesser that knows the line's values but not their keys: the best digit for each line,
    # right when the queried pair holds it (each pair equally likely to be queried)
    bag = []
    for x in lines:
        values = [w[1] for w in x.split(" ")[:3]]
        bag.append(max(sum(v == d for v in values) / 3 for d in VALUES))
    assert doc["values_without_keys_accuracy"] == pytest.approx(np.mean(bag))
    assert doc["chance_accuracy"] == 0.1


def test_line_samples_read_each_line_but_its_answer():
    c = load_corpus("builtin:recall")
    cfg = TrainConfig(samples="lines", loss_mode="many-to-one", val_fraction=0.1)
    train, held = build_samples(c, cfg.samples, cfg.seq_len, cfg.val_fraction)
    lines = c.text.splitlines()
    assert (len(train), len(held)) == (LINES - LINES // 10, LINES // 10)
    assert split_lines(c.text, 0.1) == (lines[: -LINES // 10], lines[-LINES // 10 :])
    [(_, x, y)] = held.groups.values()  # every line has the same length
    for i in range(0, len(held), 97):
        assert c.vocab.decode(x[i].tolist()) == lines[LINES - LINES // 10 + i][:-1]
        assert c.vocab.tokens[int(y[i])] == lines[LINES - LINES // 10 + i][-1]
    with pytest.raises(ConfigError, match="line samples read characters"):
        build_samples(load_corpus("builtin:fable", "word"), "lines", 8, 0.1)
