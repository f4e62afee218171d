"""Who listens to whom (core.listen) against direct computations: the parts of the linear
recurrences add up to h_t and equal a re-run of the network fed one token at a time (and, in layer
0, the products of decays written out); the SSM channel's hidden attention equals its triple sum
and rebuilds h_t; the classic cells' Jacobian norms equal torch autograd's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from reference import _cell

from rnnviz.core.config import ModelConfig
from rnnviz.core.errors import RnnvizError
from rnnviz.core.intervene import Intervention
from rnnviz.core.listen import ATTENTION, JACOBIAN, PARTS, Listener, listen
from rnnviz.core.model import CharRNN, state_arrays
from rnnviz.core.trace import TraceWeights, forward, trace

IDS = [1, 4, 2, 8, 8, 3, 5, 1, 7, 2, 6]
MODERN_EDITS = {
    "mingru": [Intervention(0, "z", 0.3, (1, 2)), Intervention(1, "h", 0.5, (0,))],
    "minlstm": [Intervention(0, "f", 1.0, (0, 3)), Intervention(1, "h", -0.2, (4,))],
    "ssm": [Intervention(0, "delta", 0.7, (1,)), Intervention(0, "s", 0.4, (2,)), Intervention(1, "h", 0.1)],
}
CLASSIC_EDITS = {
    "rnn": [Intervention(0, "h", 0.2, (1,))],
    "lstm": [
        Intervention(0, "f", 1.0, (0, 2)),
        Intervention(1, "o", 0.5, (3,)),
        Intervention(0, "h", 0.0, (4,)),
    ],
    "gru": [
        Intervention(0, "z", 0.9, (1,)),
        Intervention(1, "n", 0.1, (2,)),
        Intervention(1, "r", 0.0, (0,)),
    ],
}


def _weights(arch, layers=2, seed=3, **kw) -> TraceWeights:
    torch.manual_seed(seed)
    cfg = ModelConfig(9, arch, layers=layers, hidden=6, state=4, **kw)
    m = CharRNN(cfg).double()
    with torch.no_grad():  # livelier than the initialisation
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return TraceWeights.from_state(cfg, state_arrays(m))


# ---- minGRU, minLSTM, the SSM: exact parts -------------------------------------------------------


def _rerun_one_token(w: TraceWeights, ids, r: int, layer: int, interventions) -> np.ndarray:
    """Token r's part of h^layer_t for every t: the network re-run with each layer's gates as
    computed on the whole text, fed token r's input (and the biases added at step r) only; a value
    clamped at step r is r's."""
    from rnnviz.core.intervene import layer_edits

    fwd, edits, T = forward(w, ids, interventions=interventions), layer_edits(interventions, w.cfg), len(ids)
    x = np.zeros((T, w.layer_input(ids).shape[1]))
    x[r] = w.layer_input(ids)[r]
    for n in range(layer + 1):
        lw, f, e, at_r = w.layers[n], fwd[n], edits[n], np.arange(T) == r
        out, h = np.zeros((T, w.cfg.hidden)), np.zeros(w.cfg.hidden)
        s = np.zeros((w.cfg.hidden, w.cfg.state))
        for t in range(T):
            if w.cfg.arch == "ssm":
                u = lw["in_proj.weight"] @ x[t] + at_r[t] * lw["in_proj.bias"]
                s = f["dA"][t] * s + np.outer(f["gates"]["delta"][t] * u, f["gates"]["B"][t])
                if "s" in e:
                    s[e["s"][0]] = e["s"][1] * at_r[t]
                h = (s @ f["gates"]["C"][t] + lw["D"] * u) * f["gate"][t]
            else:
                cand = lw["h.weight"] @ x[t] + at_r[t] * lw["h.bias"]
                g = f["gates"]
                a, b = (1 - g["z"][t], g["z"][t]) if "z" in g else (g["f"][t], g["i"][t])
                h = a * h + b * cand
            if "h" in e:
                h[e["h"][0]] = e["h"][1] * at_r[t]
            out[t] = h
        x = out
    return x


