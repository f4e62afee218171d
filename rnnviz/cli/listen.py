"""`rnnviz listen MODEL --text TEXT [--layer N] [--measure norm|along] [--channel C] [--json]`: who
listens to whom (core.listen): alpha[t, s], how much the token read at step s makes of a layer's
h_t, for every s <= t."""

from __future__ import annotations

import json
import sys

import numpy as np

from rnnviz.cli.common import known_tokens, load_model


def add_parser(sub) -> None:
    r = sub.add_parser(
        "listen",
        help="who listens to whom: how much each token makes of a layer's h_t at every later step "
        "(exact parts for minGRU, minLSTM and S6; the Jacobian norm for RNN, LSTM and GRU)",
    )
    r.add_argument("model")
    r.add_argument("--text", required=True)
    r.add_argument("--layer", type=int, default=1, help="the layer (from 1; default 1)")
    r.add_argument(
        "--measure",
        choices=("norm", "along"),
        default="norm",
        help="minGRU, minLSTM, S6: each part's norm, or its component along h_t (signed)",
    )
    r.add_argument("--channel", type=int, help="S6: this channel's hidden attention (Ali et al. 2024)")
    r.add_argument("--unknown", choices=("error", "unk"), default="error")
    r.add_argument(
        "--json", action="store_true", help='print {"label", "tokens", "alpha": rows t of s = 0..t, ...}'
    )
    r.set_defaults(func=run)


def run(a) -> int:
    m = load_model(a.model)
    known_tokens(m, a.text, a.unknown, "--text")  # a bad text in the command's own words
    lis = m.listen(a.text, a.layer - 1, a.measure, a.channel, a.unknown)
    if a.json:
        json.dump(lis.to_json(), sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
    else:
        print(format_listening(lis))
    return 0


def format_listening(lis, top: int = 3) -> str:
    """A readable table: each step's token, alpha of the token itself, and the `top` earlier tokens
    it hears most (by |alpha|)."""
    lines = [lis.label, f"{'t':>4}  {'token':<10} {'itself':>10}  hears most (s, token, {lis.symbol})"]
    for t, tok in enumerate(lis.tokens):
        row = lis.alpha[t, :t]
        best = np.argsort(-np.abs(row), kind="stable")[:top]
        heard = "   ".join(f"{s} {lis.tokens[s]!r} {row[s]:.3g}" for s in best)
        lines.append(f"{t:>4}  {tok!r:<10} {lis.alpha[t, t]:>10.3g}  {heard}")
    return "\n".join(lines)
