"""minGRU, minLSTM and the selective SSM: the scans against the step-by-step recurrence, and the
float64 replay (core.cells_modern, through core.trace and the typing path) against autograd."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnviz.core.config import ModelConfig
from rnnviz.core.errors import ConfigError
from rnnviz.core.fasttrace import FastTracer
from rnnviz.core.intervene import Intervention
from rnnviz.core.model import CharRNN, state_arrays
from rnnviz.core.modern import fused_scan, linear_scan, selective_scan, step_scan
from rnnviz.core.trace import TraceWeights, trace

MODERN = ("mingru", "minlstm", "ssm")


def _rand(*shape):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("shape", [(3, 37, 5), (2, 20, 4, 3)])
@pytest.mark.parametrize("chunk", [1, 8, 16])
def test_scans_equal_the_step_by_step_recurrence(shape, chunk):
    torch.manual_seed(0)
    log_a = F.logsigmoid(torch.randn(*shape, dtype=torch.float64) * 3).requires_grad_()
    b, s0 = _rand(*shape), _rand(shape[0], *shape[2:])
    ref = step_scan(log_a, b, s0)
    weights = torch.randn(*shape, dtype=torch.float64)
    ref_grads = torch.autograd.grad((ref * weights).sum(), (log_a, b, s0))
    for scan in (lambda *a: linear_scan(*a, chunk=chunk), fused_scan):
        out = scan(log_a, b, s0)
        assert torch.allclose(out, ref, rtol=1e-5, atol=1e-10)
        grads = torch.autograd.grad((out * weights).sum(), (log_a, b, s0))
        for g, r in zip(grads, ref_grads, strict=True):
            assert torch.allclose(g, r, rtol=1e-5, atol=1e-10)


def test_the_fused_selective_scan_equals_the_recurrence_and_its_autograd():
    torch.manual_seed(1)
    Bsz, T, H, N = 2, 9, 5, 3
    delta = F.softplus(torch.randn(Bsz, T, H, dtype=torch.float64)).requires_grad_()
    A = (-torch.rand(H, N, dtype=torch.float64) * 2).requires_grad_()
    du, Bm, Cm, s0 = _rand(Bsz, T, H), _rand(Bsz, T, N), _rand(Bsz, T, N), _rand(Bsz, H, N)
    args = (delta, A, du, Bm, Cm, s0)
    assert torch.autograd.gradcheck(selective_scan, args)
    y, last = selective_scan(*args)
    S = step_scan(delta.unsqueeze(-1) * A, du.unsqueeze(-1) * Bm.unsqueeze(-2), s0)
    assert torch.allclose(y, (S * Cm.unsqueeze(-2)).sum(-1), atol=1e-12)
    assert torch.allclose(last, S[:, -1], atol=1e-12)


@pytest.mark.parametrize("arch", MODERN)
def test_the_model_trains_the_same_with_every_scan(arch):
    """The model's own forward (fused on the CPU) and the parallel scan give the step-by-step numbers."""
    torch.manual_seed(2)
    cfg = ModelConfig(11, arch, layers=2, hidden=6, state=4, input="embedding", embed_dim=5)
    m = CharRNN(cfg).double()
    ids = torch.randint(0, 11, (3, 21))
    x = m.embed(ids)
    ref, ref_state = m.rnn(x, None, step_scan)
    for out, state in (m.rnn(x), m.rnn(x, None, lambda la, b, s0: linear_scan(la, b, s0, 4))):
        assert torch.allclose(out, ref, rtol=1e-5, atol=1e-10)
        assert torch.allclose(state, ref_state, rtol=1e-5, atol=1e-10)
    # a second chunk of a stream continues from the state the first ended in
    whole, _ = m.rnn(x)
    first, st = m.rnn(x[:, :10])
    second, _ = m.rnn(x[:, 10:], st)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-10)


def test_checkpoint_names_are_the_issue_s():
    names = set(CharRNN(ModelConfig(5, "ssm", layers=2, hidden=4, state=3)).state_dict())
    layer = {"in_proj.weight", "in_proj.bias", "gate.weight", "gate.bias", "delta.weight", "delta.bias",
             "B.weight", "C.weight", "A_log", "D"}  # fmt: skip
    assert names == {f"rnn.l{n}.{k}" for n in range(2) for k in layer} | {"head.weight", "head.bias"}
    head = {"head.weight", "head.bias"}
    assert set(CharRNN(ModelConfig(5, "mingru")).state_dict()) == {
        f"rnn.l0.{g}.{p}" for g in "zh" for p in ("weight", "bias")} | head  # fmt: skip
    assert {k for k in CharRNN(ModelConfig(5, "minlstm")).state_dict() if k.startswith("rnn")} == {
        f"rnn.l0.{g}.{p}" for g in "fih" for p in ("weight", "bias")}  # fmt: skip


# ---- the replay against autograd -----------------------------------------------------------------