@pytest.mark.parametrize("arch", ["mingru", "minlstm", "ssm"])
@pytest.mark.parametrize("edited", [False, True])
def test_the_parts_add_up_to_h_and_are_each_token_s_own(arch, edited):
    w = _weights(arch)
    ivs = MODERN_EDITS[arch] if edited else []
    tr = trace(w, IDS, interventions=ivs)
    T = len(IDS)
    for layer in (0, 1):
        parts = np.stack([_rerun_one_token(w, IDS, r, layer, ivs) for r in range(T)], 1)  # (t, s, H)
        np.testing.assert_allclose(parts.sum(1), tr.h[layer], atol=1e-10)  # they add up to h_t
        assert np.abs(np.triu(np.linalg.norm(parts, axis=-1), 1)).max() < 1e-12  # nothing from later tokens
        norm, along = (
            listen(w, IDS, layer, interventions=ivs),
            listen(w, IDS, layer, "along", interventions=ivs),
        )
        assert norm.kind == PARTS and not norm.signed and along.signed
        low = np.tril_indices(T)
        np.testing.assert_allclose(norm.alpha[low], np.linalg.norm(parts, axis=-1)[low], atol=1e-10)
        unit = tr.h[layer] / np.linalg.norm(tr.h[layer], axis=-1, keepdims=True)
        np.testing.assert_allclose(along.alpha[low], np.einsum("tsh,th->ts", parts, unit)[low], atol=1e-10)
        np.testing.assert_allclose(
            np.nansum(along.alpha, 1), np.linalg.norm(tr.h[layer], axis=-1), atol=1e-10
        )
        assert np.isnan(norm.alpha[np.triu_indices(T, 1)]).all()


@pytest.mark.parametrize("arch", ["mingru", "minlstm"])
def test_layer_0_parts_are_the_products_of_decays(arch):
    w = _weights(arch, layers=1)
    tr, lw = trace(w, IDS), w.layers[0]
    cand = w.layer_input(IDS) @ lw["h.weight"].T + lw["h.bias"]
    a, b = (
        (1 - tr.gates["z"][0], tr.gates["z"][0]) if arch == "mingru" else (tr.gates["f"][0], tr.gates["i"][0])
    )
    alpha = listen(w, IDS).alpha
    for t in range(len(IDS)):
        for s in range(t + 1):
            decay = np.ones(w.cfg.hidden)
            for k in range(s + 1, t + 1):
                decay = decay * a[k]
            assert alpha[t, s] == pytest.approx(np.linalg.norm(decay * b[s] * cand[s]), abs=1e-12)


def _ssm_inputs(w, tr, layer):
    """u_t and silu(gate_t) of an SSM layer, from its weights and its input (the layer below's h)."""
    lw = w.layers[layer]
    x = w.layer_input(IDS) if layer == 0 else tr.h[layer - 1]
    gpre = x @ lw["gate.weight"].T + lw["gate.bias"]
    return x @ lw["in_proj.weight"].T + lw["in_proj.bias"], F.silu(torch.tensor(gpre)).numpy()


@pytest.mark.parametrize("layer", [0, 1])
def test_an_ssm_channel_s_hidden_attention_is_its_triple_sum_and_rebuilds_h(layer):
    w = _weights("ssm")
    ivs = [Intervention(layer, "delta", 0.5, (3,))]
    tr = trace(w, IDS, interventions=ivs)
    lw, T, (u, gate) = w.layers[layer], len(IDS), _ssm_inputs(w, tr, layer)
    A, delta, B, C = (
        -np.exp(lw["A_log"]),
        tr.gates["delta"][layer],
        tr.gates["B"][layer],
        tr.gates["C"][layer],
    )
    for c in range(w.cfg.hidden):
        got = listen(w, IDS, layer, channel=c, interventions=ivs)
        assert got.kind == ATTENTION and got.signed and got.channel == c
        ref = np.full((T, T), np.nan)
        for t in range(T):
            for s in range(t + 1):
                ref[t, s] = sum(
                    C[t, n] * np.prod([np.exp(delta[k, c] * A[c, n]) for k in range(s + 1, t + 1)])
                    * delta[s, c] * B[s, n]
                    for n in range(w.cfg.state)
                )  # fmt: skip
        np.testing.assert_allclose(got.alpha, ref, atol=1e-12)
        y = np.nansum(ref * u[None, :, c], 1) + lw["D"][c] * u[:, c]  # y_t = sum_s alpha u_s + D u_t
        np.testing.assert_allclose(y * gate[:, c], tr.h[layer][:, c], atol=1e-10)


