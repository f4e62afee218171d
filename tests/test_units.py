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
    States,
    both_ends,
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
    cfg = ModelConfig(vocab_size=vocab, arch=arch, layers=layers, hidden=hidden, state=5)
    return cfg, TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg)))


@pytest.mark.parametrize("arch", ["lstm", "gru", "mingru", "minlstm", "ssm"])
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
    if arch == "ssm":  # a channel's activation "s": the norm of its state row s_t[u, :] (N = 5 numbers)
        assert st.names == ("h", "s") and st.s.shape == (2, 300, 6)
        norms = np.sqrt((tr.state**2).sum(-1))
        np.testing.assert_allclose(st.of("s"), norms, atol=1e-12)
        assert st.of("s")[1, 7, 3] == pytest.approx(np.linalg.norm(tr.state[1, 7, 3, :]), abs=1e-12)
    else:
        assert st.s is None and st.names == (("h", "c") if arch == "lstm" else ("h",))
        with pytest.raises(ConfigError, match="only the selective SSM"):
            st.of("s")


def test_the_finder_ranks_the_ssm_state_norms_with_h():
    corpus = load_corpus("builtin:brackets", "char")
    cfg, w = model(len(corpus.vocab), "ssm")
    st = corpus_states(w, corpus.text, corpus.ids, "char", limit=600)
    depth, _ = token_feature(st, "depth")
    ranked = rank_units(st, depth)
    assert len(ranked) == 2 * 2 * 6 and {s.state for s in ranked} == {"h", "s"}
    for s in ranked:
        direct = np.corrcoef(st.of(s.state)[s.layer, :, s.unit], depth)[0, 1]
        assert s.r == pytest.approx(direct, abs=1e-10)
    top, other = both_ends(st, 1, 2, "s", 1.0, k=3)
    a = st.s[1, 20:, 2]
    assert top[0].activation == pytest.approx(a.max()) and other[0].activation == pytest.approx(a.min())


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
    a = st.of(best.state)[best.layer, 20:, best.unit]
    assert ctx[0].activation == pytest.approx((a * np.sign(best.r)).max() * np.sign(best.r))
    assert all(
        c.token == corpus.text[c.position] and corpus.text[: c.position].endswith(c.before) for c in ctx
    )


def offset_unit(offset: float, n: int = 400) -> tuple[States, np.ndarray]:
    """One cell-state unit at a large constant offset that rises by 0.3 per open bracket, with a
    small wobble, and is 0 at the text's start (a zero state warming up to its offset)."""
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("ab (cd) e"), size=n))
    depth = char_feature(text, "depth")[0]
    a = offset + 0.3 * depth + 0.02 * np.sin(np.arange(n))
    a[:10] = np.linspace(0.0, offset, 10)  # warming up from c = 0
    spans = np.stack([np.arange(n), np.arange(n) + 1], axis=1)
    c = a[None, :, None]
    return States(h=np.tanh(c), c=c, text=text, spans=spans, level="char"), depth


