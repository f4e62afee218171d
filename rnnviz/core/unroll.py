"""The unrolled network as a sequence of frames: the forward pass one step (or one gate) at a
time, then backpropagation through time from the target step back to the first.

Everything here is numbers from a Trace and the model's weights (no Qt): the app's unrolled
view, its step-through animation and `rnnviz animate` draw the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.core import unroll_modern
from rnnviz.core.trace import Trace, TraceWeights

# Sub-steps of one cell, in the order the equations compute them (detail mode).
SUBSTEPS = {
    "rnn": ("input and recurrent terms", "h = tanh(pre-activation)"),
    "lstm": (
        "forget gate f",
        "input gate i, candidate g",
        "cell c = f*c + i*g",
        "output gate o, h = o*tanh(c)",
    ),
    "gru": ("reset r, update z", "candidate n", "h = (1-z)*n + z*h_prev"),
    "mingru": ("update gate z", "candidate h~ (from x_t alone)", "h = (1-z)*h_prev + z*h~"),
    "minlstm": (
        "gates f, i and their shares f', i'",
        "candidate h~ (from x_t alone)",
        "h = f'*h_prev + i'*h~",
    ),
    "ssm": (
        "u and the step Delta",
        "B and C",
        "state s = exp(Delta A)*s + Delta*u*B",
        "y = s.C + D*u, h = y*silu(gate)",
    ),
}


@dataclass(frozen=True)
class Frame:
    phase: str  # "forward" or "backward"
    t: int  # the time step being computed (forward) or reached by the gradient (backward)
    sub: int = -1  # forward detail: the sub-step inside the cell (-1: the whole step)

    def caption(self, trace: Trace) -> str:
        tok = trace.tokens[self.t]
        if self.phase == "forward":
            what = f"forward, step {self.t} {tok!r}"
            if self.sub >= 0:
                what += f": {SUBSTEPS[trace.cfg.arch][self.sub]}"
            return what
        g, what = trace.grad_h[:, self.t], "h"
        if trace.grad_state is not None:  # the S6's gradient runs back through its state s, not h
            g, what = trace.grad_state[:, self.t], "s"
        return (
            f"backward from step {trace.target_step}, at step {self.t} {tok!r}: "
            f"||dL/d{what}_t|| = {', '.join(f'{v:.2e}' for v in g)}"
        )


def frames(trace: Trace, detail: bool = False) -> list[Frame]:
    """Forward over every step (each sub-step in detail mode), then backward from the target
    step down to step 0: at least one frame per forward and per backward step."""
    out: list[Frame] = []
    n_sub = len(SUBSTEPS[trace.cfg.arch])
    for t in range(trace.steps):
        if detail:
            out += [Frame("forward", t, k) for k in range(n_sub)]
        else:
            out.append(Frame("forward", t))
    out += [Frame("backward", t) for t in range(trace.target_step, -1, -1)]
    return out


def revealed(frame: Frame, t: int) -> bool:
    """Whether step t's forward values are shown at this frame (all are, once going backward)."""
    return frame.phase == "backward" or t <= frame.t


def grad_shown(frame: Frame, trace: Trace, t: int) -> bool:
    """Whether step t's dL/dh_t has been reached at this frame."""
    return frame.phase == "backward" and frame.t <= t <= trace.target_step


