"""`rnnviz train`: train a model on a corpus (or a preset: rnnviz.cli.presets) and save it, with a
live progress line; the divergence rule is core.loop.run_steps's."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rnnviz.cli.common import Progress, check_writable, finite, save_trained
from rnnviz.core.config import ARCHS
from rnnviz.core.errors import ConfigError, RnnvizError

# `train` options a preset sets its own way: None on the command line means "not given".
TRAIN_DEFAULTS = dict(
    corpus="builtin:story", arch="lstm", layers=1, hidden=128, steps=500, seq_len=64, batch=32,
    optimizer="adam", lr=2e-3, seed=0,
)  # fmt: skip


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="train a model on a corpus (or a preset) and save it")
    t.add_argument(
        "--preset",
        help="one of the seeds' systems: words, sine, fable, fable-story (its settings; options "
        "given with it override them), or recall: an LSTM and the S6 side by side on associative "
        "recall, saved as OUT-lstm and OUT-ssm",
    )
    t.add_argument(
        "--corpus",
        help="text file or builtin:NAME (story, fable, words, brackets); default builtin:story, or the "
        "preset's data (for sine: a file of numbers)",
    )
    t.add_argument("--encoding", default="utf-8", help="of the corpus file, e.g. latin-1 (default: utf-8)")
    t.add_argument("--level", choices=("char", "word"), default="char")
    t.add_argument("--arch", choices=ARCHS, help="default: lstm (mingru, minlstm, ssm: see README)")
    t.add_argument("--state", type=int, default=16, help="for --arch ssm: the state size N per channel")
    t.add_argument("--nonlinearity", choices=("tanh", "relu"), default="tanh", help="for --arch rnn")
    t.add_argument("--layers", type=int, help="default: 1")
    t.add_argument("--hidden", type=int, help="default: 128")
    t.add_argument(
        "--input", choices=("onehot", "embedding"), help="default: onehot (char), embedding (word)"
    )
    t.add_argument("--embed-dim", type=int, default=32)
    t.add_argument("--steps", type=int, help="default: 500")
    t.add_argument("--seq-len", type=int, help="default: 64 (with a window preset: the window length)")
    t.add_argument("--batch", type=int, help="default: 32")
    t.add_argument("--optimizer", choices=("sgd", "adam", "rmsprop", "adagrad"), help="default: adam")
    t.add_argument("--lr", type=float, help="default: 0.002")
    t.add_argument("--clip", type=float, default=1.0, help="max gradient norm; 0 turns clipping off")
    t.add_argument("--seed", type=int, help="default: 0")
    t.add_argument("--loss", choices=("many-to-many", "many-to-one"), default="many-to-many")
    t.add_argument("--val-fraction", type=float, default=0.1)
    t.add_argument("--dropout", type=float, default=0.0, help="between layers, before the head (default 0)")
    t.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty of the optimiser (default 0)")
    t.add_argument("--eval-every", type=int, default=100)
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    t.add_argument("--out", default="model.safetensors", help="checkpoint to write")
    t.add_argument("--json", action="store_true", help="end with one JSON line of final figures")
    t.set_defaults(func=run)


def run(a) -> int:
    from rnnviz.core.config import NONFINITE_LIMIT
    from rnnviz.core.corpus import load_corpus
    from rnnviz.core.loop import run_steps
    from rnnviz.core.model import ModelConfig
    from rnnviz.core.train import TrainConfig, Trainer

    if a.preset is not None:
        from rnnviz.cli.presets import train_preset

        return train_preset(a)
    for k, v in TRAIN_DEFAULTS.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.steps < 0:
        raise ConfigError(f"steps must be >= 0, not {a.steps}")
    if a.eval_every < 1:
        raise ConfigError(f"--eval-every must be >= 1, not {a.eval_every}")
    out = Path(a.out)
    check_writable(out)
    corpus = load_corpus(a.corpus, a.level, a.encoding)
    model_cfg = ModelConfig(
        vocab_size=len(corpus.vocab),
        arch=a.arch,
        nonlinearity=a.nonlinearity,
        layers=a.layers,
        hidden=a.hidden,
        input=a.input or ("onehot" if a.level == "char" else "embedding"),
        embed_dim=a.embed_dim,
        state=a.state,
    )
    cfg = TrainConfig(
        seq_len=a.seq_len,
        batch=a.batch,
        optimizer=a.optimizer,
        lr=a.lr,
        clip=a.clip or None,
        seed=a.seed,
        loss_mode=a.loss,
        val_fraction=a.val_fraction,
        dropout=a.dropout,
        weight_decay=a.weight_decay,
    )
    trainer = Trainer(corpus, model_cfg, cfg, device=a.device)
    for note in trainer.notes:
        print(f"rnnviz: note: {note}", file=sys.stderr)
    progress = Progress(a.steps)
    t0 = time.perf_counter()
    try:
        ran = run_steps(trainer, a.steps, a.eval_every, progress.show)
    except KeyboardInterrupt:
        progress.done()
        save_trained(out, trainer, corpus)
        print(f"rnnviz: interrupted after {trainer.updates} updates; saved {out}", file=sys.stderr)
        return 130
    progress.done()
    metrics, evaluation = ran.metrics, ran.evaluation
    if ran.diverged:
        trainer.restore_good(lr_factor=1.0)
        save_trained(out, trainer, corpus)
        raise RnnvizError(
            f"training diverged at step {metrics.step} ({NONFINITE_LIMIT} non-finite steps in a row); "
            f"saved the last good weights ({trainer.updates} updates) to {out}; try a lower --lr"
        )
    save_trained(out, trainer, corpus)
    seconds = time.perf_counter() - t0
    print(f"saved {out} ({trainer.updates} updates, {seconds:.1f} s)", file=sys.stderr)
    if a.json:
        doc = {
            "steps": trainer.updates,
            "seconds": round(seconds, 3),
            "loss": finite(metrics.loss if metrics else None),
            "accuracy": finite(metrics.accuracy if metrics else None),
            "val_loss": finite(evaluation.loss if evaluation else None),
            "val_accuracy": finite(evaluation.accuracy if evaluation else None),
            "out": str(out),
        }
        print(json.dumps(doc, allow_nan=False))
    return 0
