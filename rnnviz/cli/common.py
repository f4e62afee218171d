"""What the subcommands share, with public names: loading a model for tracing, reading a text as
its tokens, saving a trained model, the --out check, the progress line, finite numbers for JSON."""

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
