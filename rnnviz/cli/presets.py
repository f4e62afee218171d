"""`rnnviz train --preset NAME`: train one of the seeds' systems and print its figures beside
their references (and, with --json, one JSON line of them)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rnnviz.cli.common import finite, save_trained
from rnnviz.core.errors import ConfigError, RnnvizError

# Options that override a preset's own settings when given: (argparse name, where, field).
_MODEL_OVERRIDES = ("arch", "layers", "hidden")
_TRAIN_OVERRIDES = ("seq_len", "batch", "optimizer", "lr", "seed")


def train_preset(a) -> int:
    from rnnviz.cli.common import Progress, check_writable
    from rnnviz.core.config import NONFINITE_LIMIT
    from rnnviz.core.loop import run_steps
    from rnnviz.core.presets import format_report, get_preset, load_source, preset_trainer
    from rnnviz.core.scoring import report

    preset = get_preset(a.preset)
    steps = preset.steps if a.steps is None else a.steps
    if steps < 0:
        raise ConfigError(f"steps must be >= 0, not {steps}")
    if preset.lab:
        return train_lab_preset(a, preset, steps)
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
        ran = run_steps(trainer, steps, a.eval_every, progress.show)
    except KeyboardInterrupt:
        progress.done()
        save_preset_model(out, trainer, preset.name)
        print(f"rnnviz: interrupted after {trainer.updates} updates; saved {out}", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - t0
    progress.done()
    if ran.diverged:
        trainer.restore_good(lr_factor=1.0)
        save_preset_model(out, trainer, preset.name)
        raise RnnvizError(
            f"training diverged at step {ran.metrics.step} ({NONFINITE_LIMIT} non-finite steps in a row); "
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


def train_lab_preset(a, preset, steps: int) -> int:
    """A lab preset (recall): its models side by side, as in the gradient lab; each saved beside
    --out (model.safetensors -> model-lstm.safetensors, ...); the figures, with --json as JSON."""
    from dataclasses import replace

    from rnnviz.cli.common import check_writable, figures_table, lab_models, train_side_by_side
    from rnnviz.core.lab import Comparison
    from rnnviz.core.presets import load_source
    from rnnviz.core.recall import baselines
    from rnnviz.core.samples import split_lines

    if a.arch is not None:
        raise ConfigError(
            f"the {preset.name} preset trains {', '.join(preset.archs)} side by side; for others use "
            "rnnviz compare --archs"
        )
    out = Path(a.out)
    saves = {arch: out.with_name(f"{out.stem}-{arch}{out.suffix}") for arch in preset.archs}
    for path in saves.values():
        check_writable(path)
    model = preset.model | {k: getattr(a, k) for k in ("layers", "hidden") if getattr(a, k) is not None}
    train = {k: getattr(a, k) for k in _TRAIN_OVERRIDES if getattr(a, k) is not None and k != "seq_len"}
    cfg = replace(preset.train, **train)
    corpus = load_source(preset, a.corpus, a.encoding)
    print(f"preset {preset.name}: {preset.summary}", file=sys.stderr)
    t0 = time.perf_counter()
    lab = Comparison(
        corpus,
        model["hidden"],
        model["layers"],
        cfg,
        device=a.device,
        archs=preset.archs,
        state=model["state"],
    )
    last, seconds = train_side_by_side(lab, steps)
    doc = {
        "preset": preset.name,
        "corpus": corpus.name,
        "archs": list(preset.archs),
        "samples": cfg.samples,
        "steps": steps,
        "hidden": model["hidden"],
        "layers": model["layers"],
        "state": model["state"],
        "batch": cfg.batch,
        "lr": cfg.lr,
        "seed": cfg.seed,
        "window": lab.window,
        "positions": len(lab.probes),
        "seconds": round(time.perf_counter() - t0, 3),
        "models": lab_models(lab, last, seconds, saves),
    }
    held_out = split_lines(corpus.text, cfg.val_fraction)[1]
    if preset.name == "recall" and held_out:
        doc |= {"held_out_lines": len(held_out), **baselines(held_out)}
    text = figures_table(doc) + "".join(
        f"\nreference: {k.replace('_', ' ')}: {doc[k]:.1%}" for k in _RECALL_REFERENCES if k in doc
    )
    if a.json:
        print(text, file=sys.stderr)
        print(json.dumps(_finite(doc), allow_nan=False))
    else:
        print(text)
    return 0


_RECALL_REFERENCES = ("chance_accuracy", "majority_accuracy", "values_without_keys_accuracy")


def save_preset_model(out: Path, trainer, preset: str) -> None:
    save_trained(out, trainer, trainer.corpus, {"preset": preset})


def _finite(v):
    """JSON has no NaN: non-finite floats become null, recursively."""
    if isinstance(v, float):
        return finite(v)
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v