def test_the_ssm_s_layer_0_parts_are_its_channels_hidden_attention_times_u():
    w = _weights("ssm")
    tr, T, D = trace(w, IDS), len(IDS), w.layers[0]["D"]
    u, gate = _ssm_inputs(w, tr, 0)
    alpha = np.stack([np.nan_to_num(listen(w, IDS, 0, channel=c).alpha) for c in range(w.cfg.hidden)], -1)
    parts = (alpha * u[None] + np.eye(T)[..., None] * D * u[None]) * gate[:, None]  # (t, s, H)
    low = np.tril_indices(T)
    np.testing.assert_allclose(listen(w, IDS).alpha[low], np.linalg.norm(parts, axis=-1)[low], atol=1e-10)


# ---- RNN, LSTM, GRU: the Jacobian norm ------------------------------------------------------------


def _autograd_norms(w: TraceWeights, ids, layer: int, interventions=()) -> np.ndarray:
    """||dh^layer_t / dx_s||_F from torch.autograd.functional.jacobian of a step-by-step torch re-run
    (tests/reference.py's cells) as a function of every input x_s at once."""
    from rnnviz.core.intervene import layer_edits

    cfg = w.cfg
    edits = [{k: (torch.tensor(m), v) for k, (m, v) in e.items()} for e in layer_edits(interventions, cfg)]
    W = [[torch.tensor(a) for a in (lw.w_ih, lw.w_hh, lw.b_ih, lw.b_hh)] for lw in w.layers]

    def run(xs):  # (T, D) -> (T, H)
        inp = list(xs)
        for n in range(layer + 1):
            h = c = torch.zeros(cfg.hidden, dtype=torch.float64)
            out = []
            for x in inp:
                h, c, _ = _cell(cfg.arch, cfg.nonlinearity, x, h, c, *W[n], edits[n])
                out.append(h)
            inp = out
        return torch.stack(inp)

    J = torch.autograd.functional.jacobian(run, torch.tensor(w.layer_input(np.asarray(ids))))  # (T, H, T, D)
    norms = torch.linalg.norm(J, dim=(1, 3)).numpy()
    return np.where(np.tri(len(ids), dtype=bool), norms, np.nan)


@pytest.mark.parametrize(
    "arch, kw",
    [("rnn", {}), ("rnn", {"nonlinearity": "relu"}), ("lstm", {}), ("gru", {}),
     ("lstm", {"input": "embedding", "embed_dim": 5}), ("gru", {"input": "embedding", "embed_dim": 5})],
)  # fmt: skip
@pytest.mark.parametrize("edited", [False, True])
def test_the_jacobian_norms_equal_autograd(arch, kw, edited):
    w = _weights(arch, **kw)
    ivs = CLASSIC_EDITS[arch] if edited else []
    for layer in (0, 1):
        ref = _autograd_norms(w, IDS, layer, ivs)
        assert np.abs(np.triu(np.nan_to_num(ref), 1)).max() == 0  # (no step hears a later token)
        got = listen(w, IDS, layer, interventions=ivs)
        assert got.kind == JACOBIAN and not got.signed and "not an attention" in got.label
        np.testing.assert_allclose(got.alpha, ref, rtol=1e-9, atol=1e-12)
        single = Listener(w, np.float32).listen(IDS, layer, interventions=ivs)  # the app's precision
        np.testing.assert_allclose(single.alpha, ref, rtol=2e-4, atol=1e-6)


# ---- the Listener: a text that grows, shrinks, changes; cancelled ---------------------------------


