"""Activation patching of minGRU, minLSTM and the S6 (core.patch) against direct re-runs with the
model's torch layers, step by step, the state replaced by hand; and `rnnviz patch --state s`."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_patch import run

from rnnviz.core.errors import ConfigError
from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.core.patch import patch, states, unit_effects
from rnnviz.core.trace import TraceWeights

V = 7


def model_of(arch: str, layers: int = 2) -> CharRNN:
    torch.manual_seed(2)
    m = CharRNN(ModelConfig(vocab_size=V, arch=arch, layers=layers, hidden=5, state=3))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.8 * torch.randn_like(p))  # the texts' predictions and the states differ clearly
    return m.double().eval()


@torch.no_grad()
def direct(m: CharRNN, ids, replace=None) -> tuple[np.ndarray, list]:
    """log p(next) after the last step, and every (layer, step) (h, s); replace: (layer, t, h, s)
    put in after that layer computes step t (None: keep the computed one). The S6's h_t is made
    from s_t before s_t is replaced: a later step reads the replaced s."""
    cfg = m.cfg
    x = F.one_hot(torch.tensor(ids), V).double()
    hs = [torch.zeros(cfg.hidden, dtype=torch.float64) for _ in range(cfg.layers)]
    ss = [torch.zeros(cfg.hidden, cfg.state, dtype=torch.float64) for _ in range(cfg.layers)]
    states_seen = []
    for t in range(len(ids)):
        inp, row = x[t], []
        for n in range(cfg.layers):
            lay = getattr(m.rnn, f"l{n}")
            if cfg.arch == "mingru":
                z = torch.sigmoid(lay.z(inp))
                h = (1 - z) * hs[n] + z * lay.h(inp)
            elif cfg.arch == "minlstm":
                f, i = torch.sigmoid(lay.f(inp)), torch.sigmoid(lay.i(inp))
                h = f / (f + i) * hs[n] + i / (f + i) * lay.h(inp)
            else:
                u = lay.in_proj(inp)
                d = F.softplus(lay.delta(u))
                ss[n] = (
                    torch.exp(d[:, None] * -torch.exp(lay.A_log)) * ss[n] + (d * u)[:, None] * lay.B(u)[None]
                )
                h = (ss[n] @ lay.C(u) + lay.D * u) * F.silu(lay.gate(inp))
            if replace is not None and replace[:2] == (n, t):
                h = h if replace[2] is None else torch.as_tensor(replace[2])
                ss[n] = ss[n] if replace[3] is None else torch.as_tensor(replace[3])
            hs[n] = h
            row.append((h.numpy().copy(), ss[n].numpy().copy()))
            inp = h
        states_seen.append(row)
    return torch.log_softmax(m.head(inp), -1).numpy(), states_seen


def weights_of(m: CharRNN) -> TraceWeights:
    return TraceWeights.from_state(m.cfg, state_arrays(m))


@pytest.mark.parametrize(
    ("arch", "state"),
    [("mingru", "both"), ("minlstm", "h"), ("ssm", "both"), ("ssm", "s"), ("ssm", "h")],
)
def test_every_cell_of_the_matrix_is_a_direct_rerun_with_the_state_replaced(arch, state):
    m = model_of(arch)
    clean, corrupt = [1, 2, 3, 4, 5], [6, 2, 0, 1, 4, 5]  # different lengths: aligned at their ends
    p = patch(weights_of(m), clean, corrupt, state=state)
    la, sa = direct(m, clean)
    lb, _ = direct(m, corrupt)
    k = p.target_id
    assert k == int(np.argmax(la)) and p.offset == 1 and np.isnan(p.effect[:, 0]).all()
    assert (p.clean_logp, p.corrupt_logp) == pytest.approx((la[k], lb[k]), abs=1e-12)
    changed = 0
    for n in range(2):
        for t in range(1, 6):
            h_a, s_a = sa[t - 1][n]
            h = h_a if state in ("h", "both") else None
            s = s_a if arch == "ssm" and state in ("s", "both") else None
            lp, _ = direct(m, corrupt, (n, t, h, s))
            assert p.effect[n, t] == pytest.approx((lp[k] - lb[k]) / (la[k] - lb[k]), abs=1e-9), (n, t)
            changed += abs(p.effect[n, t]) > 1e-6
    assert changed >= 4  # the matrix is not all zeros
    if state != "s":  # the head reads h: A's top h at the last step is A's prediction
        assert p.effect[-1, -1] == pytest.approx(1.0, abs=1e-12)


def test_the_ssm_s_alone_reaches_only_later_steps():
    """The S6's h_t is read at step t only; s_t at every later step: patching s at the last step
    changes nothing, patching h there changes everything."""
    w = weights_of(model_of("ssm"))
    s_only = patch(w, [1, 2, 3], [3, 2, 1], state="s")
    h_only = patch(w, [1, 2, 3], [3, 2, 1], state="h")
    assert s_only.effect[:, -1] == pytest.approx([0.0, 0.0], abs=1e-12)
    assert h_only.effect[-1, -1] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("arch", "state"), [("ssm", "s"), ("ssm", "both"), ("minlstm", "h")])
def test_unit_effects_are_direct_reruns_with_one_unit_replaced(arch, state):
    m = model_of(arch, layers=1)
    w, clean, corrupt = weights_of(m), [1, 2, 3, 4], [4, 3, 2, 1]
    p = patch(w, clean, corrupt, state=state)
    units = unit_effects(w, clean, corrupt, p, 0, 2)
    la, sa = direct(m, clean)
    lb, sb = direct(m, corrupt)
    k = p.target_id
    for j in range(5):
        h, s = sb[2][0][0].copy(), sb[2][0][1].copy()
        if state in ("h", "both"):
            h[j] = sa[2][0][0][j]
        if state in ("s", "both"):
            s[j] = sa[2][0][1][j]  # the channel's whole row of N numbers
        lp, _ = direct(m, corrupt, (0, 2, h, s if arch == "ssm" else None))
        assert units[j] == pytest.approx((lp[k] - lb[k]) / (la[k] - lb[k]), abs=1e-9)


def test_what_each_cell_can_patch_and_one_line_refusals():
    assert states("lstm") == ("h", "c", "both") and states("ssm") == ("h", "s", "both")
    assert states("mingru") == states("gru") == ("h", "both")
    for arch, state, said in (
        ("ssm", "c", "an S6 has no cell state c: patch s (its state), h (its output) or both"),
        ("mingru", "s", "a minGRU has no state s: patch h (its whole state)"),
        ("minlstm", "c", "a minLSTM has no cell state c: patch h (its whole state)"),
        ("lstm", "s", "an LSTM has no state s: patch h, c or both"),
    ):
        with pytest.raises(ConfigError) as err:
            patch(weights_of(model_of(arch, 1)), [1, 2], [2, 1], state=state)
        assert str(err.value) == said


def test_the_patch_command_patches_the_s6_state(tmp_path):
    from rnnviz.core.checkpoint import save_checkpoint
    from rnnviz.core.corpus import Corpus

    corpus = Corpus.from_text("the cat sat on the mat. " * 5, "char")
    torch.manual_seed(1)
    m = CharRNN(ModelConfig(vocab_size=len(corpus.vocab), arch="ssm", hidden=6, state=4))
    path = tmp_path / "s6.safetensors"
    save_checkpoint(path, m.cfg, corpus.vocab, state_arrays(m))
    out = run("patch", str(path), "--clean", "a mat", "--corrupt", "the cat", "--state", "s", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    ids = corpus.vocab.ids
    want = patch(weights_of(m.double()), ids(list("a mat")), ids(list("the cat")), state="s")
    assert doc["state"] == "s" and doc["target"] == corpus.vocab.tokens[want.target_id]
    np.testing.assert_allclose(doc["effect"][0][2:], want.effect[0, 2:], rtol=1e-6, atol=1e-9)
    bad = run("patch", str(path), "--clean", "a mat", "--corrupt", "the cat", "--state", "c")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "an S6 has no cell state c: patch s (its state), h (its output) or both" in bad.stderr