def _autograd(m: CharRNN, ids, target_step, target_id, edits=None):
    """Step by step in torch (float64) with the model's own submodules: every h_t (and s_t) a node
    whose .grad is the total dL/dh_t; L = -log p_s(target). edits: layer -> what -> (mask, value)."""
    cfg, edits = m.cfg, edits or {}
    x = F.one_hot(torch.tensor(ids), cfg.vocab_size).double().requires_grad_()
    inp, hs, ss, gates = x, [], [], []
    for n in range(cfg.layers):
        lay, e = getattr(m.rnn, f"l{n}"), edits.get(n, {})

        def force(v, what, e=e):
            if what not in e:
                return v
            mask, value = e[what]
            return torch.where(torch.tensor(mask), torch.tensor(value, dtype=v.dtype), v)

        h = torch.zeros(cfg.hidden, dtype=torch.float64)
        s = torch.zeros(cfg.hidden, cfg.state, dtype=torch.float64)
        layer_h, layer_s, layer_g = [], [], {}
        if cfg.arch == "mingru":
            layer_g["z"] = force(torch.sigmoid(lay.z(inp)), "z")
        elif cfg.arch == "minlstm":
            f, i = torch.sigmoid(lay.f(inp)), torch.sigmoid(lay.i(inp))
            layer_g["f"], layer_g["i"] = force(f / (f + i), "f"), force(i / (f + i), "i")
        else:
            u = lay.in_proj(inp)
            layer_g["delta"] = force(F.softplus(lay.delta(u)), "delta")
            layer_g["B"], layer_g["C"] = lay.B(u), lay.C(u)
            A = -torch.exp(lay.A_log)
        for t in range(len(ids)):
            if cfg.arch == "mingru":
                z = layer_g["z"][t]
                h = (1 - z) * h + z * lay.h(inp[t])
            elif cfg.arch == "minlstm":
                h = layer_g["f"][t] * h + layer_g["i"][t] * lay.h(inp[t])
            else:
                d = layer_g["delta"][t]
                s = torch.exp(d[:, None] * A) * s + (d * u[t])[:, None] * layer_g["B"][t][None, :]
                if "s" in e:
                    s = torch.where(torch.tensor(e["s"][0])[:, None], torch.tensor(e["s"][1]).double(), s)
                s.retain_grad()
                layer_s.append(s)
                h = (s @ layer_g["C"][t] + lay.D * u[t]) * F.silu(lay.gate(inp[t]))
            h = force(h, "h")
            h.retain_grad()
            layer_h.append(h)
        hs.append(layer_h)
        ss.append(layer_s)
        gates.append(layer_g)
        inp = torch.stack(layer_h)
    logits = m.head(inp)
    probs = torch.softmax(logits, -1)
    (-torch.log(probs[target_step, target_id])).backward()

    def grad(v):
        return v.grad.numpy() if v.grad is not None else np.zeros(tuple(v.shape))

    ssm = cfg.arch == "ssm"
    return dict(
        h=np.array([[v.detach().numpy() for v in layer] for layer in hs]),
        dh=np.array([[grad(v) for v in layer] for layer in hs]),
        state=np.array([[v.detach().numpy() for v in layer] for layer in ss]) if ssm else None,
        grad_state=np.array([[np.linalg.norm(grad(v)) for v in layer] for layer in ss]) if ssm else None,
        gates={g: np.stack([lg[g].detach().numpy() for lg in gates]) for g in gates[0]},
        probs=probs.detach().numpy(),
        attribution=(x.grad**2).sum(-1).numpy(),
    )  # fmt: skip


def _lively(m: CharRNN) -> CharRNN:
    """Weights livelier than the initialisation (larger Delta, so the SSM's state moves)."""
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return m


def _model(arch, layers, seed=3):
    torch.manual_seed(seed)
    return _lively(CharRNN(ModelConfig(9, arch, layers=layers, hidden=6, state=4)).double())


def _agree(tr, ref):
    np.testing.assert_allclose(tr.h, ref["h"], atol=1e-10)
    np.testing.assert_allclose(tr.probs, ref["probs"], atol=1e-10)
    for g, v in ref["gates"].items():
        np.testing.assert_allclose(tr.gates[g], v, atol=1e-10)
    np.testing.assert_allclose(tr.dh, ref["dh"], atol=1e-10)
    np.testing.assert_allclose(tr.grad_h, np.linalg.norm(ref["dh"], axis=-1), atol=1e-10)
    np.testing.assert_allclose(tr.attribution, ref["attribution"], atol=1e-10)
    if ref["state"] is not None:
        np.testing.assert_allclose(tr.state, ref["state"], atol=1e-10)
        np.testing.assert_allclose(tr.grad_state, ref["grad_state"], atol=1e-10)
        assert tr.grad_state.max() > 1e-6  # the state does carry the gradient back


