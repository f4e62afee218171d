"""Command line: no subcommand opens the app; train / trace / generate script the engine.

Every error is one line on stderr with exit code 2 (set RNNVIZ_DEBUG=1 for a traceback).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from rnnviz import __version__
from rnnviz.core.errors import ConfigError, RnnvizError

COMMANDS = ("train", "trace", "generate", "compare", "animate", "units", "install-desktop")
# `train` options a preset sets its own way: None on the command line means "not given".
TRAIN_DEFAULTS = dict(
    corpus="builtin:story", arch="lstm", layers=1, hidden=128, steps=500, seq_len=64, batch=32,
    optimizer="adam", lr=2e-3, seed=0,
)  # fmt: skip


class UsageError(RnnvizError):
    """A command line that does not parse."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not usage + message
        raise UsageError(f"{message} (see: {self.prog} --help)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] in COMMANDS or argv[:1] in (["-h"], ["--help"], ["--version"]):
            args = build_parser().parse_args(argv)
            return args.func(args)
        return _gui(argv)
    except RnnvizError as exc:
        print(f"rnnviz: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnviz: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, unless debugging
        if os.environ.get("RNNVIZ_DEBUG"):
            raise
        print(
            f"rnnviz: internal error: {type(exc).__name__}: {exc} (RNNVIZ_DEBUG=1 shows more)",
            file=sys.stderr,
        )
        return 1


def build_parser() -> argparse.ArgumentParser:
    from rnnviz.cli_trace import add_trace_parser

    p = _Parser(
        prog="rnnviz",
        description="See inside recurrent neural networks. "
        "With no command (or a MODEL.safetensors), opens the app.",
    )
    p.add_argument("--version", action="version", version=f"rnnviz {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a model on a corpus (or a preset) and save it")
    t.add_argument(
        "--preset",
        help="one of the seeds' systems: words, sine, fable, fable-story (its settings; options "
        "given with it override them)",
    )
    t.add_argument(
        "--corpus",
        help="text file or builtin:NAME (story, fable, words, brackets); default builtin:story, or the "
        "preset's data (for sine: a file of numbers)",
    )
    t.add_argument("--encoding", default="utf-8", help="of the corpus file, e.g. latin-1 (default: utf-8)")
    t.add_argument("--level", choices=("char", "word"), default="char")
    t.add_argument("--arch", choices=("rnn", "lstm", "gru"), help="default: lstm")
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
    t.add_argument("--eval-every", type=int, default=100)
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    t.add_argument("--out", default="model.safetensors", help="checkpoint to write")
    t.add_argument("--json", action="store_true", help="end with one JSON line of final figures")
    t.set_defaults(func=cmd_train)

    add_trace_parser(sub)

    g = sub.add_parser("generate", help="continue a prompt by sampling from a model")
    g.add_argument("model")
    g.add_argument("--prompt", required=True)
    g.add_argument("--length", type=int, default=200)
    g.add_argument("--temperature", type=float, default=1.0, help="0: always the most likely token")
    g.add_argument("--seed", type=int)
    g.add_argument("--unknown", choices=("error", "unk"), default="error")
    g.set_defaults(func=cmd_generate)

    from rnnviz.cli_lab import add_compare_parser

    add_compare_parser(sub)
    from rnnviz.cli_animate import add_animate_parser
    from rnnviz.cli_desktop import add_desktop_parser
    from rnnviz.cli_units import add_units_parser

    add_animate_parser(sub)
    add_units_parser(sub)
    add_desktop_parser(sub)
    return p


# ---- train -------------------------------------------------------------------------------


def cmd_train(a) -> int:
    from rnnviz.core.checkpoint import save_checkpoint
    from rnnviz.core.corpus import load_corpus
    from rnnviz.core.model import ModelConfig
    from rnnviz.core.train import NONFINITE_LIMIT, TrainConfig, Trainer

    if a.preset is not None:
        from rnnviz.cli_presets import cmd_train_preset

        return cmd_train_preset(a)
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
    )
    trainer = Trainer(corpus, model_cfg, cfg, device=a.device)
    for note in trainer.notes:
        print(f"rnnviz: note: {note}", file=sys.stderr)
    progress = Progress(a.steps)
    t0 = time.perf_counter()
    try:
        metrics, evaluation, diverged = _run_steps(trainer, a.steps, a.eval_every, progress)
    except KeyboardInterrupt:
        progress.done()
        _save(save_checkpoint, out, trainer, corpus)
        print(f"rnnviz: interrupted after {trainer.updates} updates; saved {out}", file=sys.stderr)
        return 130
    progress.done()
    if diverged:
        trainer.restore_good(lr_factor=1.0)
        _save(save_checkpoint, out, trainer, corpus)
        raise RnnvizError(
            f"training diverged at step {metrics.step} ({NONFINITE_LIMIT} non-finite steps in a row); "
            f"saved the last good weights ({trainer.updates} updates) to {out}; try a lower --lr"
        )
    _save(save_checkpoint, out, trainer, corpus)
    seconds = time.perf_counter() - t0
    print(f"saved {out} ({trainer.updates} updates, {seconds:.1f} s)", file=sys.stderr)
    if a.json:
        doc = {
            "steps": trainer.updates,
            "seconds": round(seconds, 3),
            "loss": _finite(metrics.loss if metrics else None),
            "accuracy": _finite(metrics.accuracy if metrics else None),
            "val_loss": _finite(evaluation.loss if evaluation else None),
            "val_accuracy": _finite(evaluation.accuracy if evaluation else None),
            "out": str(out),
        }
        print(json.dumps(doc, allow_nan=False))
    return 0


def _run_steps(trainer, steps: int, eval_every: int, progress):
    """Train; stop early (diverged=True) after NONFINITE_LIMIT skipped steps in a row."""
    from rnnviz.core.train import NONFINITE_LIMIT

    metrics = evaluation = None
    in_row = 0
    for _ in range(steps):
        metrics = trainer.step()
        in_row = in_row + 1 if metrics.skipped else 0
        if in_row >= NONFINITE_LIMIT:
            return metrics, evaluation, True
        if metrics.step % eval_every == 0 or metrics.step == steps:
            evaluation = trainer.evaluate()
        progress.show(metrics, evaluation)
    return metrics, evaluation, False


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _save(save_checkpoint, out, trainer, corpus) -> None:
    from rnnviz.core.session import corpus_meta

    save_checkpoint(
        out,
        trainer.model_cfg,
        corpus.vocab,
        trainer.snapshot().weights,
        train=trainer.cfg.to_dict(),
        steps=trainer.updates,
        extra=corpus_meta(corpus),
    )


def check_writable(out: Path) -> None:
    """Fail before training, not after, when the checkpoint cannot be written."""
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file name")
    if not folder.is_dir():
        raise ConfigError(f"--out: no such folder: {folder}")
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"--out: cannot write in {folder} (permission denied)")


