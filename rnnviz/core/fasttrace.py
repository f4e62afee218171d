"""FastTracer: the trace of the typed text on every keystroke (core.trace.trace is the reference).

The same numbers as the reference (states and gates in float32, gradients and probabilities in
float64; tested to agree), made fast for typing:
- the forward pass is kept: typing a character computes one new step per layer, deleting one
  computes nothing, an edit recomputes from the first changed token; new weights start afresh;
- the backward pass precomputes every factor that does not depend on the gradient, so each step
  is one matrix-vector product and a handful of vector operations, with no allocation;
- float32 has a narrow range, and gradients vanish (or explode) through time: every few steps
  the backward vectors are rescaled by a power of two and the scale is kept beside them (the
  backward is linear in its seed), so no value underflows or overflows.
Token models only (value models are traced by the reference).

FastTracer(w) of a minGRU, minLSTM or SSM is a core.fasttrace_modern.ModernTracer.
"""

from __future__ import annotations

import numpy as np

from rnnviz.core.trace import Trace, TraceWeights, check_request, loss_gradient, softmax

F32 = np.float32
RESCALE_EVERY = 8  # backward steps between range checks
TOO_SMALL, TOO_BIG = 2.0**-40, 2.0**40  # (the running scale stays below 1e300: float64's range)


