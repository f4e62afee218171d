"""The gradient lab for minGRU, minLSTM and S6 (and any three of the six), against an independent
computation: the issue's equations written out in torch from the checkpoint's tensors, step by step
(float64), with autograd; the answer accuracy of line samples against a numpy re-run of each line."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from reference import assert_figures_of_the_curve

from rnnviz.core.config import ModelConfig
from rnnviz.core.corpus import Corpus
from rnnviz.core.errors import ConfigError
from rnnviz.core.lab import (
    DECAY_FROM,
    DECAY_POINTS,
    Comparison,
    cell_path_singular_values,
    check_archs,
    decay_per_10,
    state_decays,
    state_jacobians,
    state_sigmas,
    window_gain,
)
from rnnviz.core.model import CharRNN, state_arrays
from rnnviz.core.recall import recall_text
from rnnviz.core.trace import TraceWeights, forward, softmax, trace
from rnnviz.core.train import TrainConfig

MODERN = ("mingru", "minlstm", "ssm")


def _lin(W, name, x):
    out = x @ W[f"{name}.weight"].T
    return out + W[f"{name}.bias"] if f"{name}.bias" in W else out


def cell_step(arch, W, x, state):
    """One step of the issue's equations: (new state, h_t). The state is h (minGRU, minLSTM) or s."""
    if arch == "mingru":
        z = torch.sigmoid(_lin(W, "z", x))
        h = (1 - z) * state + z * _lin(W, "h", x)
        return h, h
    if arch == "minlstm":
        f, i = torch.sigmoid(_lin(W, "f", x)), torch.sigmoid(_lin(W, "i", x))
        h = f / (f + i) * state + i / (f + i) * _lin(W, "h", x)
        return h, h
    u = _lin(W, "in_proj", x)
    delta = F.softplus(_lin(W, "delta", u))
    A = -torch.exp(W["A_log"])
    s = torch.exp(delta[:, None] * A) * state + (delta * u)[:, None] * _lin(W, "B", u)[None, :]
    y = s @ _lin(W, "C", u) + W["D"] * u
    return s, y * F.silu(_lin(W, "gate", x))


def layer_weights(model, n):
    prefix = f"rnn.l{n}."
    return {
        k[len(prefix) :]: v.detach().double().clone().requires_grad_()
        for k, v in model.state_dict().items()
        if k.startswith(prefix)
    }


def autograd_ratios(model, probes) -> np.ndarray:
    """||dL/dstate_(t-k)|| / ||dL/dstate_t|| of the top layer per probe window: (windows, window)."""
    cfg, out = model.cfg, []
    Ws = [layer_weights(model, n) for n in range(cfg.layers)]
    head_w, head_b = model.head.weight.double(), model.head.bias.double()
    for ids, target in probes:
        x = F.one_hot(torch.as_tensor(ids), cfg.vocab_size).double()
        for W in Ws:
            shape = (cfg.hidden, cfg.state) if cfg.arch == "ssm" else (cfg.hidden,)
            state, states, hs = torch.zeros(shape, dtype=torch.float64), [], []
            for t in range(len(ids)):
                state, h = cell_step(cfg.arch, W, x[t], state)
                state.retain_grad()
                states.append(state)
                hs.append(h)
            x = torch.stack(hs)
        loss = F.cross_entropy((x[-1] @ head_w.T + head_b)[None], torch.tensor([target]))
        loss.backward()
        norms = np.array([s.grad.norm().item() for s in states])[::-1]  # the top layer's
        out.append(norms / norms[0])
    return np.array(out)


def test_the_decay_needs_ten_distances_from_ten_on():
    curve = 0.7 ** np.arange(20.0)
    assert np.isnan(decay_per_10(curve[:19], least=DECAY_POINTS))
    assert decay_per_10(curve, least=DECAY_POINTS) == pytest.approx(-10 * np.log10(0.7))
    assert DECAY_FROM + DECAY_POINTS == 20


