"""The gradient lab against direct computations on tiny models."""

import copy

import numpy as np
import pytest
import torch
from conftest import make_model, rng_ids
from reference import assert_figures_of_the_curve

from rnnviz.core.corpus import Corpus
from rnnviz.core.lab import (
    Comparison,
    cell_path_singular_values,
    curve_horizon,
    decay_per_10,
    distance_ratios,
    gate_saturation,
    gradient_horizon,
    largest_singular_values,
    positions_in,
    product_norm,
    state_jacobians,
    step_jacobians,
)
from rnnviz.core.model import state_arrays
from rnnviz.core.trace import TraceWeights, trace
from rnnviz.core.train import TrainConfig


def test_horizon_counts_consecutive_steps_above_the_fraction():
    g = np.array([1e-4, 0.5, 2e-3, 0.02, 0.5, 1.0, 0.0])
    assert gradient_horizon(g, 5) == 2  # 1.0, 0.5, 0.02 are >= 0.01; 2e-3 is not
    assert gradient_horizon(g, 5, fraction=0.001) == 4
    assert gradient_horizon(np.ones(4), 3) == 3  # never below: the whole text
    assert gradient_horizon(np.zeros(4), 3) == 0


def linear_rnn(scale: float, hidden: int = 6, seed: int = 0):
    """A tanh RNN that stays at h = 0 (no input, no biases), so dh_t/dh_(t-1) = W_hh exactly,
    with W_hh = scale x an orthogonal matrix: every singular value is `scale`."""
    m = make_model("rnn", layers=1, hidden=hidden, vocab=5)
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(hidden, hidden)))
    with torch.no_grad():
        m.rnn.weight_ih_l0.zero_()
        m.rnn.bias_ih_l0.zero_()
        m.rnn.bias_hh_l0.zero_()
        m.rnn.weight_hh_l0.copy_(torch.as_tensor(scale * q))
    return m, TraceWeights.from_state(m.cfg, state_arrays(m))


@pytest.mark.parametrize("scale,expected", [(0.5, 6), (0.8, 20), (0.9, 43)])
def test_horizon_of_a_linear_rnn_is_log_fraction_over_log_scale(scale, expected):
    m, w = linear_rnn(scale)
    tr = trace(w, rng_ids(60, 5))
    np.testing.assert_allclose(tr.grad_h[0][::-1][:30] / tr.grad_h[0][-1], scale ** np.arange(30), rtol=1e-6)
    assert expected == int(np.floor(np.log(0.01) / np.log(scale)))
    assert gradient_horizon(tr.grad_h[0], tr.target_step) == expected


def test_spectrum_of_a_linear_rnn_is_its_singular_value():
    m, w = linear_rnn(1.3)
    tr = trace(w, rng_ids(12, 5))
    jac = step_jacobians(w, tr)
    np.testing.assert_allclose(jac, np.broadcast_to(w.layers[0].w_hh, jac.shape), atol=1e-12)
    np.testing.assert_allclose(largest_singular_values(jac), 1.3, rtol=1e-6)  # float32 weights
    assert product_norm(jac, 2, 6) == pytest.approx(1.3**5, rel=1e-6)


def test_spectrum_with_unequal_singular_values():
    m = make_model("rnn", layers=1, hidden=4, vocab=5)
    u, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(4, 4)))
    v, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(4, 4)))
    w_hh = u @ np.diag([2.0, 0.7, 0.3, 0.1]) @ v.T
    with torch.no_grad():
        for p in (m.rnn.weight_ih_l0, m.rnn.bias_ih_l0, m.rnn.bias_hh_l0):
            p.zero_()
        m.rnn.weight_hh_l0.copy_(torch.as_tensor(w_hh))
    w = TraceWeights.from_state(m.cfg, state_arrays(m))
    jac = step_jacobians(w, trace(w, rng_ids(5, 5)))
    np.testing.assert_allclose(largest_singular_values(jac), 2.0, rtol=1e-6)
    assert product_norm(jac, 0, 3) == pytest.approx(
        np.linalg.norm(np.linalg.matrix_power(w_hh, 4), 2), rel=1e-6
    )


