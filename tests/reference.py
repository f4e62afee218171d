"""An independent recomputation of a trace with torch autograd, for the tests (and the check that
the gradient lab's figures say what its curve shows).

States and gates come from explicit cell formulas in float64 torch; h is also checked against
the fused modules; ||dL/dh^l_t|| comes from autograd on every h^l_t (retain_grad).
"""

import numpy as np
import pytest
import torch


def _set(v, what, edits):
    """An intervention, as autograd sees it: the edited entries are constants."""
    if what not in edits:
        return v
    mask, value = edits[what]
    return torch.where(mask, torch.full_like(v, value), v)


def _cell(arch, nl, x, h, c, w_ih, w_hh, b_ih, b_hh, edits=None):
    e = edits or {}
    if arch == "rnn":
        a = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        return _set(torch.tanh(a) if nl == "tanh" else torch.relu(a), "h", e), None, {}
    if arch == "lstm":
        i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        i, f, g, o = (_set(v, k, e) for v, k in zip((i, f, g, o), "ifgo", strict=True))
        c = f * c + i * g
        return _set(o * torch.tanh(c), "h", e), c, {"i": i, "f": f, "g": g, "o": o}
    xr, xz, xn = (x @ w_ih.T + b_ih).chunk(3)
    hr, hz, hn = (h @ w_hh.T + b_hh).chunk(3)
    r, z = _set(torch.sigmoid(xr + hr), "r", e), _set(torch.sigmoid(xz + hz), "z", e)
    n = _set(torch.tanh(xn + r * hn), "n", e)
    return _set((1 - z) * n + z * h, "h", e), None, {"r": r, "z": z, "n": n}


def reference_trace(
    cfg, state: dict, ids, target_step=None, target_id=None, target_value=None, edits=None
) -> dict:
    """state: name -> tensor. Returns numpy arrays h, c, gates, probs, grad_h (layer, step, ...).
    A value model (cfg.input "value"): ids are real inputs, "values" the forecasts, and the loss is
    (y_s - target_value)^2 / 2. edits: per layer {what: (bool mask tensor, value)} (interventions)."""
    W = {k: torch.as_tensor(v).double() for k, v in state.items()}
    ids = torch.as_tensor(ids)
    T, L, H = len(ids), cfg.layers, cfg.hidden
    if cfg.input == "value":
        xs = ids.double()[:, None]
    elif cfg.input == "embedding":
        xs = W["embedding.weight"][ids]
    else:
        xs = torch.nn.functional.one_hot(ids, cfg.vocab_size).double()
    xs = xs.detach().requires_grad_(True)  # the inputs (one-hot vectors, embedding rows): attribution
    hs = [[None] * T for _ in range(L)]
    cs = [[None] * T for _ in range(L)]
    gates = [[None] * T for _ in range(L)]
    h = [torch.zeros(H, dtype=torch.double, requires_grad=True) for _ in range(L)]
    c = [torch.zeros(H, dtype=torch.double) for _ in range(L)]
    logits = []
    for t in range(T):
        x = xs[t]
        for n in range(L):
            p = [W[f"rnn.{k}_l{n}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h[n], c_new, g = _cell(cfg.arch, cfg.nonlinearity, x, h[n], c[n], *p, (edits or {}).get(n))
            if c_new is not None:
                c[n] = c_new
                cs[n][t] = c_new
            h[n].retain_grad()
            hs[n][t], gates[n][t] = h[n], g
            x = h[n]
        logits.append(x @ W["head.weight"].T + W["head.bias"])
    s = T - 1 if target_step is None else target_step
    if cfg.input == "value":
        probs = torch.stack(logits)[:, 0]  # the forecasts
        tid = 0
        (0.5 * (probs[s] - target_value) ** 2).backward()
    else:
        probs = torch.softmax(torch.stack(logits), -1)
        tid = int(probs[s].argmax()) if target_id is None else target_id
        (-torch.log(probs[s, tid])).backward()
    zero = torch.zeros(hs[0][0].shape[-1], dtype=torch.double)  # h_t after the target step: no gradient
    dh = torch.stack([torch.stack([zero if h.grad is None else h.grad for h in row]) for row in hs])
    grad = dh.norm(dim=-1)
    out = {
        "h": torch.stack([torch.stack(r) for r in hs]).detach().numpy(),
        "probs": probs.detach().numpy(),
        "grad_h": grad.detach().numpy(),
        "dh": dh.detach().numpy(),
        "attribution": (xs.grad**2).sum(-1).numpy(),  # ||dL/dx_t||^2 per input
        "target_id": tid,
        "gates": {
            k: torch.stack([torch.stack([gates[n][t][k] for t in range(T)]) for n in range(L)])
            .detach()
            .numpy()
            for k in (gates[0][0] or {})
        },
    }
    if cfg.arch == "lstm":
        out["c"] = torch.stack([torch.stack(r) for r in cs]).detach().numpy()
    return out


def assert_figures_of_the_curve(fig, curve: np.ndarray, window: int) -> None:
    """The lab's figures say what its gradient curve shows: the curve itself, the decay per 10
    steps (-10 x the least-squares slope of log10 over distances 10 .. window - 1) and the
    horizons (the last distance above 1 % and 1e-4; window - 1 when it never drops below)."""
    np.testing.assert_allclose(fig.grad_by_distance, curve, rtol=1e-7)
    k, y = np.arange(10, window), np.log10(curve[10:])
    slope = ((k - k.mean()) * (y - y.mean())).sum() / ((k - k.mean()) ** 2).sum()
    assert fig.decay_per_10 == pytest.approx(-10 * slope, rel=1e-6)
    for fraction, got in ((0.01, fig.horizon), (1e-4, fig.horizon_far)):
        below = [d for d in range(1, window) if curve[d] < fraction]
        assert got == (below[0] - 1 if below else window - 1)