class FastTracer:
    def __new__(cls, w: TraceWeights):
        if cls is FastTracer and w.cfg.modern:
            from rnnviz.core.fasttrace_modern import ModernTracer

            return super().__new__(ModernTracer)
        return super().__new__(cls)

    def __init__(self, w: TraceWeights):
        if w.cfg.regression:
            raise ValueError("FastTracer traces token models; value models use core.trace.trace_series")
        self.w, self.cfg = w, w.cfg
        H, arch = w.cfg.hidden, w.cfg.arch
        self.layers = []
        for lw in w.layers:
            b = lw.b_ih.copy()
            if arch != "gru":  # the recurrent bias joins the input's (GRU: its candidate part is scaled by r)
                b += lw.b_hh
            self.layers.append(
                dict(
                    w_ih=lw.w_ih.astype(F32),
                    w_ihT=np.ascontiguousarray(lw.w_ih.T, dtype=F32),
                    w_hh=lw.w_hh.astype(F32),
                    w_hhT=np.ascontiguousarray(lw.w_hh.T, dtype=F32),
                    b=b.astype(F32),
                    b_hh=lw.b_hh.astype(F32),
                )
            )
        self.embedding = None if w.embedding is None else w.embedding.astype(F32)
        self.head_wT = np.ascontiguousarray(w.head_w.T, dtype=F32)
        self.head_w, self.head_b = w.head_w.astype(F32), w.head_b.astype(F32)
        self.G = {"rnn": 1, "lstm": 4, "gru": 3}[arch]
        self.H = H
        self.ids = np.zeros(0, dtype=np.int64)  # the tokens whose forward pass is kept
        self._alloc(256)

    # ---- the kept forward pass --------------------------------------------------------------
    def _alloc(self, cap: int) -> None:
        L, H, GH, V = self.cfg.layers, self.H, self.G * self.H, len(self.head_b)
        old, n = getattr(self, "buf", None), len(self.ids)
        self.cap = cap
        self.buf = {
            "h": np.zeros((L, cap, H), F32),
            "c": np.zeros((L, cap, H), F32),  # LSTM
            "tc": np.zeros((L, cap, H), F32),  # LSTM: tanh(c)
            "hn": np.zeros((L, cap, H), F32),  # GRU: W_hn h_(t-1) + b_hn
            "act": np.zeros((L, cap, GH), F32),  # activated gates
            "xp": np.zeros((L, cap, GH), F32),  # W_ih x_t + biases
            "logits": np.zeros((cap, V), F32),
        }
        if old is not None:
            for k, a in old.items():
                self.buf[k][..., :n, :] = a[..., :n, :]

    def _forward(self, ids: np.ndarray) -> None:
        """Keep the forward pass of `ids`: only the steps after the part shared with the last ids."""
        n = min(len(ids), len(self.ids))
        same = np.flatnonzero(ids[:n] != self.ids[:n])
        k = int(same[0]) if same.size else n
        T = len(ids)
        if T > self.cap:
            self.ids = self.ids[:k]
            self._alloc(max(T, 2 * self.cap))
        if k < T:
            self._forward_from(ids, k, T)
        self.ids = ids.copy()

    def _forward_from(self, ids: np.ndarray, k: int, T: int) -> None:
        b, L = self.buf, self.cfg.layers
        for n, lw in enumerate(self.layers):
            xp = b["xp"][n, k:T]
            if n == 0:
                if self.embedding is not None:
                    np.dot(self.embedding[ids[k:T]], lw["w_ihT"], out=xp)
                else:
                    xp[:] = lw["w_ihT"][ids[k:T]]  # a one-hot x_t picks one column of W_ih
            elif T - k == 1:  # one step (typing, sampling): matrix @ vector is the faster product
                np.dot(lw["w_ih"], b["h"][n - 1, k], out=xp[0])
            else:
                np.dot(b["h"][n - 1, k:T], lw["w_ihT"], out=xp)
            xp += lw["b"]
            _STEP[self.cfg.arch](self, n, lw, k, T)
        if T - k == 1:
            np.dot(self.head_w, b["h"][L - 1, k], out=b["logits"][k])
        else:
            np.dot(b["h"][L - 1, k:T], self.head_wT, out=b["logits"][k:T])
        b["logits"][k:T] += self.head_b

    def _lstm_steps(self, n: int, lw: dict, k: int, T: int) -> None:
        b, H = self.buf, self.H
        h = b["h"][n, k - 1] if k else np.zeros(H, F32)
        c = b["c"][n, k - 1] if k else np.zeros(H, F32)
        w_hh = lw["w_hh"]
        for t in range(k, T):
            a = b["act"][n, t]
            np.dot(w_hh, h, out=a)
            a += b["xp"][n, t]
            g = np.tanh(a[2 * H : 3 * H])
            _sigmoid_(a)
            a[2 * H : 3 * H] = g
            c_new, h_new, tc = b["c"][n, t], b["h"][n, t], b["tc"][n, t]
            np.multiply(a[H : 2 * H], c, out=c_new)
            c_new += a[:H] * g
            np.tanh(c_new, out=tc)
            np.multiply(a[3 * H :], tc, out=h_new)
            h, c = h_new, c_new

    def _rnn_steps(self, n: int, lw: dict, k: int, T: int) -> None:
        b = self.buf
        h = b["h"][n, k - 1] if k else np.zeros(self.H, F32)
        w_hh, relu = lw["w_hh"], self.cfg.nonlinearity == "relu"
        for t in range(k, T):
            h_new = b["h"][n, t]
            np.dot(w_hh, h, out=h_new)
            h_new += b["xp"][n, t]
            if relu:
                np.maximum(h_new, 0, out=h_new)
            else:
                np.tanh(h_new, out=h_new)
            b["act"][n, t] = h_new
            h = h_new

    def _gru_steps(self, n: int, lw: dict, k: int, T: int) -> None:
        b, H = self.buf, self.H
        h = b["h"][n, k - 1] if k else np.zeros(H, F32)
        w_hh, b_hh = lw["w_hh"], lw["b_hh"]
        hh = np.empty(3 * H, F32)
        for t in range(k, T):
            np.dot(w_hh, h, out=hh)
            hh += b_hh
            a, xp = b["act"][n, t], b["xp"][n, t]
            np.add(xp[: 2 * H], hh[: 2 * H], out=a[: 2 * H])
            _sigmoid_(a[: 2 * H])
            nn = a[2 * H :]
            np.multiply(a[:H], hh[2 * H :], out=nn)
            nn += xp[2 * H :]
            np.tanh(nn, out=nn)
            b["hn"][n, t] = hh[2 * H :]
            h_new = b["h"][n, t]
            np.subtract(h, nn, out=h_new)
            h_new *= a[H : 2 * H]
            h_new += nn  # (1 - z) n + z h = n + z (h - n)
            h = h_new

    # ---- a trace ----------------------------------------------------------------------------
    def trace(
        self, ids, tokens=None, vocab=None, level="char", target_step=None, target_id=None, gradients=True
    ) -> Trace:
        """As core.trace.trace (same arguments and result). Diverged weights give non-finite numbers
        (sooner than in float64: beyond 3e38), which the app reports; numpy is not asked to warn.
        gradients=False: the forward pass only (Trace.gradients False), for a first look while typing."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._trace(ids, tokens, vocab, level, target_step, target_id, gradients)

    def _trace(self, ids, tokens, vocab, level, target_step, target_id, gradients=True) -> Trace:
        V = len(self.head_b)
        ids, s = check_request(ids, V, target_step)
        T = len(ids)
        self._forward(ids)
        b, H, cfg = self.buf, self.H, self.cfg
        probs = softmax(b["logits"][:T].astype(np.float64))
        tid, d_out = loss_gradient(probs, s, target_id)
        if gradients:
            dh, dc, above, attribution = self._backward(T, s, d_out)
            grad_h = np.linalg.norm(dh, axis=-1)
            grad_c = None if dc is None else np.linalg.norm(dc, axis=-1)
        else:  # not computed: zeros of the right shapes, and Trace.gradients says so
            dh = dc = above = attribution = None
            grad_h = np.zeros((cfg.layers, T))
            grad_c = np.zeros((cfg.layers, T)) if cfg.arch == "lstm" else None
        act = b["act"][:, :T].copy()  # float32 (the views draw them; gradients stay float64)
        names = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}[cfg.arch]
        vocab = tuple(vocab) if vocab is not None else tuple(str(i) for i in range(V))
        return Trace(
            cfg=cfg,
            vocab=vocab,
            level=level,
            tokens=tuple(tokens) if tokens is not None else tuple(vocab[i] for i in ids),
            ids=ids,
            h=b["h"][:, :T].copy(),
            c=b["c"][:, :T].copy() if cfg.arch == "lstm" else None,
            gates={g: act[:, :, k * H : (k + 1) * H] for k, g in enumerate(names)},
            probs=probs,
            grad_h=grad_h,
            grad_c=grad_c,
            target_step=s,
            target_id=tid,
            dh=dh,
            dc=dc,
            grad_above=above,
            attribution=attribution,
            gradients=gradients,
        )

    def _backward(self, T: int, s: int, d_out: np.ndarray):
        """dL/dh (and dL/dc) of every layer and step, and the norms of what comes from above."""
        L, H = self.cfg.layers, self.H
        inject = np.zeros((T, H), F32)
        inject[s] = (d_out @ self.w.head_w).astype(F32)
        inj_scale = np.ones(T)  # true injection = inject[t] / inj_scale[t]
        dh_all, dc_all, above = np.zeros((L, T, H)), None, np.zeros((L, T))
        if self.cfg.arch == "lstm":
            dc_all = np.zeros((L, T, H))
        for n in range(L - 1, -1, -1):
            above[n] = np.linalg.norm(inject, axis=-1) / inj_scale
            dh, dc, da, scale = _BACK[self.cfg.arch](self, n, inject, inj_scale, s)
            dh_all[n, : s + 1] = dh[: s + 1] / scale[: s + 1, None]
            if dc_all is not None:
                dc_all[n, : s + 1] = dc[: s + 1] / scale[: s + 1, None]
            D = self.layers[n]["w_ih"].shape[1]  # what layer n reads: the layer below, or the input
            inject = np.zeros((T, D), F32)
            np.dot(da[: s + 1], self.layers[n]["w_ih"], out=inject[: s + 1])
            inj_scale = np.ones(T)
            inj_scale[: s + 1] = scale
        dx = inject.astype(np.float64) / inj_scale[:, None]  # dL/dx_t of the inputs
        return dh_all, dc_all, above, (dx * dx).sum(-1)

    # Each backward loop: row t of DH (and DC) first receives what flows back from step t+1; step t
    # adds the injection from above, makes dL/d(pre-activations) (DA[t]), and sends its share back to
    # row t-1. Rows are taken from lists (cheaper than indexing), products are matrix @ vector.
    def _lstm_back(self, n, inject, inj_scale, s):
        b, H, T = self.buf, self.H, s + 1
        act, tc, c = b["act"][n, :T], b["tc"][n, :T], b["c"][n, :T]
        i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
        c_prev = np.vstack([np.zeros((1, H), F32), c[:-1]])
        A = o * (1 - tc * tc)  # dL/dc_t gets dL/dh_t * A
        B3 = np.stack(
            [g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)], axis=1
        )  # (T, 3, H) for i, f, g
        Bo = tc * o * (1 - o)
        DH, DC, DA = np.zeros((T, H), F32), np.zeros((T, H), F32), np.zeros((T, 4, H), F32)
        dh_r, dc_r, da_r = list(DH), list(DC), list(DA.reshape(T, 4 * H))
        da3_r, dao_r = list(DA[:, :3]), list(DA[:, 3])
        A_r, B3_r, Bo_r, f_r, inj_r = list(A), list(B3), list(Bo), list(f), list(inject)
        w, tmp, scale = self.layers[n]["w_hhT"], np.empty(H, F32), np.ones(T)
        S, sc, has = 1.0, inj_scale.tolist(), _has_injection(inject, T)
        for t in range(s, -1, -1):
            dh, dc = dh_r[t], dc_r[t]
            if has[t]:
                _add_injection(dh, inj_r[t], S / sc[t], tmp)
            np.multiply(dh, A_r[t], out=tmp)
            dc += tmp
            np.multiply(dc, B3_r[t], out=da3_r[t])
            np.multiply(dh, Bo_r[t], out=dao_r[t])
            scale[t] = S
            if t:
                np.dot(w, da_r[t], out=dh_r[t - 1])
                np.multiply(dc, f_r[t], out=dc_r[t - 1])
                if (s - t) % RESCALE_EVERY == RESCALE_EVERY - 1:
                    S = _rescale(S, dh_r[t - 1], dc_r[t - 1])
        return DH, DC, DA.reshape(T, 4 * H), scale

    def _rnn_back(self, n, inject, inj_scale, s):
        b, H, T = self.buf, self.H, s + 1
        h = b["h"][n, :T]
        D = (1 - h * h) if self.cfg.nonlinearity == "tanh" else (h > 0).astype(F32)
        DH, DA = np.zeros((T, H), F32), np.zeros((T, H), F32)
        dh_r, da_r, D_r, inj_r = list(DH), list(DA), list(D), list(inject)
        w, tmp, scale = self.layers[n]["w_hhT"], np.empty(H, F32), np.ones(T)
        S, sc, has = 1.0, inj_scale.tolist(), _has_injection(inject, T)
        for t in range(s, -1, -1):
            dh = dh_r[t]
            if has[t]:
                _add_injection(dh, inj_r[t], S / sc[t], tmp)
            np.multiply(dh, D_r[t], out=da_r[t])
            scale[t] = S
            if t:
                np.dot(w, da_r[t], out=dh_r[t - 1])
                if (s - t) % RESCALE_EVERY == RESCALE_EVERY - 1:
                    S = _rescale(S, dh_r[t - 1])
        return DH, None, DA, scale

    def _gru_back(self, n, inject, inj_scale, s):
        b, H, T = self.buf, self.H, s + 1
        act, hn, h = b["act"][n, :T], b["hn"][n, :T], b["h"][n, :T]
        r, z, nn = act[:, :H], act[:, H : 2 * H], act[:, 2 * H :]
        h_prev = np.vstack([np.zeros((1, H), F32), h[:-1]])
        P = (1 - z) * (1 - nn * nn)  # dL/d(candidate pre-activation) = dL/dh_t * P
        Qr, Qz = hn * r * (1 - r), (h_prev - nn) * z * (1 - z)
        DH, DA = np.zeros((T, H), F32), np.zeros((T, 3, H), F32)
        dh_r, dar_r, daz_r, dan_r = list(DH), list(DA[:, 0]), list(DA[:, 1]), list(DA[:, 2])
        da2_r, P_r, Qr_r, Qz_r = list(DA.reshape(T, 3 * H)[:, : 2 * H]), list(P), list(Qr), list(Qz)
        r_r, z_r, inj_r = list(r), list(z), list(inject)
        M, tmp = np.empty(3 * H, F32), np.empty(H, F32)  # what W_hh sees: (da_r, da_z, r * da_n)
        w, scale = self.layers[n]["w_hhT"], np.ones(T)
        S, sc, has = 1.0, inj_scale.tolist(), _has_injection(inject, T)
        for t in range(s, -1, -1):
            dh, dan = dh_r[t], dan_r[t]
            if has[t]:
                _add_injection(dh, inj_r[t], S / sc[t], tmp)
            np.multiply(dh, P_r[t], out=dan)
            np.multiply(dan, Qr_r[t], out=dar_r[t])
            np.multiply(dh, Qz_r[t], out=daz_r[t])
            scale[t] = S
            if t:
                M[: 2 * H] = da2_r[t]
                np.multiply(dan, r_r[t], out=M[2 * H :])
                prev = dh_r[t - 1]
                np.dot(w, M, out=prev)
                np.multiply(dh, z_r[t], out=tmp)
                prev += tmp
                if (s - t) % RESCALE_EVERY == RESCALE_EVERY - 1:
                    S = _rescale(S, prev)
        return DH, None, DA.reshape(T, 3 * H), scale

    # ---- continuing the text ----------------------------------------------------------------
    def sample(self, length: int, temperature: float, seed: int | None = None) -> np.ndarray:
        """As core.generate.sample from the state after the kept text (the last ids traced): draws
        `length` tokens, each read in turn past the end of the kept forward pass (which stays)."""
        from rnnviz.core.generate import _draw, check_sampling

        check_sampling(length, temperature, seed)
        T = len(self.ids)
        if T == 0:
            from rnnviz.core.errors import VocabError

            raise VocabError("the prompt is empty: give at least one token to start from")
        if T + length > self.cap:
            self._alloc(max(T + length, 2 * self.cap))
        rng, out = np.random.default_rng(seed), np.empty(length, dtype=np.int64)
        ids = np.concatenate([self.ids, out])
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(length):
                t = T + k
                ids[t] = out[k] = _draw(self.buf["logits"][t - 1].astype(np.float64), temperature, rng)
                if k + 1 < length:
                    self._forward_from(ids, t, t + 1)  # past the kept part: self.ids stays as it is
        return out


def _sigmoid_(a: np.ndarray) -> None:
    """In place: 1 / (1 + e^-a), as 0.5 (1 + tanh(a / 2)) (exact and overflow-free)."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5


