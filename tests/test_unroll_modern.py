"""The step-through of minGRU, minLSTM and the S6: every number of the cell panel, forward against the
model's own torch layers, backward against autograd (every h_t and s_t a node whose .grad is the total
derivative; the part from above is the gradient of a zero added to each layer's input)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnviz.core.intervene import Intervention
from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.core.trace import TraceWeights, trace, trace_series
from rnnviz.core.unroll import SUBSTEPS, Frame, backward_detail, cell_detail, frame_detail, frames
from rnnviz.qt.views.equations import LINE_SUB, backward_equations, equations

MODERN = ("mingru", "minlstm", "ssm")
IDS, TARGET = [1, 4, 2, 8, 8, 3, 5, 1], 6


def model(arch, layers=2, **kw):
    torch.manual_seed(5)
    cfg = ModelConfig(kw.pop("vocab", 9), arch, layers=layers, hidden=5, state=3, **kw)
    m = CharRNN(cfg).double()
    with torch.no_grad():  # livelier than the initialisation: the state moves, the gradient lives
        for p in m.parameters():
            p.add_(0.4 * torch.randn_like(p))
    return m, TraceWeights.from_state(cfg, state_arrays(m))


def autograd(m: CharRNN, ids, s: int, tid: int) -> dict:
    """Step by step with the model's torch layers; x + tap (a zero) as each layer's input and the
    head's, so that tap.grad is what arrives from above."""
    cfg = m.cfg
    inp = F.one_hot(torch.tensor(ids), cfg.vocab_size).double()
    out = {k: [] for k in ("h", "s", "z", "f", "i", "delta", "B", "C", "u", "gate", "y", "cand", "taps")}
    x = inp
    for n in range(cfg.layers + 1):
        tap = torch.zeros(x.shape, dtype=torch.float64, requires_grad=True)
        x = x + tap if n else x
        out["taps"].append(tap)
        if n == cfg.layers:
            break
        lay = getattr(m.rnn, f"l{n}")
        h, st, hs, ss = torch.zeros(cfg.hidden, dtype=torch.float64), 0.0, [], []
        for t in range(len(ids)):
            if cfg.arch == "mingru":
                z, cand = torch.sigmoid(lay.z(x[t])), lay.h(x[t])
                h = (1 - z) * h + z * cand
                out["z"].append(z.detach().numpy())
            elif cfg.arch == "minlstm":
                f, i, cand = torch.sigmoid(lay.f(x[t])), torch.sigmoid(lay.i(x[t])), lay.h(x[t])
                h = f / (f + i) * h + i / (f + i) * cand
                out["f"].append((f / (f + i)).detach().numpy())
                out["i"].append((i / (f + i)).detach().numpy())
            else:
                u = lay.in_proj(x[t])
                d, Bm, Cm = F.softplus(lay.delta(u)), lay.B(u), lay.C(u)
                st = torch.exp(d[:, None] * -torch.exp(lay.A_log)) * st + (d * u)[:, None] * Bm[None, :]
                st.retain_grad()
                ss.append(st)
                y = st @ Cm + lay.D * u
                gate = F.silu(lay.gate(x[t]))
                h = y * gate
                for k, v in (("delta", d), ("B", Bm), ("C", Cm), ("u", u), ("gate", gate), ("y", y)):
                    out[k].append(v.detach().numpy())
            if cfg.arch != "ssm":
                out["cand"].append(cand.detach().numpy())
            h.retain_grad()
            hs.append(h)
        out["h"].append(hs)
        out["s"].append(ss)
        x = torch.stack(hs)
    logits = m.head(x)
    (-torch.log_softmax(logits[s], -1)[tid]).backward()
    g = {"dh": np.array([[v.grad.numpy() if v.grad is not None else np.zeros(cfg.hidden) for v in hs]
                         for hs in out["h"]]),
         "above": [tap.grad.numpy() for tap in out["taps"][1:]]}  # fmt: skip
    if cfg.arch == "ssm":
        g["ds"] = np.array([[v.grad.numpy() for v in ss] for ss in out["s"]])
        g["s"] = np.array([[v.detach().numpy() for v in ss] for ss in out["s"]])
    T = len(ids)
    for k in ("z", "f", "i", "delta", "B", "C", "u", "gate", "y", "cand"):
        if out[k]:
            g[k] = np.array(out[k]).reshape(cfg.layers, T, -1)
    g["h"] = np.array([[v.detach().numpy() for v in hs] for hs in out["h"]])
    return g


