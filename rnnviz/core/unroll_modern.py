"""The step-through's numbers inside a minGRU, minLSTM or S6 cell (core.unroll for the classic ones).

These cells' gates read x_t only, and the step from one time to the next is elementwise:
minGRU h_t = (1 - z_t) h_(t-1) + z_t h~_t, minLSTM h_t = f'_t h_(t-1) + i'_t h~_t, and the S6's
state s_t = exp(Delta_t A) s_(t-1) + Delta_t u_t B_t (a row of N numbers per channel). Backward,
the gradient through time is scaled by the same decay: dL/dh_(t-1) gets (1 - z_t) dL/dh_t
(minGRU), f'_t dL/dh_t (minLSTM); the S6's h_t is no state (dL/dh_t comes from above only) and
dL/ds_(t-1) gets exp(Delta_t A) dL/ds_t.

Every number is read from the cell's own forward and backward functions (core.cells_modern) run
again over the trace's text, layer by layer with the same interventions: the trace keeps h, the
gates and s, not the candidate h~, u, the decays or what each layer receives from the one above.
"""

from __future__ import annotations

import numpy as np

from rnnviz.core import cells_modern
from rnnviz.core.intervene import layer_edits
from rnnviz.core.trace import Trace, TraceWeights

_last: list = []  # [trace, weights, interventions, (forward dicts, from above)]: the last replay


def d_out(tr: Trace) -> np.ndarray:
    """dL/d(output) at the target step: softmax minus one-hot, or the forecast's error."""
    s = tr.target_step
    if tr.values is not None:
        return np.array([1.0 if tr.target_value is None else tr.values[s] - tr.target_value])
    d = tr.probs[s].copy()
    d[tr.target_id] -= 1.0
    return d


def replay(w: TraceWeights, tr: Trace, interventions=()) -> tuple[list[dict], list[np.ndarray]]:
    """Per layer the cell's forward dict over the trace's text, and dL/dh_t arriving from above
    (T, H): the loss at the target step for the top layer, the layer above's input gradient below."""
    ivs = tuple(interventions)
    if _last and _last[0] is tr and _last[1] is w and _last[2] == ivs:
        return _last[3]
    cfg, T = w.cfg, tr.steps
    edits = layer_edits(ivs, cfg)
    x = w.layer_input(tr.inputs if tr.inputs is not None else tr.ids)
    fwd: list[dict] = []
    for n, lw in enumerate(w.layers):
        fwd.append(cells_modern.FORWARD[cfg.arch](cfg, lw, x, None, edits[n]))
        x = fwd[-1]["h"]
    above: list[np.ndarray] = [np.zeros(0)] * cfg.layers
    inject = np.zeros((T, cfg.hidden))
    inject[tr.target_step] = d_out(tr) @ w.head_w
    for n in range(cfg.layers - 1, -1, -1):
        above[n] = inject
        inject, _ = cells_modern.BACKWARD[cfg.arch](
            cfg, w.layers[n], fwd[n], inject, tr.target_step, np.zeros((T, cfg.hidden)), edits[n]
        )
    _last[:] = [tr, w, ivs, (fwd, above)]
    return fwd, above


def _clamped(interventions, cfg, layer: int, what: str, unit: int) -> bool:
    e = layer_edits(tuple(interventions), cfg)[layer]
    return what in e and bool(e[what][0][unit])


def cell_detail(w: TraceWeights, tr: Trace, layer: int, t: int, unit: int, interventions=()) -> dict:
    """Inside one cell for one unit (an S6: one channel) at step t, forward."""
    fwd, _ = replay(w, tr, interventions)
    f, u, arch = fwd[layer], unit, tr.cfg.arch
    lw = w.layers[layer]
    read = tr.inputs if tr.inputs is not None else tr.ids
    x = w.layer_input(read[t : t + 1])[0] if layer == 0 else tr.h[layer - 1, t]
    if arch == "ssm":
        return _ssm_detail(f, lw, t, u) | {"h": float(tr.h[layer, t, u])}
    d = {"cand": float(f["cand"][t, u]), "h": float(tr.h[layer, t, u])}
    d["h_prev"] = float(f["h"][t - 1, u]) if t else float(f["h0"][u])
    for g in ("z",) if arch == "mingru" else ("f", "i"):
        d[f"{g}_pre"] = float(x @ lw[f"{g}.weight"][u] + lw[f"{g}.bias"][u])
    if arch == "mingru":
        d["z"] = float(f["gates"]["z"][t, u])
    else:
        d["f_raw"], d["i_raw"] = float(f["raw"][0][t, u]), float(f["raw"][1][t, u])
        d["f"], d["i"] = float(f["gates"]["f"][t, u]), float(f["gates"]["i"][t, u])
    return d


