"""The modern cells' equations (core.modern), one layer over a whole sequence, forward and backward
in numpy float64: the explicit replay behind core.trace for minGRU, minLSTM and the selective SSM.

A layer's weights `lw` map the checkpoint's names without the "rnn.l{n}." prefix ("z.weight", ...)
to float64 arrays; `x` is the layer's input (T, D). Gates read x_t only, so they are computed for
all steps at once; only the state runs step by step.

`edits` (core.intervene): "h" clamps units of h_t; a gate forces its units ("z"; "f" and "i" are
minLSTM's normalised f' and i'; "delta" is the SSM's step size); "s" clamps the SSM channels' whole
state rows. As in core.cells, the backward pass treats an edited value as a constant.

Backward: inject (T, H) = dL/dh_t from above; fills dh (T, H) with the total dL/dh_t for t <= s and
returns dL/dx_t (T, D), and for the SSM also ||dL/ds_t|| (T,) (None for the others).
"""

from __future__ import annotations

import numpy as np

from rnnviz.core.cells import NO_EDITS, Edits, _free, sigmoid


def _force(v: np.ndarray, what: str, edits: Edits) -> np.ndarray:
    """v (T, H) with the edited units' columns set to their value (a copy when edited)."""
    if what not in edits:
        return v
    mask, value = edits[what]
    v = v.copy()
    v[:, mask] = value
    return v


def _lin(lw, name: str, x: np.ndarray) -> np.ndarray:
    out = x @ lw[f"{name}.weight"].T
    return out + lw[f"{name}.bias"] if f"{name}.bias" in lw else out


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


# ---- minGRU: h_t = (1 - z_t) h_(t-1) + z_t h~_t ------------------------------------------------


def mingru_forward(cfg, lw, x, h0=None, edits=NO_EDITS):
    T, H = len(x), cfg.hidden
    z = _force(sigmoid(_lin(lw, "z", x)), "z", edits)
    cand = _lin(lw, "h", x)
    hs = np.empty((T, H))
    h = h0 = np.zeros(H) if h0 is None else h0
    mask, value = edits.get("h", (None, 0.0))
    for t in range(T):
        h = (1.0 - z[t]) * h + z[t] * cand[t]
        if mask is not None:
            h[mask] = value
        hs[t] = h
    return {"h": hs, "gates": {"z": z}, "cand": cand, "h0": h0}


def mingru_backward(cfg, lw, f, inject, s, dh, edits=NO_EDITS):
    T, H = inject.shape
    hs, z, cand = f["h"], f["gates"]["z"], f["cand"]
    dzp, dcand = np.zeros((T, H)), np.zeros((T, H))
    dh_next = np.zeros(H)
    for t in range(s, -1, -1):
        dh[t] = inject[t] + dh_next
        g = _free(dh[t], "h", edits)
        h_prev = hs[t - 1] if t else f["h0"]
        dzp[t] = g * (cand[t] - h_prev) * z[t] * (1.0 - z[t])
        dcand[t] = g * z[t]
        dh_next = g * (1.0 - z[t])
    dzp = _free(dzp, "z", edits)
    return dzp @ lw["z.weight"] + dcand @ lw["h.weight"], None


# ---- minLSTM: h_t = f'_t h_(t-1) + i'_t h~_t, f' = f / (f + i), i' = i / (f + i) -----------------


def minlstm_forward(cfg, lw, x, h0=None, edits=NO_EDITS):
    T, H = len(x), cfg.hidden
    fg, ig = sigmoid(_lin(lw, "f", x)), sigmoid(_lin(lw, "i", x))
    fn = _force(fg / (fg + ig), "f", edits)
    inn = _force(ig / (fg + ig), "i", edits)
    cand = _lin(lw, "h", x)
    hs = np.empty((T, H))
    h = h0 = np.zeros(H) if h0 is None else h0
    mask, value = edits.get("h", (None, 0.0))
    for t in range(T):
        h = fn[t] * h + inn[t] * cand[t]
        if mask is not None:
            h[mask] = value
        hs[t] = h
    return {"h": hs, "gates": {"f": fn, "i": inn}, "raw": (fg, ig), "cand": cand, "h0": h0}


def minlstm_backward(cfg, lw, f, inject, s, dh, edits=NO_EDITS):
    T, H = inject.shape
    hs, cand = f["h"], f["cand"]
    fn, inn, (fg, ig) = f["gates"]["f"], f["gates"]["i"], f["raw"]
    dfn, din, dcand = np.zeros((T, H)), np.zeros((T, H)), np.zeros((T, H))
    dh_next = np.zeros(H)
    for t in range(s, -1, -1):
        dh[t] = inject[t] + dh_next
        g = _free(dh[t], "h", edits)
        dfn[t] = g * (hs[t - 1] if t else f["h0"])
        din[t] = g * cand[t]
        dcand[t] = g * inn[t]
        dh_next = g * fn[t]
    dfn, din = _free(dfn, "f", edits), _free(din, "i", edits)
    # through the normalisation (of the unforced values): df'/df = i/S^2, df'/di = -f/S^2, ...
    fn0, in0 = fg / (fg + ig), ig / (fg + ig)
    common = (dfn - din) * fn0 * in0
    dfp, dip = common * (1.0 - fg), -common * (1.0 - ig)
    return dfp @ lw["f.weight"] + dip @ lw["i.weight"] + dcand @ lw["h.weight"], None