def test_check_archs_takes_one_to_three_of_the_six():
    assert check_archs("lstm, minGRU,ssm") == ("lstm", "mingru", "ssm")
    assert check_archs(("ssm",)) == ("ssm",)
    for bad, why in (
        ("lstm,gru,rnn,ssm", "1 to 3"),
        ("lstm,lstm", "different"),
        ("lstm,s4", "'s4'"),
        ("", "unknown"),
    ):
        with pytest.raises(ConfigError, match=why):
            check_archs(bad)


@pytest.mark.parametrize("arch, layers", [("mingru", 1), ("minlstm", 1), ("ssm", 2)])
def test_decay_per_10_and_horizons_match_autograd(arch, layers):
    corpus = Corpus.from_text("the keeper counted the ships. (and the stars) were many " * 40, "char")
    cfg = TrainConfig(seq_len=16, batch=4, lr=1e-2)
    lab = Comparison(corpus, 6, layers, cfg, device="cpu", window=24, positions=12, archs=(arch,), state=3)
    for _ in range(5):
        lab.step()
    fig = lab.measure(arch)
    curve = np.exp(np.log(autograd_ratios(lab.trainers[arch].model, lab.probes)).mean(axis=0))
    assert curve[-1] < 0.9  # the gradient does fade: the test can tell a wrong curve
    assert_figures_of_the_curve(fig, curve, 24)
    assert fig.cell_horizon is None and fig.answer_accuracy is None  # no cell state, no line samples


def _tiny(arch, seed=3):
    torch.manual_seed(seed)
    m = CharRNN(ModelConfig(9, arch, layers=2, hidden=4, state=3)).double()
    with torch.no_grad():  # livelier than the initialisation: decays spread over (0, 1)
        for p in m.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return m


@pytest.mark.parametrize("arch", MODERN)
def test_the_state_map_is_diagonal_and_its_spectrum_by_autograd(arch):
    m = _tiny(arch)
    w = TraceWeights.from_state(m.cfg, state_arrays(m))
    ids = [1, 4, 2, 8, 8, 3, 5]
    tr = trace(w, ids)
    for layer in (0, 1):
        W = layer_weights(m, layer)
        xs = torch.tensor(np.eye(9)[ids] if layer == 0 else tr.h[0])
        states = tr.state[layer] if arch == "ssm" else tr.h[layer]
        jacs = []
        for t in range(len(ids)):
            prev = torch.tensor(states[t - 1] if t else np.zeros(states.shape[1:]))
            jac = torch.autograd.functional.jacobian(
                lambda s, x=xs[t], W=W: cell_step(arch, W, x, s)[0], prev
            )
            jacs.append(jac.reshape(prev.numel(), prev.numel()).numpy())
        jacs = np.array(jacs)
        np.testing.assert_allclose(state_jacobians(w, tr, layer), jacs, atol=1e-12)
        np.testing.assert_allclose(
            state_decays(w, tr, layer), np.diagonal(jacs, axis1=1, axis2=2), atol=1e-12
        )
        sig = np.linalg.svd(jacs, compute_uv=False)[:, 0]
        np.testing.assert_allclose(state_sigmas(w, tr, layer), sig, rtol=1e-10)
        diag = np.diagonal(jacs, axis1=1, axis2=2)
        assert np.ptp(diag) > 0.1 and sig.max() < 1  # decays spread in (0, 1): a test that can fail
        prod = np.eye(jacs.shape[1])
        for j in jacs:
            prod = j @ prod
        assert window_gain(w, tr, layer) == pytest.approx(np.linalg.norm(prod, 2), rel=1e-10)
    with pytest.raises(ConfigError, match="not applicable"):
        cell_path_singular_values(tr)