@pytest.mark.parametrize("arch", ["lstm", "gru", "minlstm", "ssm"])
def test_the_listener_keeps_its_work_and_agrees_with_a_fresh_computation(arch, monkeypatch):
    w = _weights(arch)
    lis = Listener(w)
    texts = [IDS[:1], IDS[:4], IDS[:5], IDS[:3], IDS[:6], IDS[:6] + [0, 2], IDS, IDS[:2] + [5] + IDS[3:]]
    for ids in texts:
        for layer in (1, 0):
            got = lis.listen(ids, layer)
            assert got is not None
            np.testing.assert_allclose(got.alpha, listen(w, ids, layer).alpha, rtol=1e-12, atol=1e-14)
    steps: list[int] = []  # a changed last token costs one step (the Listener keeps the one before)
    run_type = type(lis._run)
    step = run_type.step
    monkeypatch.setattr(
        run_type, "step", lambda run, *a: (run is lis._run and steps.append(1)) or step(run, *a)
    )
    lis.listen(IDS, 0)
    steps.clear()
    for ids, cost in ((IDS[:-1] + [3], 1), (IDS[:-1] + [5], 1), (IDS, 1), (IDS[:-3] + [0, 1, 2], len(IDS))):
        np.testing.assert_allclose(lis.listen(ids, 0).alpha, listen(w, ids).alpha, rtol=1e-12, atol=1e-14)
        assert len(steps) == cost
        steps.clear()
    monkeypatch.undo()
    calls: list[int] = []
    lis.listen(IDS, 0)
    assert lis.listen(IDS + [3, 3, 3], 0, cancelled=lambda: calls.append(1) or len(calls) > 2) is None
    assert len(lis.ids) == len(IDS) + 2  # the steps done are kept: 2 of the 3 new ones
    np.testing.assert_allclose(lis.listen(IDS + [3, 3, 3, 1], 0).alpha, listen(w, IDS + [3, 3, 3, 1]).alpha,
                               rtol=1e-12, atol=1e-14)  # fmt: skip
    ivs = [Intervention(0, "h", 0.0, (0,))]
    again = lis.listen(IDS, 0, interventions=ivs)
    assert again is not None
    np.testing.assert_allclose(
        again.alpha, listen(w, IDS, 0, interventions=ivs).alpha, rtol=1e-12, atol=1e-14
    )


def test_what_cannot_be_listened_to_is_said_in_one_line():
    lstm, ssm = _weights("lstm"), _weights("ssm")
    for w, kw, msg in [
        (lstm, {"layer": 2}, "layer must be 1 to 2, not 3"),
        (lstm, {"measure": "along"}, "measured as norm"),
        (lstm, {"channel": 0}, "channels are chosen in S6 models only"),
        (ssm, {"channel": 6}, "channel must lie in 0..5"),
        (ssm, {"measure": "sum"}, "measured as norm or along"),
    ]:
        with pytest.raises(RnnvizError, match=msg):
            listen(w, IDS, **kw)
    with pytest.raises(RnnvizError, match="empty"):
        listen(lstm, [])
    with pytest.raises(RnnvizError, match="token ids must lie in 0..8"):
        listen(lstm, [1, 9])


def test_the_json_document_holds_each_row_up_to_the_diagonal():
    w = _weights("ssm")
    doc = listen(w, IDS[:4], 1, tokens="abcd").to_json()
    assert doc["layer"] == 2 and doc["kind"] == PARTS and doc["tokens"] == list("abcd")
    assert [len(r) for r in doc["alpha"]] == [1, 2, 3, 4]
    assert "channel" not in doc and listen(w, IDS[:4], channel=1).to_json()["channel"] == 1


# ---- the command line and the Python API ---------------------------------------------------------


def test_rnnviz_listen_prints_the_matrix_and_refuses_bad_input_in_one_line(tmp_path):
    from test_cli import one_line_error, run

    from rnnviz.api import Model
    from rnnviz.core.corpus import Vocab

    vocab = Vocab(("<unk>", " ", "a", "c", "e", "l", "m", "o", "w"), "char")
    w = _weights("ssm")
    state = {k: np.asarray(v, np.float32) for k, v in state_arrays(CharRNN(w.cfg)).items()}
    model = Model(w.cfg, vocab, state)
    path = tmp_path / "m.safetensors"
    model.save(path)
    doc = json.loads(run("listen", path, "--text", "welcome", "--layer", "2", "--json").stdout)
    ref = model.listen("welcome", 1)
    assert doc["layer"] == 2 and doc["tokens"] == list("welcome") and doc["label"] == ref.label
    for t, row in enumerate(doc["alpha"]):
        np.testing.assert_allclose(row, ref.alpha[t, : t + 1], rtol=1e-12)
    channel = json.loads(run("listen", path, "--text", "welcome", "--channel", "3", "--json").stdout)
    np.testing.assert_allclose(channel["alpha"][-1], model.listen("welcome", channel=3).alpha[-1], rtol=1e-12)
    table = run("listen", path, "--text", "come", "--measure", "along").stdout.splitlines()
    assert table[0] == model.listen("come", measure="along").label and table[2].split()[1] == "'c'"
    one_line_error(
        run("listen", path, "--text", "welcome", "--layer", "3", check_ok=False), "layer must be 1 to 2"
    )
    one_line_error(run("listen", path, "--text", "wxyz", check_ok=False), "not in the vocabulary")
    one_line_error(
        run("listen", path, "--text", "we", "--channel", "9", check_ok=False), "channel must lie in 0..5"
    )