@pytest.mark.parametrize("arch", MODERN)
def test_frames_and_equation_lines_of_the_modern_cells(arch):
    _, w = model(arch)
    tr = trace(w, [1, 2, 3, 4, 5], target_step=3)
    n = len(SUBSTEPS[arch])
    detailed = frames(tr, detail=True)
    assert len(detailed) == 5 * n + 4 and detailed[n] == Frame("forward", 1, 0)
    assert max(LINE_SUB[arch]) == n - 1 and sorted(set(LINE_SUB[arch])) == list(range(n))
    d = cell_detail(w, tr, 1, 2, 4)
    assert len(equations(arch, "tanh", d)) == len(LINE_SUB[arch])  # a sub-step for every line
    caption = Frame("backward", 1).caption(tr)
    norms = tr.grad_state if arch == "ssm" else tr.grad_h
    assert f"||dL/d{'s' if arch == 'ssm' else 'h'}_t|| = {norms[0, 1]:.2e}" in caption
    assert Frame("forward", 2, 1).caption(tr).endswith(SUBSTEPS[arch][1])


@pytest.mark.parametrize("arch", ["mingru", "minlstm"])
@pytest.mark.parametrize("layer", [0, 1])
def test_the_forward_numbers_are_the_torch_layers(arch, layer):
    m, w = model(arch)
    tr = trace(w, IDS, target_step=TARGET)
    ref = autograd(m, IDS, TARGET, tr.target_id)
    lay = getattr(m.rnn, f"l{layer}")
    x = F.one_hot(torch.tensor(IDS), 9).double() if layer == 0 else torch.tensor(ref["h"][layer - 1])
    for t in range(len(IDS)):
        for u in range(5):
            d = cell_detail(w, tr, layer, t, u)
            h_prev = ref["h"][layer, t - 1, u] if t else 0.0
            assert d["h"] == pytest.approx(ref["h"][layer, t, u], abs=1e-12)
            assert d["h_prev"] == pytest.approx(h_prev, abs=1e-12)
            assert d["cand"] == pytest.approx(ref["cand"][layer, t, u], abs=1e-12)
            for g in ("z",) if arch == "mingru" else ("f", "i"):
                pre = float(getattr(lay, g)(x[t])[u].detach())
                assert d[f"{g}_pre"] == pytest.approx(pre, abs=1e-12)
                assert d[g] == pytest.approx(ref[g][layer, t, u], abs=1e-12)
            if arch == "mingru":
                assert d["z"] == pytest.approx(1 / (1 + np.exp(-d["z_pre"])), abs=1e-12)
                assert (1 - d["z"]) * d["h_prev"] + d["z"] * d["cand"] == pytest.approx(d["h"], abs=1e-12)
            else:
                f, i = 1 / (1 + np.exp(-d["f_pre"])), 1 / (1 + np.exp(-d["i_pre"]))
                assert (d["f_raw"], d["i_raw"]) == pytest.approx((f, i), abs=1e-12)
                assert d["f"] == pytest.approx(f / (f + i), abs=1e-12)
                assert d["f"] * d["h_prev"] + d["i"] * d["cand"] == pytest.approx(d["h"], abs=1e-12)