# ---- the selective SSM (S6) with its gate -------------------------------------------------------


def ssm_forward(cfg, lw, x, s0=None, edits=NO_EDITS):
    """s0: the state (H, N) to start from. Keeps u, Delta, B, C, the gate and every s_t (T, H, N)."""
    T, H, N = len(x), cfg.hidden, cfg.state
    u = _lin(lw, "in_proj", x)
    dpre = _lin(lw, "delta", u)
    delta = _force(softplus(dpre), "delta", edits)
    Bm, Cm = u @ lw["B.weight"].T, u @ lw["C.weight"].T  # (T, N)
    gpre = _lin(lw, "gate", x)
    gate = gpre * sigmoid(gpre)
    A = -np.exp(lw["A_log"])  # (H, N)
    dA = np.exp(delta[:, :, None] * A)  # (T, H, N)
    S, ys, hs = np.empty((T, H, N)), np.empty((T, H)), np.empty((T, H))
    s = s0 = np.zeros((H, N)) if s0 is None else s0
    smask, svalue = edits.get("s", (None, 0.0))
    hmask, hvalue = edits.get("h", (None, 0.0))
    for t in range(T):
        s = dA[t] * s + np.outer(delta[t] * u[t], Bm[t])
        if smask is not None:
            s[smask] = svalue
        S[t] = s
        ys[t] = s @ Cm[t] + lw["D"] * u[t]
        h = ys[t] * gate[t]
        if hmask is not None:
            h[hmask] = hvalue
        hs[t] = h
    return {
        "h": hs, "gates": {"delta": delta, "B": Bm, "C": Cm}, "s": S, "s0": s0, "u": u, "dpre": dpre,
        "dA": dA, "A": A, "y": ys, "gpre": gpre, "gate": gate,
    }  # fmt: skip


def ssm_backward(cfg, lw, f, inject, s, dh, edits=NO_EDITS):
    T, H = inject.shape
    S, dA, A, u, Bm, Cm = f["s"], f["dA"], f["A"], f["u"], f["gates"]["B"], f["gates"]["C"]
    delta, gpre = f["gates"]["delta"], f["gpre"]
    du, ddelta, dB, dC, dgpre = (np.zeros((T, H)), np.zeros((T, H)), np.zeros((T, len(Bm[0]))),
                                 np.zeros((T, len(Bm[0]))), np.zeros((T, H)))  # fmt: skip
    grad_state = np.zeros(T)
    ds_next = np.zeros_like(f["s0"])
    smask = edits["s"][0] if "s" in edits else None
    sg = sigmoid(gpre)
    for t in range(s, -1, -1):
        dh[t] = inject[t]  # h_t is read by the head or the layer above only: the state carries time
        g = _free(dh[t], "h", edits)
        dy = g * f["gate"][t]
        dgpre[t] = g * f["y"][t] * sg[t] * (1.0 + gpre[t] * (1.0 - sg[t]))  # silu'
        ds = ds_next + np.outer(dy, Cm[t])
        grad_state[t] = np.linalg.norm(ds)
        if smask is not None:
            ds = np.where(smask[:, None], 0.0, ds)
        dC[t] = dy @ S[t]
        du[t] = dy * lw["D"]
        s_prev = S[t - 1] if t else f["s0"]
        x_t = ds * dA[t] * s_prev  # dL/d(Delta_t A)
        ddelta[t] = (x_t * A).sum(1)
        dbu = ds @ Bm[t]  # dL/d(Delta_t u_t)
        ddelta[t] += dbu * u[t]
        du[t] += dbu * delta[t]
        dB[t] = (delta[t] * u[t]) @ ds
        ds_next = ds * dA[t]
    ddelta = _free(ddelta, "delta", edits)
    ddpre = ddelta * sigmoid(f["dpre"])
    du += ddpre @ lw["delta.weight"] + dB @ lw["B.weight"] + dC @ lw["C.weight"]
    return du @ lw["in_proj.weight"] + dgpre @ lw["gate.weight"], grad_state


FORWARD = {"mingru": mingru_forward, "minlstm": minlstm_forward, "ssm": ssm_forward}
BACKWARD = {"mingru": mingru_backward, "minlstm": minlstm_backward, "ssm": ssm_backward}