def _cell(arch, w_ih, w_hh, b_ih, b_hh, x, c_prev):
    def f(h):
        if arch == "rnn":
            return torch.tanh(w_ih @ x + b_ih + w_hh @ h + b_hh)
        if arch == "lstm":
            i, fg, g, o = (w_ih @ x + b_ih + w_hh @ h + b_hh).chunk(4)
            c = torch.sigmoid(fg) * c_prev + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c)
        xr, xz, xn = (w_ih @ x + b_ih).chunk(3)
        hr, hz, hn = (w_hh @ h + b_hh).chunk(3)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        return (1 - z) * torch.tanh(xn + r * hn) + z * h

    return f


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_step_jacobians_match_autograd(arch):
    m = make_model(arch, layers=2, hidden=5, vocab=7, seed=3)
    w = TraceWeights.from_state(m.cfg, state_arrays(m))
    ids = rng_ids(9, 7, seed=4)
    tr = trace(w, ids)
    for layer in (0, 1):
        jac, lw = step_jacobians(w, tr, layer), w.layers[layer]
        xs = np.eye(7)[ids] if layer == 0 else tr.h[0]
        W = [torch.tensor(a) for a in (lw.w_ih, lw.w_hh, lw.b_ih, lw.b_hh)]
        for t in range(len(ids)):
            h_prev = torch.tensor(tr.h[layer][t - 1] if t else np.zeros(5))
            c_prev = torch.tensor(tr.c[layer][t - 1] if t and arch == "lstm" else np.zeros(5))
            f = _cell(arch, *W, torch.tensor(xs[t]), c_prev)
            expected = torch.autograd.functional.jacobian(f, h_prev).numpy()
            np.testing.assert_allclose(jac[t], expected, atol=1e-10)


def test_cell_path_and_gate_saturation_by_direct_counting():
    m = make_model("lstm", layers=1, hidden=6, vocab=5)
    w = TraceWeights.from_state(m.cfg, state_arrays(m))
    tr = trace(w, rng_ids(30, 5))
    np.testing.assert_array_equal(cell_path_singular_values(tr), tr.gates["f"][0].max(axis=1))
    sat = gate_saturation(tr, lo=0.45, hi=0.55)
    assert set(sat) == {"i", "f", "o"}
    f = tr.gates["f"][0]
    for u in range(6):
        assert sat["f"][0][u] == sum(f[t, u] < 0.45 for t in range(30)) / 30
        assert sat["f"][1][u] == sum(f[t, u] > 0.55 for t in range(30)) / 30


def test_state_jacobian_of_an_lstm_is_the_map_of_h_and_c_by_autograd():
    m = make_model("lstm", layers=2, hidden=4, vocab=7, seed=5)
    w = TraceWeights.from_state(m.cfg, state_arrays(m))
    ids = rng_ids(8, 7, seed=6)
    tr = trace(w, ids)
    for layer in (0, 1):
        jac, lw = state_jacobians(w, tr, layer), w.layers[layer]
        assert jac.shape == (8, 8, 8)
        xs = torch.tensor(np.eye(7)[ids] if layer == 0 else tr.h[0])
        W = [torch.tensor(a) for a in (lw.w_ih, lw.w_hh, lw.b_ih, lw.b_hh)]

        def step(state, x, W=W):
            h, c = state[:4], state[4:]
            i, f, g, o = (W[0] @ x + W[2] + W[1] @ h + W[3]).chunk(4)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.cat([torch.sigmoid(o) * torch.tanh(c), c])

        for t in range(len(ids)):
            prev = np.concatenate([tr.h[layer][t - 1], tr.c[layer][t - 1]]) if t else np.zeros(8)
            expected = torch.autograd.functional.jacobian(lambda s, x=xs[t]: step(s, x), torch.tensor(prev))
            np.testing.assert_allclose(jac[t], expected.numpy(), atol=1e-10)
    gru = make_model("gru", layers=1, hidden=4, vocab=7)
    wg = TraceWeights.from_state(gru.cfg, state_arrays(gru))
    tg = trace(wg, ids)
    np.testing.assert_array_equal(state_jacobians(wg, tg), step_jacobians(wg, tg))  # GRU: h is the state


def test_decay_and_horizons_of_a_linear_rnn_follow_its_scale():
    """h stays 0, so ||dL/dh_(t-k)|| / ||dL/dh_t|| = scale^k whatever the window and target."""
    m, w = linear_rnn(0.8)
    ids = rng_ids(200, 5)
    pos = positions_in(len(ids), 30, 32)
    assert len(pos) == 32 and pos.min() >= 29 and pos.max() <= 198 and np.all(np.diff(pos) > 0)
    np.testing.assert_array_equal(pos, positions_in(len(ids), 30, 32))  # a fixed seed
    curve = distance_ratios([trace(w, ids[p - 29 : p + 1], target_id=int(ids[p + 1])).grad_h[0] for p in pos])
    np.testing.assert_allclose(curve, 0.8 ** np.arange(30), rtol=1e-6)
    assert decay_per_10(curve) == pytest.approx(-10 * np.log10(0.8), rel=1e-6)
    assert curve_horizon(curve) == 20 and curve_horizon(curve, 1e-4) == 29  # 0.8^41 < 1e-4: not in 30
    assert curve_horizon(np.ones(5)) == 4 and np.isnan(decay_per_10(np.ones(11)))