def _has_injection(inject: np.ndarray, T: int) -> list[bool]:
    """Which of the first T rows inject anything (the top layer: the target step only)."""
    rows = np.asarray(inject[:T].any(axis=1))
    return [bool(v) for v in rows]


def _add_injection(dh: np.ndarray, inj: np.ndarray, ratio: float, tmp: np.ndarray) -> None:
    """dh += inj * ratio (the injection brought to this layer's running scale)."""
    if ratio == 1.0:
        dh += inj
    else:
        np.multiply(inj, ratio, out=tmp)
        dh += tmp


def _rescale(S: float, *vectors: np.ndarray) -> float:
    """Bring the running backward vectors near 1 by a power of two when they have drifted far."""
    m = max(float(np.abs(v).max()) for v in vectors)
    if m == 0.0 or not np.isfinite(m) or TOO_SMALL <= m <= TOO_BIG:
        return S
    k = float(2.0 ** -np.round(np.log2(m)))
    if S * k > 1e300:  # below float64's range too (as in the reference): nothing more arrives from here
        k = 0.0
    for v in vectors:
        v *= F32(k)
    return S * k if k else S


_STEP = {"rnn": FastTracer._rnn_steps, "lstm": FastTracer._lstm_steps, "gru": FastTracer._gru_steps}
_BACK = {"rnn": FastTracer._rnn_back, "lstm": FastTracer._lstm_back, "gru": FastTracer._gru_back}
