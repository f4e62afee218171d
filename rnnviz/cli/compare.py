"""`rnnviz compare`: an RNN, an LSTM and a GRU trained side by side, with their gradient figures."""

from __future__ import annotations

import json
from pathlib import Path

from rnnviz.cli.common import Progress, finite, save_trained
from rnnviz.core.errors import ConfigError


def add_parser(sub) -> None:
    c = sub.add_parser("compare", help="train an RNN, an LSTM and a GRU side by side; gradient figures")
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
    c.add_argument("--window", type=int, default=48, help="tokens per held-out probe window")
    c.add_argument(
        "--positions", type=int, default=32, help="held-out probe windows (drawn with a fixed seed)"
    )
    c.add_argument("--save-dir", help="save the three checkpoints here (the folder is made if need be)")
    c.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    c.set_defaults(func=run)


def run(a) -> int:
    from rnnviz.core.corpus import load_corpus
    from rnnviz.core.lab import Comparison
    from rnnviz.core.train import TrainConfig

    if a.steps < 0 or a.window < 2 or a.positions < 1:
        raise ConfigError("--steps must be >= 0, --window >= 2 and --positions >= 1")
    if a.save_dir is not None:  # made now (with its parents), not after minutes of training
        try:
            Path(a.save_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"--save-dir: cannot make the folder {a.save_dir}: {exc.strerror or exc}"
            ) from None
    corpus = load_corpus(a.corpus, a.level)
    cfg = TrainConfig(
        seq_len=a.seq_len, batch=a.batch, optimizer=a.optimizer, lr=a.lr, clip=a.clip or None, seed=a.seed
    )
    lab = Comparison(corpus, a.hidden, a.layers, cfg, window=a.window, positions=a.positions)
    progress = Progress(a.steps)
    last = {}
    for _ in range(a.steps):
        last = lab.step()
        progress.show(last["lstm"] if "lstm" in last else next(iter(last.values())), None)
    progress.done()
    models = {}
    for arch, trainer in lab.trainers.items():
        fig = lab.measure(arch)
        ev = trainer.evaluate()
        m = last.get(arch)
        models[arch] = {
            "loss": finite(m.loss if m else None),
            "val_loss": finite(ev.loss if ev else None),
            "decay_per_10": finite(fig.decay_per_10),
            "horizon": fig.horizon,
            "horizon_1e-4": fig.horizon_far,
            "cell_horizon": fig.cell_horizon,
            "mean_sigma": fig.mean_sigma,
        }
        if a.save_dir is not None:
            path = Path(a.save_dir) / f"{arch}.safetensors"
            save_trained(path, trainer, corpus)
            models[arch]["checkpoint"] = str(path)
    doc = {
        "corpus": corpus.name,
        "steps": a.steps,
        "hidden": a.hidden,
        "layers": a.layers,
        "window": lab.window,
        "positions": len(lab.positions),
        "models": models,
    }
    if a.json:
        print(json.dumps(doc, allow_nan=False))
    else:
        heads = ("loss", 7), ("held-out", 8), ("decay/10", 8), ("horizon", 7), ("1e-4", 5)
        heads += ("mean sigma_max", 14), ("cell horizon", 12)
        print(f"{'model':<6} " + " ".join(f"{h:>{n}}" for h, n in heads))
        for arch, f in models.items():
            loss, val, decay = _num(f["loss"]), _num(f["val_loss"]), _num(f["decay_per_10"])
            cell = "-" if f["cell_horizon"] is None else f"{f['cell_horizon']:.0f}"
            print(
                f"{arch:<6} {loss:>7} {val:>8} {decay:>8} {f['horizon']:>7.0f} {f['horizon_1e-4']:>5.0f}"
                f" {f['mean_sigma']:>14.3f} {cell:>12}"
            )
        print(_LEGEND.format(last=lab.window - 1, n=len(lab.positions)))
    return 0


_LEGEND = (
    "decay/10: decades of ||dL/dh|| lost per 10 steps back, fitted over distances 10-{last} to the\n"
    "geometric mean of ||dL/dh_(t-k)|| / ||dL/dh_t|| over {n} held-out windows: lower remembers longer.\n"
    "horizon, 1e-4: steps back that this curve stays above 1 % and 1e-4 ({last}: never below it).\n"
    "sigma_max: of the step's state map (LSTM: d(h_t, c_t)/d(h_(t-1), c_(t-1)), 2H x 2H)."
)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"
