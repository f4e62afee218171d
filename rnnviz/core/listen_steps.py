"""The running sums behind core.listen, one step at a time over every layer up to the one shown:
PartsRun carries each token's part of h_t (minGRU, minLSTM, the SSM), TangentRun the tangents
dh_t/dx_s (RNN, LSTM, GRU); hidden_attention is one SSM channel's alpha. `fwd` is core.trace.forward's
per-layer dicts for the steps being read (a chunk: step t is its row i); edits: core.intervene."""

from __future__ import annotations

import numpy as np

from rnnviz.core.trace import TraceWeights


def _free(v: np.ndarray, what: str, edits: dict) -> np.ndarray:
    """v (units first) with the rows of the units an edit sets zeroed: they depend on nothing."""
    if what in edits:
        v[edits[what][0]] = 0.0
    return v


def _clamp(parts: np.ndarray, what: str, edits: dict, t: int) -> None:
    """A clamped unit (or state row) is set at step t: its value is all token t's part."""
    if what in edits:
        mask, value = edits[what]
        parts[:, mask] = 0.0
        parts[t, mask] = value


class PartsRun:
    """Each token's part of every layer's h_t (rows: tokens 0..t), and for the SSM of its state s_t."""

    measures = ("norm", "along")

    def __init__(self, w: TraceWeights, layer: int, edits: list[dict], dtype):
        self.w, self.layer, self.edits, self.dtype = w, layer, edits, dtype
        self.arch, self.cap = w.cfg.arch, 0
        self.P: list[np.ndarray] = []  # per layer (cap, H): token s's part of h_t
        self.S: list[np.ndarray] = []  # the SSM, per layer (cap, H, N): token s's part of s_t

    def grow(self, cap: int) -> None:
        H, N, n = self.w.cfg.hidden, self.w.cfg.state, self.cap
        old: list[np.ndarray | None] = [None] * (self.layer + 1)
        self.P = [_bigger(p, (cap, H), n, self.dtype) for p in self.P or old]
        if self.arch == "ssm":
            self.S = [_bigger(s, (cap, H, N), n, self.dtype) for s in self.S or old]
        self.cap = cap

    def snapshot(self, t: int) -> tuple:
        """The running sums after t steps (copies), for restore."""
        return [p[:t].copy() for p in self.P], [s[:t].copy() for s in self.S]

    def restore(self, sums: tuple) -> None:
        for keep, saved in zip((self.P, self.S), sums, strict=True):
            for a, b in zip(keep, saved, strict=True):
                a[: len(b)] = b

    def step(self, fwd: list[dict], i: int, t: int) -> dict[str, np.ndarray]:
        """Read step t (row i of fwd): alpha's row t for s = 0..t, by measure."""
        x: np.ndarray | None = None  # the parts of layer n's input: None at layer 0, all token t's
        cell = self._ssm if self.arch == "ssm" else self._linear
        for n in range(self.layer + 1):
            x = cell(n, fwd[n], i, t, x)
        assert x is not None
        h = fwd[self.layer]["h"][i]
        size = float(np.linalg.norm(h))
        along = x @ h / size if size > 0 else np.zeros(t + 1)
        return {"norm": np.linalg.norm(x, axis=1), "along": along}

    def _affine(self, x, t: int, whole: np.ndarray, name: str, lw: dict) -> np.ndarray:
        """The parts of W x_t + b (`whole`, as computed): at layer 0 all token t's; above, W times the
        parts of x_t, the bias token t's."""
        out = np.zeros((t + 1, len(whole)), self.dtype)
        if x is None:
            out[t] = whole
            return out
        out[:] = x @ lw[f"{name}.weight"].T
        out[t] += lw[f"{name}.bias"]
        return out

    def _linear(self, n: int, f: dict, i: int, t: int, x) -> np.ndarray:
        """minGRU (a = 1 - z, b = z) and minLSTM (a = f', b = i'): h_t = a h_(t-1) + b h~_t."""
        g = f["gates"]
        a, b = (1.0 - g["z"][i], g["z"][i]) if self.arch == "mingru" else (g["f"][i], g["i"][i])
        cand = self._affine(x, t, f["cand"][i], "h", self.w.layers[n])
        P = self.P[n][: t + 1]
        P[:t] *= a
        P[t] = 0.0
        P += b * cand
        _clamp(P, "h", self.edits[n], t)
        return P

    def _ssm(self, n: int, f: dict, i: int, t: int, x) -> np.ndarray:
        """s_t = exp(Delta_t A) s_(t-1) + (Delta_t u_t) B_t, h_t = (s_t C_t + D u_t) silu(gate_t)."""
        lw, e = self.w.layers[n], self.edits[n]
        u = self._affine(x, t, f["u"][i], "in_proj", lw)
        S = self.S[n][: t + 1]
        S[:t] *= f["dA"][i]
        S[t] = 0.0
        S += (f["gates"]["delta"][i] * u)[:, :, None] * f["gates"]["B"][i]
        if "s" in e:  # a clamped channel's whole state row
            mask, value = e["s"]
            S[:, mask] = 0.0
            S[t, mask] = value
        P = self.P[n][: t + 1]
        P[:] = (S @ f["gates"]["C"][i] + lw["D"] * u) * f["gate"][i]
        _clamp(P, "h", e, t)
        return P


