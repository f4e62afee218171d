"""The unrolled network as a sequence of frames: the forward pass one step (or one gate) at a
time, then backpropagation through time from the target step back to the first.

Everything here is numbers from a Trace and the model's weights (no Qt): the app's unrolled
view, its step-through animation and `rnnviz animate` draw the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
        g = trace.grad_h[:, self.t]
        return (
            f"backward from step {trace.target_step}, at step {self.t} {tok!r}: "
            f"||dL/dh_t|| = {', '.join(f'{v:.2e}' for v in g)}"
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
    Recomputed from the weights (tested against the Trace's own values).
    """
    cfg, H = trace.cfg, trace.cfg.hidden
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
        d["c_prev"] = float(trace.c[layer, t - 1, unit]) if t else 0.0
        d["c"] = float(trace.c[layer, t, unit])
    else:
        for g in rows:
            d[g] = float(trace.gates[g][layer, t, unit])
    return d