def _ssm_detail(f: dict, lw: dict, t: int, u: int) -> dict:
    """One channel u of the S6 at step t: u_t, Delta_t, B_t and C_t (their norms), the decays of
    its N state entries, the entry n of the largest |s_t|, its update, y_t and the gate."""
    s = f["s"][t, u]
    s_prev = f["s"][t - 1, u] if t else f["s0"][u]
    n = int(np.argmax(np.abs(s)))
    Bm, Cm, dA = f["gates"]["B"][t], f["gates"]["C"][t], f["dA"][t, u]
    return {
        "u": float(f["u"][t, u]), "dpre": float(f["dpre"][t, u]), "delta": float(f["gates"]["delta"][t, u]),
        "B_norm": float(np.linalg.norm(Bm)), "C_norm": float(np.linalg.norm(Cm)), "N": len(s),
        "a_min": float(dA.min()), "a_max": float(dA.max()), "n": n, "a_n": float(dA[n]),
        "s_prev_n": float(s_prev[n]), "B_n": float(Bm[n]), "s_n": float(s[n]),
        "s_norm": float(np.linalg.norm(s)), "s_prev_norm": float(np.linalg.norm(s_prev)),
        "sC": float(s @ Cm), "D": float(lw["D"][u]), "y": float(f["y"][t, u]),
        "gpre": float(f["gpre"][t, u]), "gate": float(f["gate"][t, u]),
    }  # fmt: skip


def backward_detail(w: TraceWeights, tr: Trace, layer: int, t: int, unit: int, interventions=()) -> dict:
    """How the gradient of one unit at step t is made, backward. minGRU / minLSTM: dL/dh_t =
    decay_(t+1) dL/dh_(t+1) (through time, elementwise) + the part from above. S6: dL/dh_t comes
    from above only; dL/ds_t = exp(Delta_(t+1) A) dL/ds_(t+1) + dL/dy_t C_t for the channel."""
    fwd, above = replay(w, tr, interventions)
    f, s, L, u = fwd[layer], tr.target_step, tr.cfg.layers, unit
    dh = tr.dh
    assert dh is not None, "a trace with gradients"
    d: dict = {"dh": float(dh[layer, t, u]), "from_above": float(above[layer][t, u]), "steps_back": s - t}
    d["source"] = f"layer {layer + 2}" if layer < L - 1 else ("the loss" if t == s else "none")
    if tr.cfg.arch == "ssm":
        return d | _ssm_backward(tr, f, layer, t, u, _clamped(interventions, tr.cfg, layer, "h", u),
                                 _clamped(interventions, tr.cfg, layer, "s", u))  # fmt: skip
    d["norm"], d["norm_target"] = float(tr.grad_h[layer, t]), float(tr.grad_h[layer, s])
    d["through_time"] = 0.0
    if t < s:
        decay = f["gates"]["z"] if tr.cfg.arch == "mingru" else f["gates"]["f"]
        a = float(1.0 - decay[t + 1, u] if tr.cfg.arch == "mingru" else decay[t + 1, u])
        carried = 0.0 if _clamped(interventions, tr.cfg, layer, "h", u) else float(dh[layer, t + 1, u])
        d |= {"decay": a, "dh_next": carried, "through_time": a * carried}
        d["norm_next"] = float(tr.grad_h[layer, t + 1])
    return d


def _ssm_backward(tr: Trace, f: dict, layer: int, t: int, u: int, h_clamped: bool, s_clamped: bool) -> dict:
    """The channel's dL/ds_t (N,) run back from the target step, as core.cells_modern does for
    every channel at once, and the entry n of the largest |dL/ds_t|."""
    assert tr.dh is not None and tr.grad_state is not None
    s, Cm, dA = tr.target_step, f["gates"]["C"], f["dA"][:, u]
    dy = np.where(h_clamped, 0.0, tr.dh[layer, :, u]) * f["gate"][:, u]
    later = ds = np.zeros(len(Cm[0]))  # later: dL/ds_(k+1) as passed back (none from a clamped row)
    for k in range(s, t - 1, -1):
        ds = (later * dA[k + 1] if k < s else 0.0) + dy[k] * Cm[k]
        if k > t:
            later = np.zeros_like(ds) if s_clamped else ds
    n = int(np.argmax(np.abs(ds)))
    d = {
        "gate": float(f["gate"][t, u]), "dy": float(dy[t]), "n": n, "ds_n": float(ds[n]),
        "C_n": float(Cm[t, n]), "ds_row": float(np.linalg.norm(ds)),
        "norm": float(tr.grad_state[layer, t]), "norm_target": float(tr.grad_state[layer, s]),
        "dh_norm": float(tr.grad_h[layer, t]),
    }  # fmt: skip
    if t < s:
        d["a_next"], d["ds_next_n"] = float(dA[t + 1, n]), float(later[n])
        d["norm_next"] = float(tr.grad_state[layer, t + 1])
    return d