@pytest.mark.parametrize("layer", [0, 1])
def test_the_ssm_forward_numbers_are_the_torch_layers(layer):
    m, w = model("ssm")
    tr = trace(w, IDS, target_step=TARGET)
    ref = autograd(m, IDS, TARGET, tr.target_id)
    lay = getattr(m.rnn, f"l{layer}")
    A = -torch.exp(lay.A_log).detach().numpy()
    D = lay.D.detach().numpy()
    for t in range(len(IDS)):
        for u in range(5):
            d = cell_detail(w, tr, layer, t, u)
            s, s_prev = ref["s"][layer, t, u], ref["s"][layer, t - 1, u] if t else np.zeros(3)
            delta, Bm, Cm = ref["delta"][layer, t, u], ref["B"][layer, t], ref["C"][layer, t]
            a = np.exp(delta * A[u])
            n = int(np.argmax(np.abs(s)))
            assert d["u"] == pytest.approx(ref["u"][layer, t, u], abs=1e-12)
            assert d["delta"] == pytest.approx(delta, abs=1e-12) == np.logaddexp(0, d["dpre"])
            assert (d["B_norm"], d["C_norm"]) == pytest.approx(
                (np.linalg.norm(Bm), np.linalg.norm(Cm)), abs=1e-12
            )
            assert (d["a_min"], d["a_max"]) == pytest.approx((a.min(), a.max()), abs=1e-12)
            assert d["n"] == n and d["a_n"] == pytest.approx(a[n], abs=1e-12)
            assert (d["s_prev_n"], d["B_n"], d["s_n"]) == pytest.approx((s_prev[n], Bm[n], s[n]), abs=1e-12)
            assert d["a_n"] * d["s_prev_n"] + d["delta"] * d["u"] * d["B_n"] == pytest.approx(
                d["s_n"], abs=1e-12
            )
            assert (d["s_norm"], d["s_prev_norm"]) == pytest.approx(
                (np.linalg.norm(s), np.linalg.norm(s_prev)), abs=1e-12
            )
            assert d["sC"] == pytest.approx(s @ Cm, abs=1e-12) and d["D"] == pytest.approx(D[u])
            assert d["sC"] + d["D"] * d["u"] == pytest.approx(d["y"], abs=1e-12)
            assert d["y"] == pytest.approx(ref["y"][layer, t, u], abs=1e-12)
            assert d["gate"] == pytest.approx(ref["gate"][layer, t, u], abs=1e-12)
            assert d["gpre"] * (1 / (1 + np.exp(-d["gpre"]))) == pytest.approx(d["gate"], abs=1e-12)
            assert d["y"] * d["gate"] == pytest.approx(d["h"], abs=1e-12) == ref["h"][layer, t, u]


@pytest.mark.parametrize("arch", ["mingru", "minlstm"])
def test_the_backward_numbers_are_autograd(arch):
    m, w = model(arch)
    tr = trace(w, IDS, target_step=TARGET)
    ref = autograd(m, IDS, TARGET, tr.target_id)
    decay = 1 - ref["z"] if arch == "mingru" else ref["f"]
    for layer in range(2):
        for t in range(TARGET + 1):
            for u in range(5):
                d = backward_detail(w, tr, layer, t, u)
                assert d["dh"] == pytest.approx(ref["dh"][layer, t, u], abs=1e-12)
                assert d["from_above"] == pytest.approx(ref["above"][layer][t, u], abs=1e-12)
                if t < TARGET:  # elementwise: the unit's own decay times its own later gradient
                    assert d["decay"] == pytest.approx(decay[layer, t + 1, u], abs=1e-12)
                    assert d["dh_next"] == pytest.approx(ref["dh"][layer, t + 1, u], abs=1e-12)
                    assert d["through_time"] == pytest.approx(d["decay"] * d["dh_next"], abs=1e-15)
                assert d["through_time"] + d["from_above"] == pytest.approx(d["dh"], abs=1e-12)
                assert d["norm"] == pytest.approx(np.linalg.norm(ref["dh"][layer, t]), abs=1e-12)
            assert (d["source"] == "the loss") == (layer == 1 and t == TARGET)
    lines = backward_equations(arch, "tanh", backward_detail(w, tr, 0, 2, 1), 1, TARGET)
    assert "no W_hh^T" in lines[0] and "from layer 2" in lines[0] and len(lines) == 3


