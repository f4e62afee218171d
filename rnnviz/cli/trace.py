"""`rnnviz trace MODEL --text TEXT [--json] [--attribution]`: every internal of a model on a text,
as the JSON document of the README's "Trace format" or as a readable table."""

from __future__ import annotations

import json
import sys

from rnnviz.cli.common import known_tokens, load_model


def add_parser(sub) -> None:
    r = sub.add_parser("trace", help="print every internal of a model on a text")
    r.add_argument("model")
    r.add_argument("--text", required=True)
    r.add_argument("--target", help="token whose -log p at the target step is differentiated")
    r.add_argument("--target-step", type=int, help="default: the last step")
    r.add_argument(
        "--unknown",
        choices=("error", "unk"),
        default="error",
        help="tokens outside the vocabulary: refuse (default) or trace as <unk>",
    )
    r.add_argument("--json", action="store_true", help="print the trace as JSON (see README)")
    r.add_argument(
        "--attribution",
        action="store_true",
        help='also each input\'s ||d log p(target) / dx_t||^2 (JSON: "attribution"; table: a column)',
    )
    r.set_defaults(func=run)


def run(a) -> int:
    m = load_model(a.model)
    known_tokens(m, a.text, a.unknown, "--text")  # a bad text in the command's own words
    m.token_id(a.target, "--target")
    tr = m.trace(a.text, a.target, a.target_step, a.unknown)
    if a.json:
        json.dump(tr.to_json(attribution=a.attribution), sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        print(format_trace(tr, a.attribution))
    return 0


def format_trace(tr, attribution: bool = False) -> str:
    """A readable table: each step's token, top-3 next tokens and ||dL/dh|| per layer (the SSM:
    ||dL/ds||, of the state that carries time; and the attribution of each input)."""
    grad, name = (tr.grad_h, "dL/dh") if tr.grad_state is None else (tr.grad_state, "dL/ds")
    size = f"{tr.cfg.layers}x{tr.cfg.hidden}" + (f", N={tr.cfg.state}" if tr.state is not None else "")
    lines = [
        f"{tr.cfg.name} {size}, gradient of -log p({tr.vocab[tr.target_id]!r}) at step {tr.target_step}",
        f"{'step':>4}  {'token':<10} {'top next tokens':<40} ||{name}|| per layer"
        + ("  ||dL/dx||^2" if attribution else ""),
    ]
    for t, tok in enumerate(tr.tokens):
        top = tr.probs[t].argsort()[::-1][:3]
        preds = "  ".join(f"{tr.vocab[i]!r} {tr.probs[t, i]:.2f}" for i in top)
        grads = " ".join(f"{g:.2e}" for g in grad[:, t])
        extra = f"  {tr.attribution[t]:.2e}" if attribution else ""
        lines.append(f"{t:>4}  {tok!r:<10} {preds:<40} {grads}{extra}")
    return "\n".join(lines)
