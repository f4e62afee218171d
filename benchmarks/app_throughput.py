"""Training throughput inside the app vs the same Trainer headless, measured in one run.

Headless: the default LSTM (1x128, story) stepped by a plain loop in this process, one torch
thread, nothing else running. In the app: the real MainWindow (offscreen) training the same model
(in its training process) with the typed text, the loss curves and every internal view animating
(the typed text re-traced with new weights ten times a second). Both run for --seconds each,
alternating --rounds times; tokens per wall-clock second. Target (issue 7): app / headless >= 0.8.
Run: QT_QPA_PLATFORM=offscreen python benchmarks/app_throughput.py [--seconds 15] [--rounds 2]
"""

import argparse
import statistics
import time

from qt_bench import application, close, main_window, pump, until

from rnnviz.core.corpus import assets_dir
from rnnviz.core.session import DEFAULT_MODEL, trainer_from_checkpoint


def headless(seconds):
    import torch

    torch.set_num_threads(1)
    trainer = trainer_from_checkpoint(str(assets_dir() / DEFAULT_MODEL), "builtin:story")
    for _ in range(3):  # the optimizer is built, the caches are warm
        trainer.step()
    start, t0 = trainer.steps, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        trainer.step()
    return (trainer.steps - start) * trainer.tokens_per_step / (time.perf_counter() - t0)


def in_app(app, seconds):
    w = main_window()
    until(app, lambda: w.latest is not None)
    w.typing.editor.setPlainText("The keeper counted the ships in the harbour every night")
    w.worker.step_once(3)
    until(app, lambda: w.latest.updates >= 803)
    start = w.latest.metrics.step
    w.controls.play.setChecked(True)
    until(app, lambda: w.latest.metrics.step > start)
    first, t0 = w.latest.metrics.step, time.perf_counter()
    pump(app, seconds)
    last, elapsed = w.latest.metrics.step, time.perf_counter() - t0
    frames = w.internals.h_maps[0].image.image is not None
    w.controls.play.setChecked(False)
    rate = (last - first) * w.worker.info.tokens_per_step / elapsed
    close(app, w)
    pump(app, 0.3)
    assert frames, "the views were not drawn"
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    app = application()
    bare, gui = [], []
    for _ in range(a.rounds):
        bare.append(headless(a.seconds))
        gui.append(in_app(app, a.seconds))
    print(f"headless Trainer : {statistics.median(bare) / 1000:7.1f} k tokens/s  rounds "
          + " ".join(f"{v / 1000:.1f}" for v in bare))  # fmt: skip
    print(f"inside the app   : {statistics.median(gui) / 1000:7.1f} k tokens/s  rounds "
          + " ".join(f"{v / 1000:.1f}" for v in gui) + "  (every view animating)")  # fmt: skip
    print(f"ratio app/headless: {statistics.median(gui) / statistics.median(bare):.2f}  target >= 0.8")


if __name__ == "__main__":
    main()
