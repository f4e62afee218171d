"""The cell panel's text: a cell's equations for one unit, filled with its numbers, forward (its
terms) and backward (how dL/dh_t is made from step t+1 and from above). The modern cells
(minGRU, minLSTM, S6) pass time on elementwise, and their lines say so: a decay, no W_hh."""

from __future__ import annotations


def _num(v: float) -> str:
    v += 0.0  # no "-0.000"
    return f"{v:+.3f}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:+.2e}"


def _norm(d: dict, target: int, sym: str = "h") -> str:
    """||dL/d<sym>_t|| beside step t+1's and the target step's."""
    norm = f"||dL/d{sym}_t|| = {d['norm']:.3g}"
    if d.get("norm_next"):
        norm += f" = {d['norm'] / d['norm_next']:.3g} x ||dL/d{sym}_(t+1)||"
    if d["steps_back"] and d["norm_target"] > 0:
        back = f"{d['steps_back']} step{'s' if d['steps_back'] > 1 else ''} back"
        norm += f";  {back} from step {target}: {d['norm'] / d['norm_target']:.3g} x"
    return norm


def _above(d: dict, target: int, loss: str = "W_hy^T dL/dy_t (the loss)") -> tuple[str, str]:
    """The part from above, as a term of the equation and as the name of its number."""
    src = d["source"]
    above = {"the loss": loss, "none": f"0 (the loss traced is at step {target})"}.get(src, f"from {src}")
    return above, "above" if src not in ("the loss", "none") else "the output"


def backward_equations(arch: str, nl: str, d: dict, unit: int, target: int) -> list[str]:
    """Backpropagation through one cell for one unit, with its numbers (core.unroll.backward_detail)."""
    if arch in MODERN_BACKWARD:
        return MODERN_BACKWARD[arch](d, unit, target)
    act = {"rnn": "(1 - h_(t+1)^2)" if nl == "tanh" else "[a_(t+1) > 0]"}.get(arch, "")
    through = {
        "rnn": f"W_hh^T (dL/dh_(t+1) * {act})",
        "lstm": "W_hh^T dL/d(i, f, g, o)_(t+1)",
        "gru": "z_(t+1) * dL/dh_(t+1) + W_hh^T dL/d(r, z, n)_(t+1)",
    }[arch]
    above, whence = _above(d, target)
    lines = [
        f"dL/dh_t = {through}  +  {above}",
        f"unit {unit}: {_num(d['through_time'])} (through time) {_num(d['from_above'])} (from "
        f"{whence}) = {_num(d['dh'])}",
    ]
    norm = _norm(d, target)
    if arch == "lstm":
        lines.append(
            f"dL/dc_t = f_(t+1)*dL/dc_(t+1) + o_t*(1-tanh^2 c_t)*dL/dh_t = {d['f_next']:.3f}*"
            f"{_num(d['dc_next'])} {_num(d['dc_via_h'])} = {_num(d['dc'])}"
        )
        norm += f";  ||dL/dc_t|| = {d['dc_norm']:.3g}"
    return lines + [norm]


# Which detail sub-step (core.unroll.SUBSTEPS) each line of `equations` belongs to.
LINE_SUB = {
    "rnn": (0, 0, 1), "lstm": (0, 1, 1, 2, 3), "gru": (0, 0, 1, 2),
    "mingru": (0, 1, 2, 2), "minlstm": (0, 0, 1, 2, 2), "ssm": (0, 1, 2, 2, 3, 3),
}  # fmt: skip


def _gate(d: dict, g: str, fn: str = "sigmoid", note: str = "") -> str:
    """`g = fn(input term + recurrent term) = value   (note)`."""
    return f"{g} = {fn}({d['input_' + g]:+.3f} {d['recurrent_' + g]:+.3f}) = {d[g]:+.3f}   {note}".rstrip()


def equations(arch: str, nl: str, d: dict) -> list[str]:
    """The cell's equations for one unit, filled with its numbers."""
    if arch in MODERN_FORWARD:
        return MODERN_FORWARD[arch](d)
    if arch == "rnn":
        act = "tanh" if nl == "tanh" else "relu"
        return [
            f"W_xh x_t + b_ih = {d['input']:+.3f}    W_hh h_(t-1) + b_hh = {d['recurrent']:+.3f}",
            f"pre-activation a = {d['input']:+.3f} + {d['recurrent']:+.3f} = {d['pre']:+.3f}",
            f"h_t = {act}(a) = {d['h']:+.3f}",
        ]
    if arch == "lstm":
        f, i, g, cp, c = d["f"], d["i"], d["g"], d["c_prev"], d["c"]
        return [
            _gate(d, "f", note="(forget: how much of c_(t-1) to keep)"),
            _gate(d, "i", note="(input: how much of g to write)"),
            _gate(d, "g", "tanh", "(candidate)"),
            f"c_t = f*c_(t-1) + i*g = {f:.3f}*{cp:+.3f} + {i:.3f}*{g:+.3f} = {c:+.3f}",
            _gate(d, "o", note=f"(output)   h_t = o*tanh(c_t) = {d['h']:+.3f}"),
        ]
    z, n = d["z"], d["n"]
    return [
        _gate(d, "r", note="(reset)"),
        _gate(d, "z", note="(update: how much of h_(t-1) to keep)"),
        f"n = tanh({d['input_n']:+.3f} + r*({d['recurrent_n']:+.3f})) = {n:+.3f}   (candidate)",
        f"h_t = (1-z)*n + z*h_(t-1) = {1 - z:.3f}*{n:+.3f} + {z:.3f}*{d['h_prev']:+.3f} = {d['h']:+.3f}",
    ]