def test_answer_accuracy_of_line_samples_by_running_each_held_out_line():
    """The accuracy on the answers only: every held-out line read up to its query by the numpy replay,
    right when its argmax is the line's last character; the probes are those lines."""
    text = recall_text(lines=200, pairs=3, seed=2)
    corpus = Corpus.from_text(text, "char", "builtin:recall")
    cfg = TrainConfig(batch=16, lr=1e-2, samples="lines", loss_mode="many-to-one", val_fraction=0.25)
    lab = Comparison(corpus, 8, 1, cfg, device="cpu", positions=5, archs=("lstm", "ssm"), state=4)
    for _ in range(30):
        lab.step()
    held = text.splitlines()[150:]
    assert lab.window == len(held[0]) - 1 == 12 and len(lab.probes) == 5
    for ids, target in lab.probes:  # each probe is a held-out line, its target the answer
        line = corpus.vocab.decode(ids) + corpus.vocab.tokens[target]
        assert line in held
    accuracies = []
    for arch in ("lstm", "ssm"):
        tr = lab.trainers[arch]
        w = TraceWeights.from_state(tr.model_cfg, tr.snapshot().weights)
        right = []
        for line in held:
            fwd = forward(w, corpus.vocab.encode(line[:-1]))
            probs = softmax(fwd[-1]["h"][-1] @ w.head_w.T + w.head_b)
            right.append(corpus.vocab.tokens[int(np.argmax(probs))] == line[-1])
        fig = lab.measure(arch)
        assert fig.answer_accuracy == pytest.approx(np.mean(right), abs=1e-12)
        assert np.isnan(fig.decay_per_10) and fig.horizon >= 0  # 12 steps: no long range to fit
        accuracies.append(fig.answer_accuracy)
    assert accuracies != [0.0, 0.0]


def test_scaling_w_hh_scales_the_models_that_have_one_and_says_so_for_the_others():
    from rnnviz.core.lab_loop import LabLoop, measure
    from rnnviz.core.protocol import Notice, Scale

    corpus = Corpus.from_text("the keeper counted the ships. " * 30, "char")
    cfg = TrainConfig(seq_len=8, batch=2)
    lab = Comparison(corpus, 4, 1, cfg, device="cpu", window=12, positions=2, archs=("gru", "minlstm", "ssm"))
    reports: list = []
    loop = LabLoop(lab, reports.append, measure_every=1000)
    before = {a: {k: v.clone() for k, v in t.model.state_dict().items()} for a, t in lab.trainers.items()}
    loop.command(Scale(2.0))
    assert loop._apply(None, loop._next_command()[3])  # what the loop does before its next step
    after = {a: t.model.state_dict() for a, t in lab.trainers.items()}
    assert torch.equal(after["gru"]["rnn.weight_hh_l0"], 2 * before["gru"]["rnn.weight_hh_l0"])
    for a in ("minlstm", "ssm"):  # untouched
        assert all(torch.equal(after[a][k], v) for k, v in before[a].items())
    assert [r.message for r in reports if isinstance(r, Notice)] == [
        "W_hh scaled; for minLSTM, S6 not applicable: no W_hh"
    ]
    figs = {a: measure(lab, a, loop._weights_scale) for a in lab.trainers}
    assert figs["gru"].scale == 2.0 and figs["minlstm"].scale is None and figs["ssm"].scale is None
    assert figs["ssm"].cell_sigma is None and set(figs["ssm"].saturation) == set()
    assert set(figs["minlstm"].saturation) == {"f", "i"}  # its normalised f', i' in (0, 1)
    for a in ("minlstm", "ssm"):
        w = TraceWeights.from_state(lab.trainers[a].model_cfg, lab.trainers[a].snapshot().weights)
        first = trace(w, *lab.probes[0][:1], target_id=lab.probes[0][1])
        np.testing.assert_allclose(figs[a].sigma_by_step, state_sigmas(w, first))
        assert figs[a].window_gain == pytest.approx(window_gain(w, first))
    only_modern = LabLoop(
        Comparison(corpus, 4, 1, cfg, device="cpu", window=12, positions=2, archs=("mingru", "ssm")), print
    )
    with pytest.raises(ConfigError, match="not applicable: no W_hh in minGRU, S6"):
        only_modern.scale_recurrent(1.5)