def test_distance_ratios_is_the_geometric_mean_of_each_windows_ratio():
    grads = np.array([[1e-6, 1e-3, 0.1, 1.0], [1e-2, 1e-2, 1.0, 4.0]])  # the target is the last step
    np.testing.assert_allclose(
        distance_ratios(grads), [1.0, np.sqrt(0.1 * 0.25), np.sqrt(1e-3 * 2.5e-3), np.sqrt(1e-6 * 2.5e-3)]
    )
    assert decay_per_10(
        np.array([10.0 ** (-0.3 * k + (k % 2) * 0.1) for k in range(14)]), start=10
    ) == pytest.approx(-10 * np.polyfit(np.arange(10, 14), [-3.0 + 0.0, -3.3 + 0.1, -3.6, -3.9 + 0.1], 1)[0])


def autograd_ratios(model, ids: np.ndarray, window: int, positions) -> np.ndarray:
    """||dL/dh_(t-k)|| / ||dL/dh_t|| per window by autograd through the fused torch module (float64),
    one step at a time so that every h_t is a tensor of the graph: (windows, window)."""
    model = copy.deepcopy(model).double()
    out = []
    for p in positions:
        chunk, state, hs = ids[p - window + 1 : p + 1], None, []
        for tok in chunk:
            x = torch.zeros(1, 1, model.cfg.vocab_size, dtype=torch.float64)
            x[0, 0, int(tok)] = 1.0
            _, state = model.rnn(x, state)
            h = state[0] if isinstance(state, tuple) else state
            h.retain_grad()
            hs.append(h)
        loss = torch.nn.functional.cross_entropy(model.head(hs[-1][-1]), torch.tensor([int(ids[p + 1])]))
        loss.backward()
        norms = np.array([h.grad[-1].norm().item() for h in hs])[::-1]
        out.append(norms / norms[0])
    return np.array(out)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_decay_per_10_and_horizons_match_autograd(arch):
    corpus = Corpus.from_text("the keeper counted the ships. (and the stars) were many " * 40, "char")
    cfg = TrainConfig(seq_len=16, batch=4, lr=1e-2)
    lab = Comparison(
        corpus, hidden=6, layers=1, cfg=cfg, device="cpu", window=24, positions=32, archs=(arch,)
    )
    for _ in range(5):
        lab.step()
    fig = lab.measure(arch)
    assert len(lab.positions) == 32
    ratios = autograd_ratios(lab.trainers[arch].model, lab.probe_ids, 24, lab.positions)
    curve = np.exp(np.log(ratios).mean(axis=0))  # the geometric mean
    assert_figures_of_the_curve(fig, curve, 24)


def test_comparison_trains_three_models_and_measures_them():
    corpus = Corpus.from_text("the keeper counted the ships. (and the stars) " * 60, "char")
    lab = Comparison(
        corpus, hidden=8, layers=1, cfg=TrainConfig(seq_len=16, batch=4), device="cpu", window=20, positions=3
    )
    for _ in range(3):
        steps = lab.step()
    assert set(steps) == {"rnn", "lstm", "gru"} and all(m.step == 3 for m in steps.values())
    fig = lab.measure("gru")
    assert fig.grad_by_distance.shape == (20,) and fig.sigma_by_step.shape == (20,)
    assert fig.grad_by_distance[0] == 1.0 and fig.cell_horizon is None
    lstm = lab.measure("lstm")
    w = TraceWeights.from_state(lab.trainers["lstm"].model_cfg, lab.trainers["lstm"].snapshot().weights)
    cells, sigmas = [], []
    for p in lab.positions:
        t = trace(w, lab.probe_ids[p - 19 : p + 1], target_id=int(lab.probe_ids[p + 1]))
        cells.append(t.grad_c[0][::-1] / t.grad_c[0][-1])
        sigmas.append(np.linalg.svd(state_jacobians(w, t), compute_uv=False)[:, 0])
    cell_curve = np.exp(np.log(cells).mean(axis=0))
    below = [d for d in range(1, 20) if cell_curve[d] < 0.01]
    assert lstm.cell_horizon == (below[0] - 1 if below else 19)
    assert lstm.mean_sigma == pytest.approx(np.mean(sigmas)) and lstm.sigma_by_step.shape == (20,)
    before = lab.trainers["lstm"].model.rnn.weight_hh_l0.detach().clone()
    lab.trainers["lstm"].scale_recurrent(2.0)
    assert torch.allclose(lab.trainers["lstm"].model.rnn.weight_hh_l0, 2 * before)