class TangentRun:
    """The tangents dh_t/dx_s (and dc_t/dx_s, LSTM) of every layer for s = 0..t, as (H, cap, D)
    arrays: one matrix product a step moves every s at once. The gate derivatives are folded into
    the weights first (an H x H matrix a step), so the product is H x H, not G*H x H, and the
    elementwise work touches H rows only. dh_(t-1)/dx_s and dh_t/dx_s are two buffers, swapped."""

    measures = ("norm",)

    def __init__(self, w: TraceWeights, layer: int, edits: list[dict], dtype):
        self.cfg, self.layer, self.edits, self.dtype = w.cfg, layer, edits, dtype
        self.D, self.H, self.cap = w.cfg.input_size, w.cfg.hidden, 0
        self.w_ih = [np.asarray(lw.w_ih, dtype) for lw in w.layers[: layer + 1]]
        self.w_hh = [np.asarray(lw.w_hh, dtype) for lw in w.layers[: layer + 1]]
        self.Jh: list[np.ndarray] = []  # per layer: dh_t/dx_s
        self.Jprev: list[np.ndarray] = []  # per layer: dh_(t-1)/dx_s (the other buffer)
        self.Jc: list[np.ndarray] = []  # LSTM, per layer: dc_t/dx_s
        self.out = np.zeros(0, dtype)  # LSTM: the product's (2H, t + 1, D), flat

    def grow(self, cap: int) -> None:
        layers: list[np.ndarray | None] = [None] * (self.layer + 1)
        n, shape = self.cap, (self.H, cap, self.D)
        self.Jh = [_bigger(j, shape, n, self.dtype, axis=1) for j in self.Jh or layers]
        self.Jprev = [np.zeros(shape, self.dtype) for _ in layers]
        if self.cfg.arch == "lstm":
            self.Jc = [_bigger(j, shape, n, self.dtype, axis=1) for j in self.Jc or layers]
            self.out = np.zeros(2 * self.H * cap * self.D, self.dtype)
        self.cap = cap

    def snapshot(self, t: int) -> tuple:
        """The tangents after t steps (copies), for restore."""
        return [j[:, :t].copy() for j in self.Jh], [j[:, :t].copy() for j in self.Jc]

    def restore(self, sums: tuple) -> None:
        for keep, saved in zip((self.Jh, self.Jc), sums, strict=True):
            for a, b in zip(keep, saved, strict=True):
                a[:, : b.shape[1]] = b

    def step(self, fwd: list[dict], i: int, t: int) -> dict[str, np.ndarray]:
        x: np.ndarray | None = None  # the tangents of layer n's input: None at layer 0 (x_t, s = t)
        folded = {"rnn": _rnn_folded, "lstm": _lstm_folded, "gru": _gru_folded}[self.cfg.arch]
        for n in range(self.layer + 1):
            self.Jh[n], self.Jprev[n] = self.Jprev[n], self.Jh[n]
            self.Jprev[n][:, t] = 0.0  # nothing of x_t reached h_(t-1)
            k_h, k_x, keep = folded(self.cfg, fwd[n], i, self.w_hh[n], self.w_ih[n], self.edits[n])
            x = self._move(n, t, x, k_h.astype(self.dtype), k_x.astype(self.dtype), keep)
        assert x is not None
        return {"norm": np.sqrt(np.einsum("hsd,hsd->s", x, x))}

    def _product(self, t: int, x, k_h: np.ndarray, k_x: np.ndarray, prev: np.ndarray, out: np.ndarray):
        """out (rows, t + 1, D) = k_h dh_(t-1)/dx_s + k_x dx_t/dx_s, for s = 0..t."""
        m, D = t + 1, self.D
        np.matmul(k_h, prev[:, :m].reshape(self.H, m * D), out=out.reshape(len(k_h), m * D))
        if x is None:  # layer 0: dx_t/dx_s is the identity at s = t, else 0
            out[:, t] += k_x
        else:
            out += (k_x @ x.reshape(len(x), m * D)).reshape(out.shape)

    def _move(self, n: int, t: int, x, k_h, k_x, keep) -> np.ndarray:
        """dh_t/dx_s for s = 0..t of layer n, into self.Jh[n]."""
        m, H, J, prev = t + 1, self.H, self.Jh[n][:, : t + 1], self.Jprev[n]
        if self.cfg.arch != "lstm":
            self._product(t, x, k_h, k_x, prev, J)
        else:  # k = [dc; the rest of dh]: dc_t = k_c (..) + f dc_(t-1), dh_t = a dc_t + k_o (..)
            out = self.out[: 2 * H * m * self.D].reshape(2 * H, m, self.D)
            self._product(t, x, k_h, k_x, prev, out)
            Jc = self.Jc[n][:, :m]
            f, a = keep
            Jc[:, t] = 0.0
            Jc *= f[:, None, None]
            Jc += out[:H]
            np.multiply(Jc, a[:, None, None], out=J)
            J += out[H:]
        return _free(J, "h", self.edits[n])


