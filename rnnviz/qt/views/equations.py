"""The cell panel's text: a cell's equations for one unit, filled with its numbers, forward (its
terms) and backward (how dL/dh_t is made from step t+1 and from above)."""

from __future__ import annotations


def _num(v: float) -> str:
    return f"{v:+.3f}" if v == 0 or 1e-3 <= abs(v) < 1e4 else f"{v:+.2e}"


def backward_equations(arch: str, nl: str, d: dict, unit: int, target: int) -> list[str]:
    """Backpropagation through one cell for one unit, with its numbers (core.unroll.backward_detail)."""
    act = {"rnn": "(1 - h_(t+1)^2)" if nl == "tanh" else "[a_(t+1) > 0]"}.get(arch, "")
    through = {
        "rnn": f"W_hh^T (dL/dh_(t+1) * {act})",
        "lstm": "W_hh^T dL/d(i, f, g, o)_(t+1)",
        "gru": "z_(t+1) * dL/dh_(t+1) + W_hh^T dL/d(r, z, n)_(t+1)",
    }[arch]
    src = d["source"]
    above = {"the loss": "W_hy^T dL/dy_t (the loss)", "none": f"0 (the loss traced is at step {target})"}
    above = above.get(src, f"from {src}")
    lines = [
        f"dL/dh_t = {through}  +  {above}",
        f"unit {unit}: {_num(d['through_time'])} (through time) {_num(d['from_above'])} (from "
        f"{'above' if src not in ('the loss', 'none') else 'the output'}) = {_num(d['dh'])}",
    ]
    norm = f"||dL/dh_t|| = {d['norm']:.3g}"
    if d.get("norm_next"):
        norm += f" = {d['norm'] / d['norm_next']:.3g} x ||dL/dh_(t+1)||"
    if d["steps_back"] and d["norm_target"] > 0:
        back = f"{d['steps_back']} step{'s' if d['steps_back'] > 1 else ''} back"
        norm += f";  {back} from step {target}: {d['norm'] / d['norm_target']:.3g} x"
    if arch == "lstm":
        lines.append(
            f"dL/dc_t = f_(t+1)*dL/dc_(t+1) + o_t*(1-tanh^2 c_t)*dL/dh_t = {d['f_next']:.3f}*"
            f"{_num(d['dc_next'])} {_num(d['dc_via_h'])} = {_num(d['dc'])}"
        )
        norm += f";  ||dL/dc_t|| = {d['dc_norm']:.3g}"
    return lines + [norm]


# Which detail sub-step (core.unroll.SUBSTEPS) each line of `equations` belongs to.
LINE_SUB = {"rnn": (0, 0, 1), "lstm": (0, 1, 1, 2, 3), "gru": (0, 0, 1, 2)}


def _gate(d: dict, g: str, fn: str = "sigmoid", note: str = "") -> str:
    """`g = fn(input term + recurrent term) = value   (note)`."""
    return f"{g} = {fn}({d['input_' + g]:+.3f} {d['recurrent_' + g]:+.3f}) = {d[g]:+.3f}   {note}".rstrip()


def equations(arch: str, nl: str, d: dict) -> list[str]:
    """The cell's equations for one unit, filled with its numbers."""
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
