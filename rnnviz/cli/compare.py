"""`rnnviz compare`: up to three architectures (an RNN, an LSTM and a GRU unless --archs says
otherwise) trained side by side, with their gradient figures."""

from __future__ import annotations

import json
from pathlib import Path

from rnnviz.cli.common import figures_table, lab_models, train_side_by_side
from rnnviz.core.config import ARCHS
from rnnviz.core.errors import ConfigError
from rnnviz.core.lab import DEFAULT_ARCHS, check_archs


def add_parser(sub) -> None:
    c = sub.add_parser(
        "compare",
        help="train up to three architectures side by side (default RNN, LSTM, GRU); gradient figures",
    )
    c.add_argument(
        "--archs",
        default=",".join(DEFAULT_ARCHS),
        help=f"1 to 3 of {', '.join(ARCHS)}, comma-separated (default: {','.join(DEFAULT_ARCHS)})",
    )
    c.add_argument("--state", type=int, default=16, help="the S6's (ssm) state size N per channel")
    c.add_argument("--corpus", default="builtin:story")
    c.add_argument("--level", choices=("char", "word"), default="char")
    c.add_argument("--layers", type=int, default=1)
    c.add_argument("--hidden", type=int, default=64)
    c.add_argument("--steps", type=int, default=300)
    c.add_argument("--seq-len", type=int, default=64)
    c.add_argument("--batch", type=int, default=32)
    c.add_argument("--optimizer", choices=("sgd", "adam", "rmsprop", "adagrad"), default="adam")
    c.add_argument("--lr", type=float, default=3e-3)
    c.add_argument("--clip", type=float, default=1.0, help="0 turns clipping off")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument(
        "--samples",
        choices=("stream", "lines"),
        default="stream",
        help="stream: the text in order; lines: each line but its last character predicts the last "
        "(builtin:recall's answers), the figures then on held-out lines, with the answer accuracy",
    )
    c.add_argument("--val-fraction", type=float, default=0.1, help="the held-out part (default 0.1)")
    c.add_argument("--window", type=int, default=48, help="tokens per held-out probe window")
    c.add_argument(
        "--positions", type=int, default=32, help="held-out probe windows (drawn with a fixed seed)"
    )
    c.add_argument("--save-dir", help="save the checkpoints here (the folder is made if need be)")
    c.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    c.set_defaults(func=run)


def run(a) -> int:
    from rnnviz.core.corpus import load_corpus
    from rnnviz.core.lab import Comparison
    from rnnviz.core.train import TrainConfig

    archs = check_archs(a.archs)
    if a.steps < 0 or a.window < 2 or a.positions < 1:
        raise ConfigError("--steps must be >= 0, --window >= 2 and --positions >= 1")
    if a.save_dir is not None:  # made now (with its parents), not after minutes of training
        try:
            Path(a.save_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"--save-dir: cannot make the folder {a.save_dir}: {exc.strerror or exc}"
            ) from None
    lines = dict(samples="lines", loss_mode="many-to-one") if a.samples == "lines" else {}
    cfg = TrainConfig(
        seq_len=a.seq_len, batch=a.batch, optimizer=a.optimizer, lr=a.lr, clip=a.clip or None, seed=a.seed,
        val_fraction=a.val_fraction, **lines,
    )  # fmt: skip
    corpus = load_corpus(a.corpus, a.level)
    lab = Comparison(
        corpus, a.hidden, a.layers, cfg, window=a.window, positions=a.positions, archs=archs, state=a.state
    )
    last, seconds = train_side_by_side(lab, a.steps)
    saves = {arch: Path(a.save_dir) / f"{arch}.safetensors" for arch in archs} if a.save_dir else {}
    doc = {
        "corpus": corpus.name,
        "archs": list(archs),
        "samples": a.samples,
        "steps": a.steps,
        "hidden": a.hidden,
        "layers": a.layers,
        "window": lab.window,
        "positions": len(lab.probes),
        "models": lab_models(lab, last, seconds, saves),
    }
    if "ssm" in archs:
        doc["state"] = a.state
    if a.json:
        print(json.dumps(doc, allow_nan=False))
    else:
        print(figures_table(doc))
    return 0