class Progress:
    """A live progress line on stderr (rewritten in a terminal, a line every few s otherwise)."""

    def __init__(self, total: int):
        self.total, self.t0, self.last = total, time.perf_counter(), 0.0
        self.tty = sys.stderr.isatty()
        self.shown = False

    def show(self, m, ev) -> None:
        now = time.perf_counter()
        if now - self.last < (0.2 if self.tty else 5.0) and m.step != self.total:
            return
        self.last, self.shown = now, True
        eta = (now - self.t0) / m.step * (self.total - m.step)
        val = f"  val {ev.loss:.3f}" if ev else ""
        flag = "  (non-finite: skipped)" if m.skipped else ""
        line = (
            f"step {m.step}/{self.total}  loss {m.loss:.3f}{val}  "
            f"{m.tokens_per_s / 1000:.1f}k tok/s  ETA {_clock(eta)}{flag}"
        )
        if self.tty:
            sys.stderr.write("\r" + line.ljust(78))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\n")


def _clock(seconds: float) -> str:
    s = int(seconds) if math.isfinite(seconds) else 0
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# ---- trace and generate ------------------------------------------------------------------


def _load(path: str):
    from rnnviz.core.checkpoint import load_checkpoint
    from rnnviz.core.trace import TraceWeights

    ck = load_checkpoint(path)
    if ck.vocab is None:
        raise ConfigError(f"{path} forecasts numbers (a value model): open it in the app with: rnnviz {path}")
    return ck, TraceWeights.from_state(ck.model_cfg, ck.weights)


def _tokens(vocab, text: str, unknown: str, what: str) -> list[str]:
    from rnnviz.core.corpus import tokenize

    tokens = tokenize(text, vocab.level)
    if not tokens:
        raise ConfigError(f"{what} is empty")
    if unknown == "error":
        try:
            vocab.require_known(tokens)
        except RnnvizError as exc:
            raise type(exc)(f"{exc} (--unknown unk traces them as <unk>)") from None
    return tokens


def cmd_generate(a) -> int:
    from rnnviz.core.generate import sample

    ck, w = _load(a.model)
    tokens = _tokens(ck.vocab, a.prompt, a.unknown, "--prompt")
    ids = sample(w, ck.vocab.ids(tokens), a.length, a.temperature, a.seed)
    from rnnviz.core.corpus import detokenize

    text = detokenize(tokens + [ck.vocab.tokens[i] for i in ids], ck.vocab.level)
    print(text)
    return 0


# ---- the app -----------------------------------------------------------------------------


def _gui(argv: list[str]) -> int:
    p = _Parser(
        prog="rnnviz",
        description=f"Open the rnnviz app (other commands: {', '.join(COMMANDS)}; see rnnviz --help).",
    )
    p.add_argument("model", nargs="?", help="a .safetensors model to open")
    p.add_argument("--corpus", help="text file or builtin:NAME to train on")
    a = p.parse_args(argv)
    if a.model is not None and not Path(a.model).is_file():
        raise ConfigError(f"no such model file: {a.model}")
    if a.corpus is not None:
        from rnnviz.core.corpus import builtin_path

        if builtin_path(a.corpus) is None and not Path(a.corpus).is_file():
            raise ConfigError(f"no such corpus file: {a.corpus}")
    try:
        from rnnviz.qt.app import run
    except ImportError as exc:
        raise RnnvizError(f"the app cannot start: {exc}") from None
    return run(model=a.model, corpus=a.corpus)