# ---- minGRU, minLSTM, S6: their gates read x_t alone; time passes elementwise ----------------------

CAND = "   (candidate, from x_t alone)"


def _mingru(d: dict) -> list[str]:
    z, a = d["z"], 1 - d["z"]
    return [
        f"z = sigmoid(W_z x_t + b_z) = sigmoid({d['z_pre']:+.3f}) = {z:.3f}   (update gate)",
        f"h~ = W_h x_t + b_h = {d['cand']:+.3f}{CAND}",
        f"h_t = (1-z)*h_(t-1) + z*h~ = {a:.3f}*{d['h_prev']:+.3f} + {z:.3f}*{d['cand']:+.3f} = {d['h']:+.3f}",
        f"through time: h_(t-1) is scaled by a_t = 1-z = {a:.3f}, elementwise (no W_hh)",
    ]


def _minlstm(d: dict) -> list[str]:
    f, i = d["f"], d["i"]
    return [
        f"f = sigmoid(W_f x_t + b_f) = sigmoid({d['f_pre']:+.3f}) = {d['f_raw']:.3f}   "
        f"i = sigmoid({d['i_pre']:+.3f}) = {d['i_raw']:.3f}",
        f"f' = f/(f+i) = {f:.3f}   i' = i/(f+i) = {i:.3f}   (f' + i' = 1)",
        f"h~ = W_h x_t + b_h = {d['cand']:+.3f}{CAND}",
        f"h_t = f'*h_(t-1) + i'*h~ = {f:.3f}*{d['h_prev']:+.3f} + {i:.3f}*{d['cand']:+.3f} = {d['h']:+.3f}",
        f"through time: h_(t-1) is scaled by a_t = f' = {f:.3f}, elementwise (no W_hh)",
    ]


def _ssm(d: dict) -> list[str]:
    """One channel: its N state entries as their decays' range, the largest entry's update, norms."""
    return [
        f"u = W_in x_t + b_in = {_num(d['u'])}   Delta = softplus(W_delta u_t + b_delta) = "
        f"softplus({d['dpre']:+.3f}) = {d['delta']:.3f}",
        f"B_t = W_B u_t, C_t = W_C u_t (N = {d['N']}, shared by the channels): "
        f"|B_t| = {d['B_norm']:.3f}, |C_t| = {d['C_norm']:.3f}",
        f"s_t = exp(Delta A)*s_(t-1) + Delta*u*B_t (elementwise): exp(Delta A) = "
        f"{d['a_min']:.3f} to {d['a_max']:.3f} over n",
        f"  n = {d['n']} (largest): {d['a_n']:.3f}*{_num(d['s_prev_n'])} + {d['delta']:.3g}*"
        f"{_num(d['u'])}*{_num(d['B_n'])} = {_num(d['s_n'])}   |s_t| = {d['s_norm']:.3g}, "
        f"|s_(t-1)| = {d['s_prev_norm']:.3g}",
        f"y = s_t.C_t + D*u = {_num(d['sC'])} + {d['D']:.3f}*{_num(d['u'])} = {_num(d['y'])}",
        f"h_t = y*silu(W_gate x_t + b_gate) = {_num(d['y'])}*silu({d['gpre']:+.3f}) = "
        f"{_num(d['y'])}*{d['gate']:.3f} = {_num(d['h'])}",
    ]


def _min_backward(decay: str):
    """minGRU's or minLSTM's backward lines: the decay `decay` scales dL/dh_(t+1), elementwise."""

    def lines(d: dict, unit: int, target: int) -> list[str]:
        above, whence = _above(d, target)
        through = f"{_num(d['through_time'])} (through time)"
        if "decay" in d:
            through = f"{d['decay']:.3f}*{_num(d['dh_next'])} = {through}"
        return [
            f"dL/dh_t = {decay} * dL/dh_(t+1) (elementwise: no W_hh^T)  +  {above}",
            f"unit {unit}: {through} {_num(d['from_above'])} (from {whence}) = {_num(d['dh'])}",
            _norm(d, target),
        ]

    return lines


def _ssm_backward(d: dict, unit: int, target: int) -> list[str]:
    above, whence = _above(d, target, "W_out^T dL/dlogits_t (the loss)")
    ds = f"{_num(d['dy'])}*{_num(d['C_n'])}"
    if "a_next" in d:
        ds = f"{d['a_next']:.3f}*{_num(d['ds_next_n'])} + {ds}"
    return [
        f"dL/dh_t = {above}   (h_t is no state: time runs through s)",
        f"channel {unit}: dL/dh_t = {_num(d['dh'])} (from {whence})   dL/dy_t = dL/dh_t*silu(gate) = "
        f"{_num(d['dh'])}*{d['gate']:.3f} = {_num(d['dy'])}",
        "dL/ds_t = exp(Delta_(t+1) A)*dL/ds_(t+1) (elementwise: no matrix)  +  dL/dy_t C_t",
        f"  n = {d['n']} (largest): {ds} = {_num(d['ds_n'])}   the channel's |dL/ds_t| = {d['ds_row']:.3g}",
        _norm(d, target, "s") + "  (every channel)",
    ]


MODERN_FORWARD = {"mingru": _mingru, "minlstm": _minlstm, "ssm": _ssm}
MODERN_BACKWARD = {
    "mingru": _min_backward("(1-z_(t+1))"),
    "minlstm": _min_backward("f'_(t+1)"),
    "ssm": _ssm_backward,
}
