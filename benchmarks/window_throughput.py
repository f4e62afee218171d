"""Training throughput of the gradient lab and the noisy-sine forecaster inside their windows vs the
same loop headless, measured in one run (issue 18: >= 0.8x with their views animating).

Headless: the loop the training process runs (core.lab_loop.LabLoop for the lab's RNN, LSTM and
GRU of 64 units on the story; core.loop.TrainLoop with the preset's monitor, forecasts and figures
ten times a second, for the sine) on a thread of this process, its reports dropped, one torch
thread. In the window: the real LabWindow / SeriesWindow (offscreen, 1400x880) playing, every
plot animating, training in the window's own training process. Both run for --seconds each,
alternating --rounds times; steps per wall-clock second.
Run: QT_QPA_PLATFORM=offscreen python benchmarks/window_throughput.py [--seconds 15] [--rounds 2]
"""

import argparse
import statistics
import threading
import time

from qt_bench import application, close, pump, until

from rnnviz.core.config import TrainConfig
from rnnviz.core.corpus import load_corpus
from rnnviz.core.presets import PRESETS, load_source, preset_spec
from rnnviz.core.session import LabSpec


def headless(make_loop, steps_of, seconds: float) -> float:
    """Steps per second of a loop run on a thread, playing, its reports dropped."""
    import torch

    torch.set_num_threads(1)
    loop = make_loop(lambda report: None)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    loop.play()
    time.sleep(1.0)  # warm: the optimisers are built, the first figures measured
    first, t0 = steps_of(loop), time.perf_counter()
    time.sleep(seconds)
    rate = (steps_of(loop) - first) / (time.perf_counter() - t0)
    loop.stop()
    thread.join(30)
    return rate


def lab_loop(emit):
    from rnnviz.core.lab_loop import LabLoop

    return LabLoop(lab_spec().build(), emit, lab_spec().measure_every)


def lab_spec() -> LabSpec:
    return LabSpec(load_corpus("builtin:story", "char"), 64, 1, TrainConfig(lr=3e-3, clip=1.0))


def sine_loop(emit):
    from rnnviz.core.loop import TrainLoop
    from rnnviz.core.scoring import preset_monitor

    sine = PRESETS["sine"]
    trainer = preset_spec(sine, load_source(sine), device="cpu").build()
    monitor, _ = preset_monitor(trainer)
    return TrainLoop(trainer, emit, 50, 0, monitor, monitor.every)


def in_lab_window(app, seconds: float) -> float:
    from rnnviz.qt.lab_window import LabWindow

    w = LabWindow()
    w.resize(1400, 880)
    w.show()
    until(app, lambda: bool(w.figs))
    w.play.setChecked(True)
    until(app, lambda: "rnn" in w.last_metrics)
    pump(app, 1.0)
    first, t0 = w.last_metrics["rnn"].step, time.perf_counter()
    pump(app, seconds)
    rate = (w.last_metrics["rnn"].step - first) / (time.perf_counter() - t0)
    drawn = w.loss_curves["rnn"].getData()[0] is not None
    w.shut_down()
    close(app, w)
    assert drawn, "the lab's curves were not drawn"
    return rate


def in_sine_window(app, seconds: float) -> float:
    from rnnviz.qt.series_window import SeriesWindow

    w = SeriesWindow()
    w.resize(1400, 880)
    w.show()
    until(app, lambda: w.latest is not None)
    w.controls.play.setChecked(True)
    until(app, lambda: w.latest.metrics is not None)
    pump(app, 1.0)
    first, t0 = w.latest.metrics.step, time.perf_counter()
    pump(app, seconds)
    rate = (w.latest.metrics.step - first) / (time.perf_counter() - t0)
    drawn = w.forecast_updates > 0 and w.traced_updates > 0
    close(app, w)
    assert drawn, "the forecast and the inside were not drawn"
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    app = application()
    for name, loop, steps_of, window in (
        ("gradient lab (3 x 64)", lab_loop, lambda lp: lp.steps, in_lab_window),
        ("sine forecaster", sine_loop, lambda lp: lp.trainer.steps, in_sine_window),
    ):
        bare, gui = [], []
        for _ in range(a.rounds):
            bare.append(headless(loop, steps_of, a.seconds))
            gui.append(window(app, a.seconds))
        b, g = statistics.median(bare), statistics.median(gui)
        print(f"{name}: headless {b:7.1f} steps/s (rounds {' '.join(f'{v:.1f}' for v in bare)}), "
              f"in its window {g:7.1f} steps/s (rounds {' '.join(f'{v:.1f}' for v in gui)}), "
              f"ratio {g / b:.2f}  target >= 0.8")  # fmt: skip


if __name__ == "__main__":
    main()
