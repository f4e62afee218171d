"""Activation patching (core.patch) against direct re-runs of the network in torch (float64 cells,
step by step, the state replaced by hand), and `rnnviz patch`."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from rnnviz.core.errors import ConfigError
from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.core.patch import patch, unit_effects
from rnnviz.core.trace import TraceWeights

V = 7


def model_of(arch: str, layers: int = 2, hidden: int = 6, inp: str = "onehot", seed: int = 0) -> CharRNN:
    torch.manual_seed(seed)
    model = CharRNN(
        ModelConfig(vocab_size=V, arch=arch, layers=layers, hidden=hidden, input=inp, embed_dim=5)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # larger weights: the two texts' predictions differ clearly
    return model.double().eval()


def cells_of(model: CharRNN) -> list[nn.Module]:
    """One torch cell per layer with the fused module's weights (the same layout)."""
    cfg, cells = model.cfg, []
    for n in range(cfg.layers):
        size = cfg.input_size if n == 0 else cfg.hidden
        if cfg.arch == "lstm":
            cell = nn.LSTMCell(size, cfg.hidden)
        elif cfg.arch == "gru":
            cell = nn.GRUCell(size, cfg.hidden)
        else:
            cell = nn.RNNCell(size, cfg.hidden, nonlinearity=cfg.nonlinearity)
        cell = cell.double()
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, k).data.copy_(getattr(model.rnn, f"{k}_l{n}").data)
        cells.append(cell)
    return cells


@torch.no_grad()
def direct(model: CharRNN, ids, replace=None) -> tuple[np.ndarray, list]:
    """log p(next) after the last step, and every (layer, step) state; replace: (layer, t, h, c),
    the state put in after that layer computes step t (None: keep the computed one)."""
    cells, cfg = cells_of(model), model.cfg
    x = model.embed(torch.as_tensor(np.asarray(ids))[None])[0]
    state = [None] * cfg.layers
    states = []
    for t in range(len(ids)):
        inp = x[t : t + 1]
        row = []
        for n, cell in enumerate(cells):
            out = cell(inp, state[n])
            h, c = out if cfg.arch == "lstm" else (out, None)
            if replace is not None and replace[:2] == (n, t):
                h = h if replace[2] is None else torch.as_tensor(replace[2])[None]
                c = c if replace[3] is None else torch.as_tensor(replace[3])[None]
            state[n] = (h, c) if cfg.arch == "lstm" else h
            row.append((h[0].numpy().copy(), None if c is None else c[0].numpy().copy()))
            inp = h
        states.append(row)
    logp = torch.log_softmax(model.head(inp)[0], -1).numpy()
    return logp, states


def weights_of(model: CharRNN) -> TraceWeights:
    return TraceWeights.from_state(model.cfg, state_arrays(model))


@pytest.mark.parametrize(
    ("arch", "state", "inp"),
    [("lstm", "both", "onehot"), ("lstm", "h", "embedding"), ("lstm", "c", "onehot"),
     ("gru", "h", "embedding"), ("rnn", "both", "onehot")],
)  # fmt: skip
def test_every_cell_of_the_matrix_is_a_direct_rerun_with_the_state_replaced(arch, state, inp):
    model = model_of(arch, inp=inp)
    clean, corrupt = [1, 2, 3, 4, 5], [6, 2, 0, 1, 4, 5]  # different lengths: aligned at their ends
    p = patch(weights_of(model), clean, corrupt, state=state)
    la, sa = direct(model, clean)
    lb, sb = direct(model, corrupt)
    assert p.target_id == int(np.argmax(la)) and p.offset == 1
    assert p.clean_logp == pytest.approx(la[p.target_id], abs=1e-12)
    assert p.corrupt_logp == pytest.approx(lb[p.target_id], abs=1e-12)
    assert np.isnan(p.effect[:, 0]).all()  # the corrupted text's first step faces no clean step
    for n in range(2):
        for t in range(1, 6):
            h_a, c_a = sa[t - 1][n]
            h = h_a if state in ("h", "both") else None
            c = c_a if state in ("c", "both") and c_a is not None else None
            lp, _ = direct(model, corrupt, (n, t, h, c))
            want = (lp[p.target_id] - lb[p.target_id]) / (la[p.target_id] - lb[p.target_id])
            assert p.effect[n, t] == pytest.approx(want, abs=1e-9), (n, t)


