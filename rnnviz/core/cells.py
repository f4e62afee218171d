"""The cells' equations, one layer over a whole sequence, forward and backward (numpy float64):
the explicit replay behind core.trace (tested against the fused torch modules and autograd).

Row order of the gates follows PyTorch: LSTM (i, f, g, o), GRU (r, z, n). `edits`: a layer's
interventions (core.intervene): "h" clamps units of h_t, a gate name forces that gate's units;
the backward pass treats an edited value as the constant it is (no gradient flows through it,
as autograd would compute for the edited network).
"""

from __future__ import annotations

import numpy as np

Edits = dict[str, tuple[np.ndarray, float]]  # what -> (mask over the layer's units, value)
NO_EDITS: Edits = {}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # exact and overflow-free


def _edit(v: np.ndarray, what: str, edits: Edits) -> None:
    if what in edits:
        mask, value = edits[what]
        v[mask] = value


def _free(v: np.ndarray, what: str, edits: Edits) -> np.ndarray:
    """v with the edited units' entries zeroed (their values do not depend on anything)."""
    if what not in edits:
        return v
    return np.where(edits[what][0], 0.0, v)


# ---- forward, one layer over the whole sequence; x_proj = W_ih x_t + b_ih, (T, G*H) --------


def _rnn_forward(cfg, lw, x_proj, h0=None, c0=None, edits=NO_EDITS):
    T, H = len(x_proj), cfg.hidden
    hs, whh_t = np.empty((T, H)), lw.w_hh.T
    h = h0 = np.zeros(H) if h0 is None else h0
    for t in range(T):
        a = x_proj[t] + h @ whh_t + lw.b_hh
        h = np.tanh(a) if cfg.nonlinearity == "tanh" else np.maximum(a, 0.0)
        _edit(h, "h", edits)
        hs[t] = h
    return {"h": hs, "act": hs[:, :0], "h0": h0}


def _lstm_forward(cfg, lw, x_proj, h0=None, c0=None, edits=NO_EDITS):
    T, H = len(x_proj), cfg.hidden
    hs, cs, act, whh_t = np.empty((T, H)), np.empty((T, H)), np.empty((T, 4 * H)), lw.w_hh.T
    h = h0 = np.zeros(H) if h0 is None else h0
    c = c0 = np.zeros(H) if c0 is None else c0
    for t in range(T):
        a = x_proj[t] + h @ whh_t + lw.b_hh
        row = act[t]  # i, f, g, o
        row[:] = sigmoid(a)
        row[2 * H : 3 * H] = np.tanh(a[2 * H : 3 * H])
        for k, g in enumerate("ifgo"):
            _edit(row[k * H : (k + 1) * H], g, edits)
        c = row[H : 2 * H] * c + row[:H] * row[2 * H : 3 * H]
        h = row[3 * H :] * np.tanh(c)
        _edit(h, "h", edits)
        hs[t], cs[t] = h, c
    return {"h": hs, "c": cs, "act": act, "h0": h0, "c0": c0}


def _gru_forward(cfg, lw, x_proj, h0=None, c0=None, edits=NO_EDITS):
    T, H = len(x_proj), cfg.hidden
    hs, act, hn, whh_t = np.empty((T, H)), np.empty((T, 3 * H)), np.empty((T, H)), lw.w_hh.T
    h = h0 = np.zeros(H) if h0 is None else h0
    for t in range(T):
        hh = h @ whh_t + lw.b_hh
        rz = sigmoid(x_proj[t, : 2 * H] + hh[: 2 * H])
        _edit(rz[:H], "r", edits)
        _edit(rz[H:], "z", edits)
        n = np.tanh(x_proj[t, 2 * H :] + rz[:H] * hh[2 * H :])
        _edit(n, "n", edits)
        h = (1.0 - rz[H:]) * n + rz[H:] * h
        _edit(h, "h", edits)
        act[t, : 2 * H], act[t, 2 * H :], hn[t], hs[t] = rz, n, hh[2 * H :], h
    return {"h": hs, "act": act, "hn": hn, "h0": h0}


# ---- backward, one layer: inject (T, H) = dL/dh_t from above; fills dh (T, H) with the total
# dL/dh_t (and dc with dL/dc_t, LSTM) for t <= s; returns dL/dx_t, the injection for the layer below.


def _rnn_backward(cfg, lw, f, inject, s, dh, dc=None, edits=NO_EDITS):
    T, H = inject.shape
    hs, d_a = f["h"], np.zeros((T, H))
    dh_next = np.zeros(H)
    for t in range(s, -1, -1):
        dh[t] = inject[t] + dh_next
        g = _free(dh[t], "h", edits)
        d_a[t] = g * (1.0 - hs[t] ** 2) if cfg.nonlinearity == "tanh" else g * (hs[t] > 0)
        dh_next = d_a[t] @ lw.w_hh
    return d_a @ lw.w_ih


def _lstm_backward(cfg, lw, f, inject, s, dh, dc, edits=NO_EDITS):
    T, H = inject.shape
    act, cs, d_a = f["act"], f["c"], np.zeros((T, 4 * H))
    dh_next, dc_next = np.zeros(H), np.zeros(H)
    for t in range(s, -1, -1):
        i, fg, g, o = act[t, :H], act[t, H : 2 * H], act[t, 2 * H : 3 * H], act[t, 3 * H :]
        dh[t] = inject[t] + dh_next
        dh_cell = _free(dh[t], "h", edits)
        tc = np.tanh(cs[t])
        dc[t] = dc_next + dh_cell * o * (1.0 - tc * tc)
        c_prev = cs[t - 1] if t else f["c0"]
        da = d_a[t]
        da[:H] = _free(dc[t] * g * i * (1.0 - i), "i", edits)
        da[H : 2 * H] = _free(dc[t] * c_prev * fg * (1.0 - fg), "f", edits)
        da[2 * H : 3 * H] = _free(dc[t] * i * (1.0 - g * g), "g", edits)
        da[3 * H :] = _free(dh_cell * tc * o * (1.0 - o), "o", edits)
        dh_next, dc_next = da @ lw.w_hh, dc[t] * fg
    return d_a @ lw.w_ih


def _gru_backward(cfg, lw, f, inject, s, dh, dc=None, edits=NO_EDITS):
    T, H = inject.shape
    act, hs, hn, d_a = f["act"], f["h"], f["hn"], np.zeros((T, 3 * H))
    dhh = np.empty(3 * H)
    dh_next = np.zeros(H)
    for t in range(s, -1, -1):
        r, z, n = act[t, :H], act[t, H : 2 * H], act[t, 2 * H :]
        h_prev = hs[t - 1] if t else f["h0"]
        dh[t] = inject[t] + dh_next
        dh_cell = _free(dh[t], "h", edits)
        dan = _free(dh_cell * (1.0 - z) * (1.0 - n * n), "n", edits)
        da = d_a[t]
        da[:H] = _free(dan * hn[t] * r * (1.0 - r), "r", edits)
        da[H : 2 * H] = _free(dh_cell * (h_prev - n) * z * (1.0 - z), "z", edits)
        da[2 * H :] = dan
        dhh[: 2 * H], dhh[2 * H :] = da[: 2 * H], dan * r
        dh_next = dh_cell * z + dhh @ lw.w_hh
    return d_a @ lw.w_ih


FORWARD = {"rnn": _rnn_forward, "lstm": _lstm_forward, "gru": _gru_forward}
BACKWARD = {"rnn": _rnn_backward, "lstm": _lstm_backward, "gru": _gru_backward}
