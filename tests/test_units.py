"""The neuron finder, the state trajectory's map and `rnnviz units`, against direct computations."""

import json

import numpy as np
import pytest
import torch
from test_cli import run

from rnnviz.core.checkpoint import load_checkpoint
from rnnviz.core.config import ModelConfig
from rnnviz.core.corpus import Corpus, load_corpus, token_spans, tokenize
from rnnviz.core.errors import ConfigError
from rnnviz.core.model import CharRNN, state_arrays
from rnnviz.core.pca import fit_pca
from rnnviz.core.trace import TraceWeights, trace
from rnnviz.core.units import (
    FEATURES,
    char_feature,
    corpus_states,
    correlations,
    rank_units,
    token_feature,
    top_contexts,
)


def test_builtin_features_by_hand():
    text = 'a(b[c]d)e "hi" x\nab c'
    f = {name: char_feature(text, name)[0].tolist() for name in FEATURES}
    assert f["depth"][:10] == [0, 1, 1, 2, 2, 2, 1, 1, 0, 0]
    assert f["quotes"][9:16] == [0, 1, 1, 1, 1, 0, 0]  # the quotes themselves count as inside
    assert f["word_position"][17:21] == [1, 2, 0, 1]
    assert f["after_space"][:11] == [0] * 10 + [1]
    assert f["line_position"][15:21] == [15, 16, 0, 1, 2, 3]  # the newline ends its line
    covered, kind = char_feature(text, r"\[.*?\]")
    assert kind == "regex" and covered.tolist()[2:7] == [0, 1, 1, 1, 0]
    with pytest.raises(ConfigError, match="neither a built-in feature"):
        char_feature(text, "(unclosed")


def test_word_level_features_and_spans():
    text = "The cat (sat) on the mat."
    spans = token_spans(text, "word")
    assert [text[s:e] for s, e in spans] == tokenize(text, "word")
    corpus = Corpus.from_text(text, "word")
    cfg, w = model(len(corpus.vocab), "lstm")
    st = corpus_states(w, corpus.text, corpus.ids, "word")
    assert token_feature(st, r"sat")[0].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert token_feature(st, "depth")[0].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0]


def model(vocab, arch, layers=2, hidden=6, seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=vocab, arch=arch, layers=layers, hidden=hidden)
    return cfg, TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg)))


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_corpus_states_read_in_chunks_equal_one_trace(arch, monkeypatch):
    corpus = load_corpus("builtin:brackets", "char")
    cfg, w = model(len(corpus.vocab), arch)
    monkeypatch.setattr("rnnviz.core.units.CHUNK", 37)  # the state carries across chunks
    st = corpus_states(w, corpus.text, corpus.ids, "char", limit=300)
    tr = trace(w, corpus.ids[:300])
    np.testing.assert_allclose(st.h, tr.h, atol=1e-12)
    if arch == "lstm":
        np.testing.assert_allclose(st.c, tr.c, atol=1e-12)
    else:
        assert st.c is None


def test_ranking_is_pearson_over_every_position():
    corpus = load_corpus("builtin:brackets", "char")
    cfg, w = model(len(corpus.vocab), "lstm")
    st = corpus_states(w, corpus.text, corpus.ids, "char", limit=2000)
    depth, _ = token_feature(st, "depth")
    ranked = rank_units(st, depth)
    assert len(ranked) == 2 * 2 * 6  # h and c, two layers, six units
    for s in ranked[:5]:
        direct = np.corrcoef(st.of(s.state)[s.layer, :, s.unit], depth)[0, 1]
        assert s.r == pytest.approx(direct, abs=1e-10)
    assert abs(ranked[0].r) >= abs(ranked[-1].r)
    assert correlations(np.ones((5, 2)), np.arange(5.0)).tolist() == [0.0, 0.0]  # a constant unit
    with pytest.raises(ConfigError, match="same at every position"):
        rank_units(st, np.zeros(2000))
    best = ranked[0]
    ctx = top_contexts(st, best.layer, best.unit, best.state, k=4, sign=np.sign(best.r))
    a = st.of(best.state)[best.layer, :, best.unit]
    assert ctx[0].activation == pytest.approx((a * np.sign(best.r)).max() * np.sign(best.r))
    assert all(
        c.token == corpus.text[c.position] and corpus.text[: c.position].endswith(c.before) for c in ctx
    )


def test_pca_against_the_covariances_eigenvectors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + 3.0
    p = fit_pca(x, k=2)
    vals, vecs = np.linalg.eigh(np.cov(x.T))
    order = np.argsort(vals)[::-1][:2]
    np.testing.assert_allclose(p.variance, vals[order], rtol=1e-10)
    for k in range(2):  # the same direction, up to its sign
        assert abs(p.axes[k] @ vecs[:, order[k]]) == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(p.project(x[:3]), (x[:3] - x.mean(0)) @ p.axes.T, atol=1e-12)
    assert p.explained.sum() == pytest.approx(vals[order].sum() / vals.sum())
    assert (p.axes[np.arange(2), np.abs(p.axes).argmax(1)] > 0).all()  # a fixed sign


def test_cli_units_finds_the_depth_unit_on_brackets(tmp_path):
    """A small LSTM trained briefly on the nested brackets counts their depth in one of its units."""
    out = tmp_path / "b.safetensors"
    run("train", "--corpus", "builtin:brackets", "--hidden", 32, "--steps", 500, "--lr", 3e-3, "--out", out)
    p = run("units", out, "--corpus", "builtin:brackets", "--feature", "depth", "--json", "--top", 3)
    doc = json.loads(p.stdout)
    assert doc["feature"] == "depth" and doc["kind"] == "builtin" and doc["positions"] > 20_000
    best = doc["units"][0]
    assert abs(best["r"]) > 0.8 and best["state"] in ("h", "c") and len(best["contexts"]) == 5
    # the same correlation, computed directly from the checkpoint's weights
    ck = load_checkpoint(out)
    corpus = load_corpus("builtin:brackets", "char")
    w = TraceWeights.from_state(ck.model_cfg, ck.weights)
    st = corpus_states(w, corpus.text, corpus.ids, "char")
    a = st.of(best["state"])[best["layer"] - 1, :, best["unit"]]
    assert best["r"] == pytest.approx(np.corrcoef(a, char_feature(corpus.text, "depth")[0])[0, 1], abs=1e-6)
    bad = run("units", out, "--corpus", "builtin:brackets", "--feature", "(", check_ok=False)
    assert bad.returncode == 2 and "neither a built-in feature" in bad.stderr
