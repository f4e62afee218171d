"""`rnnviz units MODEL --corpus PATH --feature REGEX|NAME`: the neuron finder on the command line.
Every unit (layer, unit; h, and c for an LSTM or s for S6) ranked by the Pearson correlation, over every
position of the corpus, between its activation and the feature, with its contexts at both ends:
furthest from its mean in the direction of the correlation ("top"), and the other way."""

from __future__ import annotations

import json
import sys

from rnnviz.cli.common import load_model
from rnnviz.core.errors import ConfigError


def add_parser(sub) -> None:
    from rnnviz.core.units import FEATURES, MAX_POSITIONS

    u = sub.add_parser("units", help="rank a model's units by how they follow a feature of a corpus")
    u.add_argument("model")
    u.add_argument("--corpus", help="a text file or builtin:NAME (default: the model's own corpus)")
    u.add_argument(
        "--feature",
        required=True,
        help=f"a regular expression (1 where a match covers the position) or one of: {', '.join(FEATURES)}",
    )
    u.add_argument("--top", type=int, default=10, help="units listed (default 10)")
    u.add_argument("--contexts", type=int, default=5, help="contexts per unit at each end (default 5)")
    u.add_argument("--max-tokens", type=int, default=MAX_POSITIONS, help="read at most this many tokens")
    u.add_argument("--encoding", default="utf-8")
    u.add_argument("--json", action="store_true", help="print the ranking as one JSON object")
    u.set_defaults(func=run)


def run(a) -> int:
    from rnnviz.core.corpus import Corpus, load_corpus
    from rnnviz.core.units import both_ends, corpus_states, rank_units, token_feature

    if a.top < 1 or a.contexts < 0 or a.max_tokens < 2:
        raise ConfigError("--top must be >= 1, --contexts >= 0 and --max-tokens >= 2")
    ck = load_model(a.model)
    w = ck.trace_weights
    spec = a.corpus or ck.meta.get("corpus")
    if not spec:
        raise ConfigError("this model does not record its corpus: give one with --corpus")
    text = load_corpus(spec, ck.vocab.level, a.encoding).text
    corpus = Corpus.from_text(text, ck.vocab.level, spec, vocab=ck.vocab)  # read with the model's vocabulary
    states = corpus_states(w, corpus.text, corpus.ids, ck.vocab.level, a.max_tokens)
    values, kind = token_feature(states, a.feature)
    ranked = rank_units(states, values)[: a.top]
    doc = {"feature": a.feature, "kind": kind, "positions": int(len(values)), "corpus": spec, "units": []}
    for s in ranked:
        top, opposite = both_ends(states, s.layer, s.unit, s.state, s.r, a.contexts)
        doc["units"].append(
            {"layer": s.layer + 1, "unit": s.unit, "state": s.state, "r": s.r,
             "contexts": [_context(c) for c in top], "opposite": [_context(c) for c in opposite]}
        )  # fmt: skip
    if len(states.h[0]) < len(corpus.ids):
        print(f"read the first {len(states.h[0]):,} of {len(corpus.ids):,} tokens", file=sys.stderr)
    if a.json:
        json.dump(doc, sys.stdout, separators=(",", ":"))
        sys.stdout.write("\n")
        return 0
    print(f"{kind} feature {a.feature!r} over {doc['positions']:,} positions of {spec}")
    print("top: furthest from the unit's mean in the direction of r; other end: the other way")
    print(f"{'layer':>5} {'unit':>5} {'state':>5} {'r':>8}  {'top':<40} {'other end'}")
    for u in doc["units"]:
        top, other = (_where(u[key][0]) if u[key] else "" for key in ("contexts", "opposite"))
        print(f"{u['layer']:>5} {u['unit']:>5} {u['state']:>5} {u['r']:>8.3f}  {top:<40} {other}")
    return 0


def _context(c) -> dict:
    return {"position": c.position, "activation": c.activation, "deviation": c.deviation,
            "before": c.before, "token": c.token, "after": c.after}  # fmt: skip


def _where(c: dict) -> str:
    return f"{c['deviation']:+.2f} ...{c['before'][-18:]}[{c['token']}]{c['after'][:10]}...".replace(
        "\n", "\u21b5"
    )
