"""What the subcommands share, with public names: loading a model for tracing, reading a text as
its tokens, saving a trained model, the --out check, the progress line, finite numbers for JSON,
and the gradient lab's models trained side by side with their figures (compare, lab presets)."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

from rnnviz.core.errors import ConfigError, RnnvizError


def finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def save_trained(out: Path, trainer, corpus, extra: dict | None = None) -> None:
    """The trainer's model as an rnnviz checkpoint (atomic), its corpus recorded with its SHA-256."""
    from rnnviz.core.checkpoint import save_checkpoint
    from rnnviz.core.session import corpus_meta

    save_checkpoint(
        out,
        trainer.model_cfg,
        getattr(corpus, "vocab", None),
        trainer.snapshot().weights,
        train=trainer.cfg.to_dict(),
        steps=trainer.updates,
        extra={**corpus_meta(corpus), **(extra or {})},
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

    ETA_AFTER = 10, 2.0  # steps and seconds after the first step before an ETA means something

    def __init__(self, total: int):
        self.total, self.t0, self.last = total, time.perf_counter(), 0.0
        self.tty = sys.stderr.isatty()
        self.shown = False
        self.first: tuple[int, float] | None = None  # (step, time) of the first step shown: the rate
        # is measured from there, leaving out the start-up (the first step's is ~100x a later one's)

    def show(self, m, ev) -> None:
        now = time.perf_counter()
        if now - self.last < (0.2 if self.tty else 5.0) and m.step != self.total:
            return
        self.last, self.shown = now, True
        val = f"  val {ev.loss:.3f}" if ev else ""
        flag = "  (non-finite: skipped)" if m.skipped else ""
        line = (
            f"step {m.step}/{self.total}  loss {m.loss:.3f}{val}  "
            f"{m.tokens_per_s / 1000:.1f}k tok/s{self._eta(m.step, now)}{flag}"
        )
        if self.tty:
            sys.stderr.write("\r" + line.ljust(78))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def _eta(self, step: int, now: float) -> str:
        """ "  ETA m:ss" once the rate is measured over enough steps and time, else nothing."""
        if self.first is None:
            self.first = (step, now)
        done, seconds = step - self.first[0], now - self.first[1]
        if step >= self.total or done < self.ETA_AFTER[0] or seconds < self.ETA_AFTER[1]:
            return ""
        return f"  ETA {clock(seconds / done * (self.total - step))}"

    def done(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\n")


def clock(seconds: float) -> str:
    s = int(seconds) if math.isfinite(seconds) else 0
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def load_model(path: str):
    """An rnnviz model for the commands that read text (rnnviz.api.Model); a value model is refused."""
    from rnnviz.api import load

    try:
        return load(path)
    except ConfigError as exc:
        if "forecasts numbers" in str(exc):
            raise ConfigError(
                f"{path} forecasts numbers (a value model): open it in the app with: rnnviz {path}"
            ) from None
        raise


def known_tokens(model, text: str, unknown: str, what: str) -> list[str]:
    """`text` as the model's tokens; outside its vocabulary: refused (--unknown unk reads <unk>)."""
    try:
        return model.tokens(text, unknown, what)
    except RnnvizError as exc:
        raise type(exc)(str(exc).replace("unknown='unk' reads them", "--unknown unk traces them")) from None


# ---- the gradient lab side by side (rnnviz compare, lab presets) ------------------------------


def train_side_by_side(lab, steps: int) -> tuple[dict, dict[str, float]]:
    """`steps` steps of every model in turn, with a progress line; the last metrics and the seconds
    each model spent in its steps. One torch thread, as in the app's training process: the lab's
    models are small, and measured here (recall preset, 64 units, 2 layers, with other jobs on
    the 2 cores) 2 threads took 10x the time per step of 1."""
    import torch

    torch.set_num_threads(1)
    progress = Progress(steps)
    last: dict = {}
    seconds = dict.fromkeys(lab.trainers, 0.0)
    for _ in range(steps):
        for arch, trainer in lab.trainers.items():
            t0 = time.perf_counter()
            last[arch] = trainer.step()
            seconds[arch] += time.perf_counter() - t0
        progress.show(last["lstm"] if "lstm" in last else next(iter(last.values())), None)
    progress.done()
    return last, seconds


def lab_models(lab, last: dict, seconds: dict[str, float], saves: dict) -> dict:
    """Each model's figures for the JSON document; its checkpoint saved where `saves` says."""
    from rnnviz.core.config import ARCH_NAMES
    from rnnviz.core.lab import has_w_hh

    models = {}
    for arch, trainer in lab.trainers.items():
        fig = lab.measure(arch)
        ev = trainer.evaluate()
        m = last.get(arch)
        models[arch] = {
            "name": ARCH_NAMES[arch],
            "loss": finite(m.loss if m else None),
            "val_loss": finite(ev.loss if ev else None),
            "gradient_of": "s" if arch == "ssm" else "h",
            "decay_per_10": finite(fig.decay_per_10),
            "horizon": fig.horizon,
            "horizon_1e-4": fig.horizon_far,
            "cell_horizon": fig.cell_horizon,
            "mean_sigma": fig.mean_sigma,
            "w_hh": has_w_hh(arch),
            "train_seconds": round(seconds.get(arch, 0.0), 3),
        }
        if lab.lines:
            models[arch]["answer_accuracy"] = finite(fig.answer_accuracy)
        if arch in saves:
            save_trained(saves[arch], trainer, lab.trainers[arch].corpus)
            models[arch]["checkpoint"] = str(saves[arch])
    return models


def figures_table(doc: dict) -> str:
    """The figures as a table with its legend."""
    lines = doc.get("samples") == "lines"
    heads = ("loss", 7), ("held-out", 8), ("decay/10", 8), ("horizon", 7), ("1e-4", 5)
    heads += ("mean sigma_max", 14), ("cell horizon", 12)
    heads += (("answers", 7),) if lines else ()
    out = [f"{'model':<7} " + " ".join(f"{h:>{n}}" for h, n in heads)]
    for arch, f in doc["models"].items():
        loss, val, decay = _num(f["loss"]), _num(f["val_loss"]), _num(f["decay_per_10"])
        cell = "-" if f["cell_horizon"] is None else f"{f['cell_horizon']:.0f}"
        row = (
            f"{arch:<7} {loss:>7} {val:>8} {decay:>8} {f['horizon']:>7.0f} {f['horizon_1e-4']:>5.0f}"
            f" {f['mean_sigma']:>14.3f} {cell:>12}"
        )
        if lines:
            acc = f.get("answer_accuracy")
            row += f" {'-' if acc is None else f'{acc:.1%}':>7}"
        out.append(row)
    last, n = doc["window"] - 1, doc["positions"]
    out.append(_LEGEND.format(last=last, n=n, what="lines" if lines else "windows"))
    if any(not f["w_hh"] for f in doc["models"].values()):
        out.append(_MODERN)
    if lines:
        out.append("answers: held-out lines whose last character the model ranks first after the rest.")
    return "\n".join(out)


_LEGEND = (
    "decay/10: decades of ||dL/dh|| lost per 10 steps back, fitted over distances 10-{last} to the\n"
    "geometric mean of ||dL/dh_(t-k)|| / ||dL/dh_t|| over {n} held-out {what}: lower remembers longer\n"
    "(- with fewer than 10 such distances: a window of 20 tokens or more has a long range to fit).\n"
    "horizon, 1e-4: steps back that this curve stays above 1 % and 1e-4 ({last}: never below it).\n"
    "sigma_max: of the step's state map (LSTM: d(h_t, c_t)/d(h_(t-1), c_(t-1)), 2H x 2H)."
)
_MODERN = (
    "S6: its state is s_t (H x N) and h_t only its output: its curve is ||dL/ds||. minGRU, minLSTM, S6\n"
    "have no W_hh: their state map is diagonal (the decays 1-z, f', exp(Delta A)), sigma_max the largest."
)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"
