"""The TrainWorker on its QThread: play, pause, step, settings, errors and stop, as signals."""

import pytest
import torch
from PySide6.QtCore import QObject, Slot

from rnnviz.core.corpus import Corpus
from rnnviz.core.model import ModelConfig
from rnnviz.core.train import NONFINITE_LIMIT, TrainConfig, Trainer
from rnnviz.qt.worker import TrainerThread, TrainWorker

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


class Recorder(QObject):
    """Receives the worker's signals on the GUI thread (@Slot methods: queued across threads)."""

    def __init__(self, worker):
        super().__init__()
        self.snaps, self.failures, self.running, self.notices = [], [], [], []
        worker.snapshot_ready.connect(self.on_snapshot)
        worker.failed.connect(self.on_failed)
        worker.notice.connect(self.on_notice)
        worker.running_changed.connect(self.on_running)
        worker.diverged.connect(self.on_failed)

    @Slot(object)
    def on_snapshot(self, snap):
        self.snaps.append(snap)

    @Slot(str)
    def on_failed(self, message):
        self.failures.append(message)

    @Slot(str)
    def on_notice(self, message):
        self.notices.append(message)

    @Slot(bool)
    def on_running(self, on):
        self.running.append(on)


@pytest.fixture
def runner(qtbot):
    corpus = Corpus.from_text(TEXT, "char")
    trainer = Trainer(
        corpus,
        ModelConfig(vocab_size=len(corpus.vocab), hidden=16),
        TrainConfig(seq_len=16, batch=4),
        device="cpu",
    )
    worker = TrainWorker(trainer, eval_every=5)
    r = TrainerThread(worker)
    r.rec = Recorder(worker)
    r.snaps = r.rec.snaps
    r.start()
    try:
        qtbot.waitUntil(lambda: bool(r.snaps), timeout=5000)
        yield r
    finally:
        assert r.stop(5000)
    assert not r.thread.isRunning()


def wait_updates(qtbot, r, n):
    qtbot.waitUntil(lambda: bool(r.snaps) and r.snaps[-1].updates >= n, timeout=10_000)


def test_play_pause_and_snapshots(qtbot, runner):
    assert runner.snaps[0].updates == 0 and runner.snaps[0].metrics is None
    runner.worker.play()
    qtbot.waitUntil(lambda: runner.rec.running == [True], timeout=5000)
    wait_updates(qtbot, runner, 12)
    runner.worker.pause()
    qtbot.waitUntil(lambda: runner.rec.running == [True, False], timeout=5000)
    qtbot.wait(200)
    settled = runner.snaps[-1].updates
    qtbot.wait(300)
    assert runner.snaps[-1].updates == settled  # paused means paused
    steps = [m.step for s in runner.snaps for m in s.recent]
    assert steps == list(range(1, settled + 1))  # every step's metrics arrive once, in order
    assert any(s.evaluation is not None for s in runner.snaps)


def test_single_steps(qtbot, runner):
    for expected in (1, 2, 3):
        runner.worker.step_once()
        wait_updates(qtbot, runner, expected)
    qtbot.wait(200)
    assert runner.snaps[-1].updates == 3


def test_settings_apply_without_reset(qtbot, runner):
    runner.worker.apply(lr=0.05, clip=None, optimizer="rmsprop")
    runner.worker.step_once()
    wait_updates(qtbot, runner, 1)
    tr = runner.worker.trainer
    assert (tr.cfg.lr, tr.cfg.clip, tr.cfg.optimizer) == (0.05, None, "rmsprop")
    assert runner.snaps[-1].metrics.lr == 0.05
    runner.worker.apply(lr=-1.0)  # refused: said, and training goes on as it was (not paused)
    qtbot.waitUntil(lambda: any("learning rate" in n for n in runner.rec.notices), timeout=5000)
    assert not runner.rec.failures and runner.worker.trainer.cfg.lr == 0.05


def test_budget_pauses_training(qtbot, runner):
    runner.worker.set_budget(7)
    runner.worker.play()
    wait_updates(qtbot, runner, 7)
    qtbot.wait(300)
    assert runner.snaps[-1].updates == 7


def test_an_exception_in_training_is_a_message(qtbot, runner):
    runner.worker.trainer.model.head = torch.nn.Linear(3, 3)  # breaks the forward pass
    runner.worker.play()
    qtbot.waitUntil(lambda: bool(runner.rec.failures), timeout=5000)
    assert runner.rec.failures[0].startswith("training stopped: RuntimeError")
    assert runner.thread.isRunning()  # the worker lives on, paused


def test_repeated_non_finite_steps_pause(qtbot, runner):
    with torch.no_grad():
        runner.worker.trainer.model.head.bias[1] = float("inf")
    runner.worker.play()
    qtbot.waitUntil(lambda: bool(runner.rec.failures), timeout=10_000)
    assert "non-finite" in runner.rec.failures[0]
    qtbot.waitUntil(lambda: runner.snaps[-1].metrics is not None and runner.snaps[-1].metrics.skipped)
    assert runner.worker.trainer.steps == NONFINITE_LIMIT and runner.worker.trainer.updates == 0


def test_restore_after_divergence_goes_back_to_good_weights(qtbot, runner):
    tr = runner.worker.trainer
    runner.worker.set_budget(25)
    runner.worker.play()
    wait_updates(qtbot, runner, 25)
    good = {k: v.clone() for k, v in tr._good.items()}
    assert tr.good_updates == 24  # the weights before the last update: their loss was measured finite
    with torch.no_grad():
        tr.model.head.bias[1] = float("inf")
    runner.worker.set_budget(0)
    runner.worker.play()
    qtbot.waitUntil(lambda: bool(runner.rec.failures), timeout=10_000)
    lr = tr.cfg.lr
    runner.worker.apply(restore=True)
    qtbot.waitUntil(lambda: tr.updates == 24, timeout=5000)
    assert tr.cfg.lr == pytest.approx(lr * 0.1)
    for k, v in tr.model.state_dict().items():
        assert torch.equal(v, good[k]), k
    runner.worker.step_once()
    wait_updates(qtbot, runner, 25)
    assert not runner.snaps[-1].metrics.skipped