def _sig(what: str, edits: dict, slope: np.ndarray) -> np.ndarray:
    """A gate's slope, 0 where an edit forces the gate (a constant)."""
    return _free(slope.copy(), what, edits)


def _rnn_folded(cfg, f: dict, i: int, w_hh, w_ih, e: dict):
    """h_t = act(W_ih x_t + W_hh h_(t-1) + b): k = diag(act') W."""
    h = f["h"][i]
    slope = (1.0 - h * h if cfg.nonlinearity == "tanh" else (h > 0).astype(float))[:, None]
    return slope * w_hh, slope * w_ih, None


def _lstm_folded(cfg, f: dict, i: int, w_hh, w_ih, e: dict):
    """dc_t = [c_(t-1) f' W_f + i g' W_g + g i' W_i] (..) + f dc_(t-1); dh_t = o tanh'(c_t) dc_t +
    tanh(c_t) o' W_o (..): k = [k_c; k_o] over the rows of W (i, f, g, o), for W_hh and W_ih."""
    H, act, c = cfg.hidden, f["act"][i], f["c"][i]
    ig, fg, g, o = (act[k * H : (k + 1) * H] for k in range(4))
    c_prev, tc = f["c"][i - 1] if i else f["c0"], np.tanh(c)
    coef = (
        _sig("i", e, ig * (1.0 - ig)) * g,
        _sig("f", e, fg * (1.0 - fg)) * c_prev,
        _sig("g", e, 1.0 - g * g) * ig,
        _sig("o", e, o * (1.0 - o)) * tc,
    )

    def fold(W):
        rows = [coef[k][:, None] * W[k * H : (k + 1) * H] for k in range(4)]
        return np.concatenate([rows[0] + rows[1] + rows[2], rows[3]])

    return fold(w_hh), fold(w_ih), (fg, o * (1.0 - tc * tc))


def _gru_folded(cfg, f: dict, i: int, w_hh, w_ih, e: dict):
    """h_t = (1 - z) n + z h_(t-1), n = tanh(W_in x + r (W_hn h + b_hn)): dh_t = k_h dh_(t-1) +
    k_x dx_t, with k_h = (1-z) n' (hn r' W_hr + r W_hn) + (h_(t-1) - n) z' W_hz + diag(z)."""
    H, act, hn = cfg.hidden, f["act"][i], f["hn"][i]
    r, z, n = (act[k * H : (k + 1) * H] for k in range(3))
    h_prev = f["h"][i - 1] if i else f["h0"]
    q = (1.0 - z) * _sig("n", e, 1.0 - n * n)
    sr, sz = _sig("r", e, r * (1.0 - r)), _sig("z", e, z * (1.0 - z))

    def fold(W, r_on_n):
        return (
            (q * hn * sr)[:, None] * W[:H]
            + ((h_prev - n) * sz)[:, None] * W[H : 2 * H]
            + (q * (r if r_on_n else 1.0))[:, None] * W[2 * H :]
        )

    k_h = fold(w_hh, True)
    k_h[np.diag_indices(H)] += z
    return k_h, fold(w_ih, False), None


def _bigger(a: np.ndarray | None, shape: tuple, n: int, dtype, axis: int = 0) -> np.ndarray:
    """A zero array of `shape` holding a's first n entries along `axis`."""
    out = np.zeros(shape, dtype)
    if a is not None and n:
        idx = (slice(None),) * axis + (slice(0, n),)
        out[idx] = a[idx]
    return out


def hidden_attention(f: dict, c: int, edits: dict) -> np.ndarray:
    """Channel c's hidden attention (Ali et al. 2024) of one SSM layer: (T, T), NaN above the
    diagonal; alpha[t, s] = sum_n C_t[n] (prod_(k=s+1..t) exp(Delta_k[c] A[c, n])) Delta_s[c] B_s[n],
    so y_t[c] = sum_s alpha[t, s] u_s[c] + D[c] u_t[c]. A clamped state row reads nothing: zeros."""
    T = len(f["h"])
    alpha = np.full((T, T), np.nan)
    dA, delta, B, C = f["dA"][:, c], f["gates"]["delta"][:, c], f["gates"]["B"], f["gates"]["C"]
    clamped = "s" in edits and bool(edits["s"][0][c])
    K = np.zeros_like(B)  # (T, N): token s's part of channel c's state, per unit of u_s[c]
    for t in range(T):
        K[:t] *= dA[t]
        K[t] = 0.0 if clamped else delta[t] * B[t]
        alpha[t, : t + 1] = K[: t + 1] @ C[t]
    return alpha
