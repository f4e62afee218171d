"""`rnnviz patch MODEL --clean TEXT --corrupt TEXT [--target TOKEN] [--state h|c|s|both] [--json]`:
where the difference between two texts is carried (activation patching, core.patch)."""

from __future__ import annotations

import json
import sys

import numpy as np

from rnnviz.cli.common import known_tokens, load_model


def add_parser(sub) -> None:
    r = sub.add_parser(
        "patch",
        help="activation patching: the effect on log p(target) of putting the clean text's state "
        "into the corrupted text's run, per layer and step",
    )
    r.add_argument("model")
    r.add_argument("--clean", required=True, help="the text whose prediction is the reference")
    r.add_argument("--corrupt", required=True, help="the text run with one state of the clean text put in")
    r.add_argument(
        "--target", help="the token whose log p is compared (default: the clean text's top prediction)"
    )
    r.add_argument(
        "--state",
        choices=("h", "c", "s", "both"),
        default="both",
        help="what is patched: h; an LSTM's cell state c; an S6's state s (each channel's N numbers; "
        "its h is the layer's output, which its later steps do not read); both (default): all the "
        "layer passes on, h and c or s and h (for the others, h)",
    )
    r.add_argument("--unknown", choices=("error", "unk"), default="error")
    r.add_argument("--json", action="store_true", help="print the matrix as JSON (see README)")
    r.set_defaults(func=run)


def run(a) -> int:
    m = load_model(a.model)
    known_tokens(m, a.clean, a.unknown, "--clean")  # bad texts in the command's own words
    known_tokens(m, a.corrupt, a.unknown, "--corrupt")
    m.token_id(a.target, "--target")
    p = m.patch(a.clean, a.corrupt, a.target, a.state, a.unknown)
    if a.json:
        json.dump(p.to_json(), sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        print(format_patching(p))
    return 0


def format_patching(p) -> str:
    """The matrix as a table: one row per step of the corrupted text, one column per layer."""
    lines = [
        f"target {p.target!r}: log p {p.clean_logp:.4f} after the clean text, {p.corrupt_logp:.4f} after "
        f"the corrupted one; patched state: {p.state}; 1 = the clean prediction restored",
        "step  corrupted  clean  " + "  ".join(f"layer {n + 1:<3}" for n in range(len(p.effect))),
    ]
    for t, tok in enumerate(p.corrupt_tokens):
        s = p.clean_step(t)
        clean = repr(p.clean_tokens[s]) if s is not None else "-"
        cells = "  ".join(
            "      -  " if np.isnan(v) else f"{0.0 if abs(v) < 5e-5 else v:9.4f}" for v in p.effect[:, t]
        )
        lines.append(f"{t:4d}  {tok!r:>9}  {clean:>5}  {cells}")
    if p.offset:
        lines.append(f"(the texts differ in length: aligned at their ends, {abs(p.offset)} step(s) apart)")
    return "\n".join(lines)