def cell_detail(w: TraceWeights, trace: Trace, layer: int, t: int, unit: int) -> dict[str, float]:
    """Inside one cell for one unit: the terms the equations add and the values they give.

    RNN: input term (W_ih x_t + b_ih), recurrent term (W_hh h_(t-1) + b_hh), pre-activation, h.
    LSTM: the same terms per gate, i, f, g, o, c_prev, c and h. GRU: r, z, n, h_prev and h.
    Recomputed from the weights (tested against the Trace's own values). minGRU, minLSTM, S6:
    core.unroll_modern.cell_detail.
    """
    cfg, H = trace.cfg, trace.cfg.hidden
    if cfg.modern:
        return unroll_modern.cell_detail(w, trace, layer, t, unit)
    lw = w.layers[layer]
    if layer == 0:
        x = trace.inputs if trace.inputs is not None else trace.ids
        x_proj = w.input_projection(x[t : t + 1])[0]
    else:
        x_proj = trace.h[layer - 1, t] @ lw.w_ih.T + lw.b_ih
    h_prev = trace.h[layer, t - 1] if t else np.zeros(H)
    rec = h_prev @ lw.w_hh.T + lw.b_hh
    rows = {"rnn": ("",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}[cfg.arch]
    d: dict[str, float] = {"h_prev": float(h_prev[unit]), "h": float(trace.h[layer, t, unit])}
    for k, g in enumerate(rows):
        at = k * H + unit
        d[f"input{g and '_' + g}"] = float(x_proj[at])
        d[f"recurrent{g and '_' + g}"] = float(rec[at])
    if cfg.arch == "rnn":
        d["pre"] = d["input"] + d["recurrent"]
    elif cfg.arch == "lstm":
        for g in rows:
            d[g] = float(trace.gates[g][layer, t, unit])
        d["c_prev"] = float(need(trace.c)[layer, t - 1, unit]) if t else 0.0
        d["c"] = float(need(trace.c)[layer, t, unit])
    else:
        for g in rows:
            d[g] = float(trace.gates[g][layer, t, unit])
    return d


def need(a: np.ndarray | None) -> np.ndarray:
    """An array the trace has for this cell (c and dL/dc for an LSTM, dL/dh for every full trace)."""
    assert a is not None, "the trace lacks an array this cell has"
    return a


def frame_detail(w: TraceWeights, tr: Trace, frame: Frame, layer: int, unit: int, interventions=()) -> dict:
    """The numbers the cell panel shows at a frame: the forward equations' terms, or how the
    gradient arrived (backward). interventions: those the trace was made with (the modern cells'
    numbers are replayed with them; the classic cells' are read from the trace)."""
    if tr.cfg.modern:
        detail = unroll_modern.cell_detail if frame.phase == "forward" else unroll_modern.backward_detail
        return detail(w, tr, layer, frame.t, unit, interventions)
    if frame.phase == "forward":
        return cell_detail(w, tr, layer, frame.t, unit)
    return backward_detail(w, tr, layer, frame.t, unit)


def _pre_grad(w: TraceWeights, tr: Trace, n: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """dL/d(pre-activations) of layer n at step t, from the trace's dL/dh_t (and dL/dc_t):
    (d_a for W_ih, d_a for W_hh); they differ only for a GRU, whose candidate sees r * W_hn h."""
    H, arch, dh = tr.cfg.hidden, tr.cfg.arch, need(tr.dh)[n, t]
    h_prev = tr.h[n, t - 1] if t else np.zeros(H)
    if arch == "rnn":
        da = dh * (1.0 - tr.h[n, t] ** 2) if tr.cfg.nonlinearity == "tanh" else dh * (tr.h[n, t] > 0)
        return da, da
    gate = {k: v[n, t] for k, v in tr.gates.items()}
    if arch == "lstm":
        i, f, g, o, c, dc = gate["i"], gate["f"], gate["g"], gate["o"], need(tr.c)[n, t], need(tr.dc)[n, t]
        c_prev = need(tr.c)[n, t - 1] if t else np.zeros(H)
        tc = np.tanh(c)
        da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                             dh * tc * o * (1 - o)])  # fmt: skip
        return da, da
    r, z, nn = gate["r"], gate["z"], gate["n"]
    lw = w.layers[n]
    hn = h_prev @ lw.w_hh[2 * H :].T + lw.b_hh[2 * H :]
    dan = dh * (1 - z) * (1 - nn * nn)
    da = np.concatenate([dan * hn * r * (1 - r), dh * (h_prev - nn) * z * (1 - z), dan])
    return da, np.concatenate([da[: 2 * H], dan * r])


def backward_detail(w: TraceWeights, tr: Trace, layer: int, t: int, unit: int) -> dict:
    """How dL/dh_t of one unit is made, for the backward phase: the part arriving through time
    (from step t+1), the part from above (the loss at the target step, or the layer above), their
    sum, and the norms beside step t+1's; for an LSTM also dL/dc_t = f_(t+1) dL/dc_(t+1) + the
    part through h_t. Recomputed from the trace's dL/dh and dL/dc (tested to add up). minGRU,
    minLSTM, S6: core.unroll_modern.backward_detail."""
    if tr.cfg.modern:
        return unroll_modern.backward_detail(w, tr, layer, t, unit)
    s, L, u = tr.target_step, tr.cfg.layers, unit
    d: dict = {"dh": float(need(tr.dh)[layer, t, u]), "norm": float(tr.grad_h[layer, t]), "steps_back": s - t}
    d["norm_target"] = float(tr.grad_h[layer, s])
    d["through_time"] = 0.0
    if t < s:
        _, da_next = _pre_grad(w, tr, layer, t + 1)
        d["through_time"] = float(da_next @ w.layers[layer].w_hh[:, u])
        if tr.cfg.arch == "gru":
            d["through_time"] += float(need(tr.dh)[layer, t + 1, u] * tr.gates["z"][layer, t + 1, u])
        d["norm_next"] = float(tr.grad_h[layer, t + 1])
    if layer < L - 1:
        da_above, _ = _pre_grad(w, tr, layer + 1, t)
        d["from_above"], d["source"] = float(da_above @ w.layers[layer + 1].w_ih[:, u]), f"layer {layer + 2}"
    else:
        d["from_above"] = float(unroll_modern.d_out(tr) @ w.head_w[:, u]) if t == s else 0.0
        d["source"] = "the loss" if t == s else "none"
    if tr.dc is not None:
        o, c = tr.gates["o"][layer, t, u], need(tr.c)[layer, t, u]
        d["dc"], d["dc_norm"] = float(need(tr.dc)[layer, t, u]), float(need(tr.grad_c)[layer, t])
        d["dc_via_h"] = float(need(tr.dh)[layer, t, u] * o * (1 - np.tanh(c) ** 2))
        d["f_next"] = float(tr.gates["f"][layer, t + 1, u]) if t < s else 0.0
        d["dc_next"] = float(need(tr.dc)[layer, t + 1, u]) if t < s else 0.0
    return d
