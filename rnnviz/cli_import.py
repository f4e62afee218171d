"""`rnnviz import --state-dict FILE --vocab VOCAB --out model.safetensors`: a plain PyTorch recurrent
model (nn.RNN / nn.LSTM / nn.GRU + nn.Linear, and nn.Embedding or one-hot input) as an rnnviz
checkpoint (core.importer, rnnviz.api.import_model)."""

from __future__ import annotations

import sys
from pathlib import Path

from rnnviz.core.errors import ConfigError


def add_import_parser(sub) -> None:
    r = sub.add_parser("import", help="turn your own PyTorch RNN/LSTM/GRU state dict into an rnnviz model")
    r.add_argument("--state-dict", required=True, help="a .safetensors file, or a torch file (weights only)")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--vocab", help="the tokens in index order: a JSON list, or a text file of one a line")
    src.add_argument("--vocab-corpus", help="a text (or builtin:NAME) whose sorted distinct tokens they are")
    r.add_argument("--level", choices=("char", "word"), help="default: char if every token is one character")
    r.add_argument("--nonlinearity", choices=("tanh", "relu"), default="tanh", help="of an nn.RNN")
    r.add_argument(
        "--map", action="append", default=[], metavar="OLD=NEW",
        help="rename a key prefix, e.g. my_lstm.=rnn. or proj.=head. (repeatable)",
    )  # fmt: skip
    r.add_argument("--out", required=True, help="the rnnviz checkpoint to write")
    r.set_defaults(func=cmd_import)


def cmd_import(a) -> int:
    from rnnviz.api import import_model
    from rnnviz.cli import check_writable

    mapping = {}
    for item in a.map:
        old, sep, new = item.partition("=")
        if not sep or not old:
            raise ConfigError(f"--map takes OLD=NEW (a key prefix and its rnnviz name), not {item!r}")
        mapping[old] = new
    out = Path(a.out)
    check_writable(out)
    corpus = a.vocab_corpus is not None
    m = import_model(
        a.state_dict, a.vocab_corpus if corpus else a.vocab, a.level, corpus, mapping, a.nonlinearity
    )
    m.save(out)
    c = m.cfg
    print(
        f"saved {out}: {c.arch.upper()} {c.layers}x{c.hidden}, {c.input} input, {len(m.vocab)} tokens "
        f"({m.vocab.level} level)",
        file=sys.stderr,
    )
    return 0