@pytest.mark.parametrize("arch", MODERN)
@pytest.mark.parametrize("layers", [1, 2])
def test_the_replay_and_the_typing_path_equal_autograd(arch, layers):
    m = _model(arch, layers)
    w = TraceWeights.from_state(m.cfg, state_arrays(m))
    ids = [1, 4, 2, 8, 8, 3, 5, 1, 7, 2]
    ref = _autograd(m, ids, target_step=7, target_id=4)
    _agree(trace(w, ids, target_step=7, target_id=4), ref)
    fast = FastTracer(w)
    fast.trace(np.array(ids[:6] + [0, 0]))  # an earlier text that shares 6 tokens: kept, then extended
    _agree(fast.trace(np.array(ids), target_step=7, target_id=4), ref)
    forward_only = fast.trace(np.array(ids), target_step=7, target_id=4, gradients=False)
    assert not forward_only.gradients and forward_only.dh is None
    np.testing.assert_allclose(forward_only.h, ref["h"], atol=1e-10)


@pytest.mark.parametrize(
    "arch, what, value",
    [("mingru", "z", 0.0), ("mingru", "h", 0.5), ("minlstm", "f", 1.0), ("minlstm", "i", 0.2),
     ("ssm", "delta", 0.0), ("ssm", "s", 0.0), ("ssm", "h", -1.0)],
)  # fmt: skip
def test_interventions_equal_autograd_of_the_edited_network(arch, what, value):
    m = _model(arch, 2)
    w = TraceWeights.from_state(m.cfg, state_arrays(m))
    units = (1, 4)
    mask = np.zeros(6, dtype=bool)
    mask[list(units)] = True
    ids = [2, 5, 5, 1, 7, 3, 8]
    ref = _autograd(m, ids, 6, 2, edits={0: {what: (mask, value)}})
    _agree(
        trace(w, ids, target_step=6, target_id=2, interventions=[Intervention(0, what, value, units)]), ref
    )


def test_what_an_intervention_may_change_in_each_cell():
    ssm = ModelConfig(5, "ssm", hidden=4)
    with pytest.raises(ConfigError, match="no 'B' to change"):
        Intervention(0, "B", 0.5).check(ssm)
    with pytest.raises(ConfigError, match=r"delta can be set to a value in \[0, 10\]"):
        Intervention(0, "delta", -1.0).check(ssm)
    with pytest.raises(ConfigError, match="no 's' to change"):
        Intervention(0, "s", 0.0).check(ModelConfig(5, "mingru", hidden=4))
    Intervention(0, "f", 1.0).check(ModelConfig(5, "minlstm", hidden=4))


def test_the_ssm_state_size_is_checked():
    with pytest.raises(ConfigError, match="state size must be a whole number from 1 to 256"):
        ModelConfig(5, "ssm", state=0)


# ---- the README's plain-torch module -------------------------------------------------------------


def _readme_module():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## The modern cells", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return code, namespace["load"]


@pytest.mark.parametrize("arch", MODERN)
@pytest.mark.parametrize("layers, input", [(1, "onehot"), (2, "embedding")])
def test_the_readme_module_loads_each_checkpoint_and_reproduces_its_outputs(tmp_path, arch, layers, input):
    from rnnviz.core.checkpoint import save_checkpoint
    from rnnviz.core.corpus import Vocab

    code, load = _readme_module()
    assert len(code.strip().splitlines()) <= 40  # about thirty lines, as the README says
    torch.manual_seed(4)
    vocab = Vocab(("<unk>", *"abcdefg "), "char")
    cfg = ModelConfig(len(vocab.tokens), arch, layers=layers, hidden=7, state=5, input=input, embed_dim=4)
    m = _lively(CharRNN(cfg))
    path = tmp_path / f"{arch}.safetensors"
    save_checkpoint(path, cfg, vocab, state_arrays(m))
    logits_of, tokens = load(str(path))
    ids = [1, 3, 3, 8, 2, 5, 1, 7, 6]
    with torch.no_grad():
        ours, _ = m(torch.tensor([ids]))
        theirs = logits_of(ids)
    assert tokens == list(vocab.tokens)
    torch.testing.assert_close(theirs, ours[0], rtol=1e-4, atol=1e-5)


def test_the_notebook_picture_shows_the_ssm_state_and_its_gates_on_their_own_scales():
    from rnnviz.core.picture import blocks, levels, trace_png

    m = _model("ssm", 2)
    tr = trace(TraceWeights.from_state(m.cfg, state_arrays(m)), [1, 4, 2, 8, 8, 3])
    drawn = {title: (v, kind) for title, v, kind in blocks(tr)}
    norms, kind = drawn["||s||, layer 2"]
    np.testing.assert_allclose(norms, np.linalg.norm(tr.state[1], axis=-1).T)
    assert kind == "positive" and levels(norms, kind) == (0.0, norms.max())
    assert drawn["B, layer 2"][0].shape == (4, 6) and drawn["B, layer 2"][1] == "signed"  # N rows
    assert drawn["delta, layer 2"][1] == "positive"
    assert trace_png(tr)[:8] == b"\x89PNG\r\n\x1a\n"