def test_patching_the_whole_top_state_at_the_last_step_gives_the_clean_prediction():
    model = model_of("lstm")
    p = patch(weights_of(model), [1, 2, 3], [3, 2, 1], target_id=4)
    assert p.effect[-1, -1] == pytest.approx(1.0, abs=1e-12)
    p = patch(weights_of(model), [1, 2, 3], [3, 2, 1], target_id=4, state="h")
    assert p.effect[-1, -1] == pytest.approx(1.0, abs=1e-12)  # the head reads h alone


def test_unit_effects_are_direct_reruns_with_one_unit_replaced():
    model = model_of("lstm", layers=1, hidden=5)
    w, clean, corrupt = weights_of(model), [1, 2, 3, 4], [4, 3, 2, 1]
    p = patch(w, clean, corrupt)
    units = unit_effects(w, clean, corrupt, p, 0, 2)
    _, sa = direct(model, clean)
    lb, sb = direct(model, corrupt)
    la, _ = direct(model, clean)
    for j in range(5):
        h, c = sb[2][0][0].copy(), sb[2][0][1].copy()
        h[j], c[j] = sa[2][0][0][j], sa[2][0][1][j]
        lp, _ = direct(model, corrupt, (0, 2, h, c))
        k = p.target_id
        assert units[j] == pytest.approx((lp[k] - lb[k]) / (la[k] - lb[k]), abs=1e-9)


def test_bad_requests_are_one_line_errors():
    w = weights_of(model_of("gru"))
    with pytest.raises(ConfigError, match="has no cell state"):
        patch(w, [1, 2], [2, 1], state="c")
    with pytest.raises(ConfigError, match="unknown state"):
        patch(w, [1, 2], [2, 1], state="x")
    with pytest.raises(ConfigError, match="has no tokens"):
        patch(w, [], [2, 1])
    with pytest.raises(ConfigError, match="same probability"):
        patch(w, [1, 2], [1, 2])
    with pytest.raises(ConfigError, match="outside the vocabulary"):
        patch(w, [1, 2], [2, 1], target_id=V)


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnnviz", *args], capture_output=True, text=True, timeout=120
    )


def test_the_patch_command_prints_the_matrix(tmp_path):
    from rnnviz.core.checkpoint import save_checkpoint
    from rnnviz.core.corpus import Corpus
    from rnnviz.core.trace import trace

    corpus = Corpus.from_text("the cat sat on the mat. " * 5, "char")
    torch.manual_seed(1)
    model = CharRNN(ModelConfig(vocab_size=len(corpus.vocab), hidden=8))
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model.cfg, corpus.vocab, state_arrays(model))
    out = run("patch", str(path), "--clean", "a mat", "--corrupt", "the cat", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    w = weights_of(model)
    clean, corrupt = corpus.vocab.ids(list("a mat")), corpus.vocab.ids(list("the cat"))
    p = patch(w, clean, corrupt, vocab=corpus.vocab.tokens)
    top = corpus.vocab.tokens[int(np.argmax(trace(w, clean).probs[-1]))]
    assert doc["target"] == top == p.target and doc["state"] == "both"
    assert doc["clean_logp"] == pytest.approx(p.clean_logp) and doc["corrupt_logp"] == pytest.approx(
        p.corrupt_logp
    )
    assert len(doc["effect"]) == 1 and len(doc["effect"][0]) == 7 and doc["effect"][0][:2] == [None, None]
    np.testing.assert_allclose(doc["effect"][0][2:], p.effect[0, 2:])
    cell = run("patch", str(path), "--clean", "the cat", "--corrupt", "a mat", "--state", "c", "--json")
    assert cell.returncode == 0 and json.loads(cell.stdout)["state"] == "c"  # an LSTM has a cell state
    for args, said in (
        (("--clean", "the cat", "--corrupt", "the cat"), "same probability"),
        (("--clean", "zzz", "--corrupt", "a mat"), "not in the vocabulary"),
        (("--clean", "the cat", "--corrupt", "a mat", "--target", "Q"), "--target not in the vocabulary"),
    ):
        bad = run("patch", str(path), *args)
        assert bad.returncode == 2 and said in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
