"""`rnnviz train --preset NAME`: train one of the seeds' systems and print its figures beside
their references (and, with --json, one JSON line of them)."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

from rnnviz.core.errors import ConfigError, RnnvizError

# Options that override a preset's own settings when given: (argparse name, where, field).
_MODEL_OVERRIDES = ("arch", "layers", "hidden")
_TRAIN_OVERRIDES = ("seq_len", "batch", "optimizer", "lr", "seed")


def cmd_train_preset(a) -> int:
    from rnnviz.cli import Progress, _run_steps, check_writable
    from rnnviz.core.presets import format_report, get_preset, load_source, preset_trainer
    from rnnviz.core.scoring import report
    from rnnviz.core.train import NONFINITE_LIMIT

    preset = get_preset(a.preset)
    steps = preset.steps if a.steps is None else a.steps
    if steps < 0:
        raise ConfigError(f"steps must be >= 0, not {steps}")
    if a.eval_every < 1:
        raise ConfigError(f"--eval-every must be >= 1, not {a.eval_every}")
    out = Path(a.out)
    check_writable(out)
    source = load_source(preset, a.corpus, a.encoding)
    model = {k: getattr(a, k) for k in _MODEL_OVERRIDES if getattr(a, k) is not None}
    train = {k: getattr(a, k) for k in _TRAIN_OVERRIDES if getattr(a, k) is not None}
    trainer = preset_trainer(preset, source, device=a.device, model=model, **train)
    for note in trainer.notes:
        print(f"rnnviz: note: {note}", file=sys.stderr)
    print(f"preset {preset.name}: {preset.summary}", file=sys.stderr)
    progress = Progress(steps)
    t0 = time.perf_counter()
    try:
        metrics, _, diverged = _run_steps(trainer, steps, a.eval_every, progress)
    except KeyboardInterrupt:
        progress.done()
        save_preset_model(out, trainer, preset.name)
        print(f"rnnviz: interrupted after {trainer.updates} updates; saved {out}", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - t0
    progress.done()
    if diverged:
        trainer.restore_good(lr_factor=1.0)
        save_preset_model(out, trainer, preset.name)
        raise RnnvizError(
            f"training diverged at step {metrics.step} ({NONFINITE_LIMIT} non-finite steps in a row); "
            f"saved the last good weights ({trainer.updates} updates) to {out}; try a lower --lr"
        )
    save_preset_model(out, trainer, preset.name)
    doc = report(preset, trainer, seconds)
    print(f"saved {out} ({trainer.updates} updates, {seconds:.1f} s)", file=sys.stderr)
    text = format_report(doc)
    if a.json:
        print(text, file=sys.stderr)
        print(json.dumps(_finite(doc | {"out": str(out)}), allow_nan=False))
    else:
        print(text)
    return 0


def save_preset_model(out: Path, trainer, preset: str) -> None:
    from rnnviz.core.checkpoint import save_checkpoint
    from rnnviz.core.session import corpus_meta

    save_checkpoint(
        out,
        trainer.model_cfg,
        trainer.corpus.vocab,
        trainer.snapshot().weights,
        train=trainer.cfg.to_dict(),
        steps=trainer.updates,
        extra={**corpus_meta(trainer.corpus), "preset": preset},
    )


def _finite(v):
    """JSON has no NaN: non-finite floats become null, recursively."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v
