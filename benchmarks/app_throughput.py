"""Training throughput inside the app vs the same Trainer headless, measured in one run.

Headless: the default LSTM (1x128, story) trained by a TrainWorker on its QThread with no window.
In the app: the real MainWindow (offscreen) with the typed text, the curves tab and every
internal view animating. Both run for --seconds each, alternating --rounds times; tokens/s come
from the steps' own timings. Target (issue 7): app / headless >= 0.8.
Run: QT_QPA_PLATFORM=offscreen python benchmarks/app_throughput.py [--seconds 15] [--rounds 2]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from rnnviz.core.corpus import assets_dir  # noqa: E402
from rnnviz.core.session import DEFAULT_MODEL, trainer_from_checkpoint  # noqa: E402
from rnnviz.qt.views.common import configure_pyqtgraph  # noqa: E402
from rnnviz.qt.worker import TrainerThread, TrainWorker  # noqa: E402


def pump(app, seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.002)


def wall_rate(app, worker, seconds):
    """Tokens per wall-clock second while `worker` trains for `seconds`."""
    start = worker.trainer.steps
    tokens_per_step = worker.trainer.data.shape[0] * worker.trainer.cfg.seq_len
    worker.play()
    t0 = time.perf_counter()
    pump(app, seconds)
    worker.pause()
    elapsed = time.perf_counter() - t0
    pump(app, 0.3)
    return (worker.trainer.steps - start) * tokens_per_step / elapsed


def headless(app, seconds):
    trainer = trainer_from_checkpoint(str(assets_dir() / DEFAULT_MODEL), "builtin:story")
    runner = TrainerThread(TrainWorker(trainer))
    runner.start()
    pump(app, 0.5)
    rate = wall_rate(app, runner.worker, seconds)
    runner.stop()
    return rate


def in_app(app, seconds):
    from rnnviz.qt.main_window import MainWindow

    w = MainWindow()
    w.resize(1440, 900)
    w.show()
    pump(app, 1.0)
    w.typing.editor.setPlainText("The keeper counted the ships in the harbour every night")
    rate = wall_rate(app, w.runner.worker, seconds)
    w.close()
    w.deleteLater()
    pump(app, 0.3)
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    app = QApplication([])
    configure_pyqtgraph()
    bare, gui = [], []
    for _ in range(a.rounds):
        bare.append(headless(app, a.seconds))
        gui.append(in_app(app, a.seconds))
    print(f"headless TrainWorker : {statistics.median(bare) / 1000:7.1f} k tokens/s (wall clock)")
    print(f"inside the app       : {statistics.median(gui) / 1000:7.1f} k tokens/s (every view animating)")
    print(f"ratio app/headless: {statistics.median(gui) / statistics.median(bare):.2f}  target >= 0.8")


if __name__ == "__main__":
    main()