@pytest.mark.parametrize("offset", [-20.0, 20.0])
def test_contexts_rank_the_deviation_from_the_mean_and_skip_the_warm_up(offset):
    st, depth = offset_unit(offset)
    r = rank_units(st, depth)
    assert r[0].state == "c" and r[0].r > 0  # (the warm-up weakens r; it cannot choose the contexts)
    top, other = both_ends(st, 0, 0, "c", r[0].r, k=5)
    a = st.c[0, :, 0]
    mean = a[20:].mean()
    assert all(c.position >= 20 for c in top + other)  # the start (c = 0, the maximum for -20) is left out
    assert min(depth[c.position] for c in top) > max(depth[c.position] for c in other)
    for c in top + other:
        assert c.deviation == pytest.approx(a[c.position] - mean) and c.activation == a[c.position]
    devs = [c.deviation for c in top]
    assert devs == sorted(devs, reverse=True) and devs[0] == pytest.approx((a[20:] - mean).max())
    assert other[0].deviation == pytest.approx((a[20:] - mean).min())
    flipped, _ = both_ends(st, 0, 0, "c", -r[0].r, k=5)  # a negative correlation: its top is the low end
    assert [c.position for c in flipped] == [c.position for c in other]


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
    sign = 1 if best["r"] > 0 else -1  # the top end in the direction of r, the other end the other way
    assert min(sign * c["deviation"] for c in best["contexts"]) > max(
        sign * c["deviation"] for c in best["opposite"]
    )
    assert all(c["position"] >= 20 for c in best["contexts"] + best["opposite"])
    # the same correlation, computed directly from the checkpoint's weights
    ck = load_checkpoint(out)
    corpus = load_corpus("builtin:brackets", "char")
    w = TraceWeights.from_state(ck.model_cfg, ck.weights)
    st = corpus_states(w, corpus.text, corpus.ids, "char")
    a = st.of(best["state"])[best["layer"] - 1, :, best["unit"]]
    assert best["r"] == pytest.approx(np.corrcoef(a, char_feature(corpus.text, "depth")[0])[0, 1], abs=1e-6)
    table = run(
        "units", out, "--corpus", "builtin:brackets", "--feature", "depth", "--top", 2
    ).stdout.splitlines()
    assert table[2].split()[:6] == ["layer", "unit", "state", "r", "top", "other"] and len(table) == 5
    assert f"{best['contexts'][0]['deviation']:+.2f} ..." in table[3]
    bad = run("units", out, "--corpus", "builtin:brackets", "--feature", "(", check_ok=False)
    assert bad.returncode == 2 and "neither a built-in feature" in bad.stderr


def test_python_features_by_hand():
    text = 'x = \'a#b\'  # it\'s "no"\ns = """doc\n  more""" + "e\\"q"\n    if (a):\n\tpass\n'
    string = char_feature(text, "string")[0]
    inside = "".join(ch for ch, v in zip(text, string, strict=True) if v)
    assert inside == "'a#b'" + '"""doc\n  more"""' + '"e\\"q"'  # not the comment's quotes
    indent = char_feature(text, "indent")[0]
    lines = text.split("\n")
    starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
    assert [indent[s] for s in starts[:-1]] == [0, 0, 0, 1, 2]  # 4 spaces: 1; a tab: 2
    assert char_feature("f('(')", "string")[0].tolist() == [0, 0, 1, 1, 1, 0]


def test_builtin_python_reads_the_standard_librarys_sources(tmp_path):
    import sysconfig
    from pathlib import Path

    from rnnviz.core.corpus import CorpusError, python_sources

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    corpus = load_corpus("builtin:python")
    files = sorted(stdlib.glob("*.py"))
    assert corpus.text.startswith(files[0].read_text(encoding="utf-8")[:200]) and len(corpus.text) > 2_000_000
    assert "def " in corpus.text and (stdlib / "os.py").read_text(encoding="utf-8") in corpus.text
    (tmp_path / "b.py").write_text("b = 2\n")
    (tmp_path / "a.py").write_text("a = 1\n")
    assert python_sources(tmp_path) == "a = 1\n\nb = 2\n"  # in the order of their names
    with pytest.raises(CorpusError, match="has none in .*choose another corpus"):
        python_sources(tmp_path / "empty")


def test_a_regular_expression_is_matched_in_a_child_with_a_time_limit():
    """regex_cover against re in this process (unicode, newlines, empty matches, a lone surrogate),
    and a catastrophic pattern stopped at its limit with one line, the child gone with it."""
    import re

    from rnnviz.core.units import regex_cover

    text = "caf\u00e9 na\u00efve \u201cquoted\u201d\n(x(y)) \U0001f600 tab\tend \ud800 the end"
    for pattern in (r"\w+", r"\(.*?\)", "e", r"\b", r"[\u201c\u201d]", "\ud800", r"^\w", "$"):
        expected = np.zeros(len(text))
        for m in re.finditer(pattern, text):
            expected[m.start() : m.end()] = 1.0
        np.testing.assert_array_equal(regex_cover(text, pattern), expected, err_msg=pattern)
    with pytest.raises(ConfigError, match=r"ran for over 1 s on 61 characters and was stopped") as err:
        regex_cover("a" * 60 + "!", "(a+)+$", seconds=1.0)
    assert "\n" not in str(err.value)