def test_the_ssm_backward_numbers_are_autograd():
    """h_t is no state: dL/dh_t is what comes from above; dL/ds_t runs back through the decays."""
    m, w = model("ssm")
    tr = trace(w, IDS, target_step=TARGET)
    ref = autograd(m, IDS, TARGET, tr.target_id)
    A = [-torch.exp(getattr(m.rnn, f"l{n}").A_log).detach().numpy() for n in range(2)]
    for layer in range(2):
        for t in range(TARGET + 1):
            for u in range(5):
                d = backward_detail(w, tr, layer, t, u)
                ds = ref["ds"][layer, t, u]
                n = int(np.argmax(np.abs(ds)))
                assert d["dh"] == pytest.approx(ref["dh"][layer, t, u], abs=1e-12)
                assert d["from_above"] == pytest.approx(ref["above"][layer][t, u], abs=1e-12) == d["dh"]
                assert d["gate"] == pytest.approx(ref["gate"][layer, t, u], abs=1e-12)
                assert d["dy"] == pytest.approx(d["dh"] * d["gate"], abs=1e-15)
                assert d["n"] == n and d["ds_n"] == pytest.approx(ds[n], abs=1e-12)
                assert d["C_n"] == pytest.approx(ref["C"][layer, t, n], abs=1e-12)
                assert d["ds_row"] == pytest.approx(np.linalg.norm(ds), abs=1e-12)
                assert d["norm"] == pytest.approx(np.linalg.norm(ref["ds"][layer, t]), abs=1e-12)
                if t < TARGET:
                    a = np.exp(ref["delta"][layer, t + 1, u] * A[layer][u, n])
                    assert d["a_next"] == pytest.approx(a, abs=1e-12)
                    assert d["ds_next_n"] == pytest.approx(ref["ds"][layer, t + 1, u, n], abs=1e-12)
                    assert d["a_next"] * d["ds_next_n"] + d["dy"] * d["C_n"] == pytest.approx(
                        d["ds_n"], abs=1e-12
                    )
                else:
                    assert d["dy"] * d["C_n"] == pytest.approx(d["ds_n"], abs=1e-12)
    assert tr.grad_state.max() > 1e-4  # the state does carry the gradient back
    lines = backward_equations("ssm", "tanh", backward_detail(w, tr, 0, 2, 1), 1, TARGET)
    assert "h_t is no state" in lines[0] and "dL/ds_(t+1)" in lines[2] and "||dL/ds_t||" in lines[-1]


@pytest.mark.parametrize(
    "arch, what, value",
    [("mingru", "z", 0.0), ("mingru", "h", 0.5), ("minlstm", "f", 1.0), ("ssm", "delta", 0.0),
     ("ssm", "s", 0.0), ("ssm", "h", -1.0)],
)  # fmt: skip
def test_the_panel_follows_the_interventions_the_trace_was_made_with(arch, what, value):
    """With the trace's interventions, every forward equation gives the trace's h (or s) and the
    backward parts add up to the trace's dL/dh (dL/ds): the same network, edited."""
    _, w = model(arch)
    ivs = [Intervention(0, what, value, (1, 3))]
    tr = trace(w, IDS, target_step=TARGET, interventions=ivs)
    for t in range(TARGET + 1):
        for u in range(5):
            f = frame_detail(w, tr, Frame("forward", t), 0, u, ivs)
            b = frame_detail(w, tr, Frame("backward", t), 0, u, ivs)
            if arch == "ssm":
                assert f["s_n"] == pytest.approx(tr.state[0, t, u, f["n"]], abs=1e-12)
                assert f["delta"] == pytest.approx(tr.gates["delta"][0, t, u], abs=1e-12)
                assert b["dh"] == b["from_above"] == pytest.approx(tr.dh[0, t, u], abs=1e-12)
                carried = b["a_next"] * b["ds_next_n"] if t < TARGET else 0.0
                assert carried + b["dy"] * b["C_n"] == pytest.approx(b["ds_n"], abs=1e-12)
            else:
                g = f["z"] if arch == "mingru" else f["f"]
                assert g == pytest.approx(tr.gates["z" if arch == "mingru" else "f"][0, t, u], abs=1e-12)
                clamped = what == "h" and u in (1, 3)
                if not clamped:
                    keep, new = (1 - g, g) if arch == "mingru" else (g, f["i"])
                    assert keep * f["h_prev"] + new * f["cand"] == pytest.approx(tr.h[0, t, u], abs=1e-12)
                assert b["through_time"] + b["from_above"] == pytest.approx(tr.dh[0, t, u], abs=1e-12)


def test_a_value_model_s_panel_adds_up():
    _, w = model("minlstm", layers=1, vocab=0, input="value", output="value")
    tr = trace_series(w, [0.5, -1.0, 2.0, 0.3], target=0.1)
    for t in range(4):
        for u in range(5):
            f, b = cell_detail(w, tr, 0, t, u), backward_detail(w, tr, 0, t, u)
            assert f["f"] * f["h_prev"] + f["i"] * f["cand"] == pytest.approx(f["h"], abs=1e-12)
            assert b["through_time"] + b["from_above"] == pytest.approx(b["dh"], abs=1e-12)
    assert b["source"] == "the loss" and b["from_above"] == pytest.approx(
        (tr.values[3] - 0.1) * w.head_w[0, 4], abs=1e-12
    )
