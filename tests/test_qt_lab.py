"""The gradient lab on real small models: LabWorker on its QThread, LabWindow, and the Lab menu."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QObject, Qt, Slot

from rnnviz.core.corpus import load_corpus
from rnnviz.core.errors import ConfigError
from rnnviz.core.lab import (
    ARCHS,
    Comparison,
    LabFigures,
    gate_saturation,
    gradient_horizon,
    largest_singular_values,
    step_jacobians,
)
from rnnviz.core.trace import TraceWeights, trace
from rnnviz.core.train import TrainConfig
from rnnviz.qt.lab_window import SAT_GATES, LabWindow
from rnnviz.qt.lab_worker import LabWorker
from rnnviz.qt.views.common import configure_pyqtgraph, fmt
from rnnviz.qt.worker import TrainerThread

HIDDEN = 12


def small_lab() -> Comparison:
    cfg = TrainConfig(seq_len=16, batch=8, lr=3e-3)
    return Comparison(load_corpus("builtin:fable"), HIDDEN, 1, cfg, device="cpu", window=16, positions=3)


class Recorder(QObject):
    """Receives the worker's signals on the GUI thread (@Slot methods: queued across threads)."""

    def __init__(self, worker):
        super().__init__()
        self.metrics, self.figures, self.failures, self.running = [], [], [], []
        worker.metrics_ready.connect(self.on_metrics)
        worker.figures_ready.connect(self.on_figures)
        worker.failed.connect(self.on_failed)
        worker.running_changed.connect(self.on_running)

    @Slot(object)
    def on_metrics(self, batch):
        self.metrics.append(batch)

    @Slot(object)
    def on_figures(self, figs):
        self.figures.append(figs)

    @Slot(str)
    def on_failed(self, message):
        self.failures.append(message)

    @Slot(bool)
    def on_running(self, on):
        self.running.append(on)

    def steps(self, arch):
        return [m.step for batch in self.metrics for m in batch[arch]]

    def figures_at(self, step):
        return next((f for f in reversed(self.figures) if f["rnn"].step == step), None)


@pytest.fixture
def runner(qtbot):
    worker = LabWorker(small_lab(), measure_every=5)
    r = TrainerThread(worker)
    r.rec = Recorder(worker)
    r.start()
    try:
        qtbot.waitUntil(lambda: bool(r.rec.figures), timeout=10_000)  # measured once at start
        yield r
    finally:
        assert r.stop(10_000)
    assert not r.thread.isRunning()


def wait_figures(qtbot, r, step):
    qtbot.waitUntil(lambda: r.rec.figures_at(step) is not None, timeout=15_000)
    return r.rec.figures_at(step)


def test_plays_pauses_and_sends_every_step_of_every_model_in_order(qtbot, runner):
    first = runner.rec.figures[0]
    assert set(first) == set(ARCHS) and all(f.step == 0 for f in first.values())
    runner.worker.play()
    qtbot.waitUntil(lambda: len(runner.rec.steps("gru")) >= 12, timeout=20_000)
    runner.worker.pause()
    qtbot.waitUntil(lambda: runner.rec.running == [True, False], timeout=5000)
    n = runner.worker.steps
    wait_figures(qtbot, runner, n)  # measured again when paused after stepping
    qtbot.wait(300)
    assert runner.worker.steps == n  # paused means paused
    for arch in ARCHS:
        assert runner.rec.steps(arch) == list(range(1, n + 1))
    measured = {f["lstm"].step for f in runner.rec.figures}
    assert {0, 5, 10, n} <= measured  # at start, every measure_every steps, and on pause


def test_single_steps_each_bring_figures(qtbot, runner):
    for expected in (1, 2, 3):
        runner.worker.step_once()
        wait_figures(qtbot, runner, expected)
    qtbot.wait(300)
    assert runner.worker.steps == 3 and runner.rec.steps("rnn") == [1, 2, 3]
    assert all(t.steps == 3 for t in runner.worker.lab.trainers.values())


def test_figures_match_a_direct_computation_on_the_same_windows(qtbot, runner):
    runner.worker.step_once(4)
    figs = wait_figures(qtbot, runner, 4)
    lab = runner.worker.lab
    for arch in ARCHS:
        fig, tr = figs[arch], lab.trainers[arch]
        assert isinstance(fig, LabFigures) and fig.arch == arch
        w = TraceWeights.from_state(tr.model_cfg, tr.snapshot().weights)
        traces = [
            trace(w, lab.probe_ids[p - lab.window + 1 : p + 1], target_id=int(lab.probe_ids[p + 1]))
            for p in lab.positions
        ]
        horizons = [gradient_horizon(t.grad_h[-1], t.target_step) for t in traces]
        assert fig.horizon == pytest.approx(np.mean(horizons))
        first = traces[0]
        np.testing.assert_allclose(fig.sigma_by_step, largest_singular_values(step_jacobians(w, first)))
        for gate, (left, right) in gate_saturation(first).items():
            np.testing.assert_array_equal(fig.saturation[gate][0], left)
            np.testing.assert_array_equal(fig.saturation[gate][1], right)
        if arch == "lstm":
            np.testing.assert_allclose(fig.cell_sigma, first.gates["f"][0].max(axis=1))
        else:
            assert fig.cell_sigma is None
    assert set(figs["lstm"].saturation) == {"i", "f", "o"} and set(figs["gru"].saturation) == {"r", "z"}


def w_hh(lab):
    return {a: t.model.rnn.weight_hh_l0.detach().clone() for a, t in lab.trainers.items()}


def test_scaling_w_hh_multiplies_all_three_and_undo_restores(qtbot, runner):
    lab = runner.worker.lab
    before = w_hh(lab)
    sigma_before = runner.rec.figures[-1]["rnn"].mean_sigma
    runner.worker.scale_recurrent(1.5)
    assert runner.worker.scale_applied == 1.5
    qtbot.waitUntil(lambda: runner.rec.figures[-1]["rnn"].scale == 1.5, timeout=10_000)
    figs = runner.rec.figures[-1]
    for arch, w in w_hh(lab).items():
        assert torch.equal(w, before[arch] * 1.5)
    assert figs["rnn"].mean_sigma > sigma_before  # the spectrum follows the weights
    runner.worker.scale_recurrent(2.0)
    assert runner.worker.scale_applied == 3.0
    runner.worker.undo_scaling()
    assert runner.worker.scale_applied == 1.0
    qtbot.waitUntil(lambda: runner.rec.figures[-1]["rnn"].scale == 1.0, timeout=10_000)
    for arch, w in w_hh(lab).items():
        torch.testing.assert_close(w, before[arch], rtol=1e-6, atol=1e-7)
        assert not torch.equal(w, before[arch] * 1.5)
    with pytest.raises(ConfigError):
        runner.worker.scale_recurrent(0.0)


def test_learning_rate_applies_to_all_three(qtbot, runner):
    runner.worker.set_lr(0.02)
    runner.worker.step_once()
    wait_figures(qtbot, runner, 1)
    assert [t.cfg.lr for t in runner.worker.lab.trainers.values()] == [0.02] * 3
    assert runner.rec.metrics[-1]["gru"][-1].lr == 0.02
    with pytest.raises(ConfigError):
        runner.worker.set_lr(-1.0)


def test_an_exception_in_training_is_a_message(qtbot, runner):
    runner.worker.lab.trainers["gru"].model.head = torch.nn.Linear(3, 3)  # breaks the forward pass
    runner.worker.play()
    qtbot.waitUntil(lambda: bool(runner.rec.failures), timeout=10_000)
    assert runner.rec.failures[0].startswith("training stopped: RuntimeError")
    assert runner.thread.isRunning()  # the worker lives on, paused


# ---- the window ------------------------------------------------------------------------------


@pytest.fixture
def lab_window(qtbot, qapp):
    configure_pyqtgraph()
    w = LabWindow(corpus="builtin:fable", hidden=HIDDEN)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.figs), timeout=10_000)
    yield w
    thread = w.runner.thread if w.runner is not None else None
    w.close()
    assert w.runner is None and (thread is None or not thread.isRunning())


def train_a_little(qtbot, w, steps=6):
    qtbot.mouseClick(w.play, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: all(len(w.loss[a]) >= steps for a in ARCHS), timeout=30_000)
    qtbot.mouseClick(w.play, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.figs and w.figs["rnn"].step == w.worker.steps > 0, timeout=20_000)
    qtbot.waitUntil(lambda: not w._metrics_dirty and not w._figs_dirty, timeout=2000)


def test_window_trains_and_draws_one_loss_line_per_model(qtbot, lab_window):
    w = lab_window
    assert w.windowTitle() == "rnnviz \u2014 gradient lab: RNN vs LSTM vs GRU"
    assert w.play.text() == "Play"
    train_a_little(qtbot, w)
    assert w.play.text() == "Play" and not w.play.isChecked()
    for arch in ARCHS:
        x, y = w.loss_curves[arch].getData()
        assert len(x) >= 6 and list(x) == list(range(1, len(x) + 1))
        np.testing.assert_array_equal(y, w.loss[arch].y)
    legend = [label.text for _, label in w.plots["loss"].legend.items]
    assert legend[:3] == ["RNN", "LSTM", "GRU"]
    for arch in ARCHS:
        assert f">{w.figs[arch].horizon:.1f}<" in w.table.text()
    readout = w.readout_text("loss", 3.2, 0.0)
    assert readout.startswith("step 3:") and fmt(w.loss["gru"].y[2]) in readout
    from test_qt_layout import clipped_labels

    for size in ((1366, 768), (1920, 1080)):  # no label cut at a small or a large screen
        w.resize(*size)
        qtbot.wait(100)
        assert clipped_labels(w) == [], size


def test_spectrum_has_the_line_at_one_and_the_lstm_cell_path(qtbot, lab_window):
    w = lab_window
    plot = w.plots["sigma"]
    assert w.unit_line in plot.items and w.unit_line.angle == 0
    assert plot.getAxis("left").logMode and w.unit_line.value() == 0.0  # log10(1)
    assert "below vanishes, above explodes" in w.unit_line.label.toPlainText()
    qtbot.waitUntil(lambda: w.sigma_curves["rnn"].yData is not None, timeout=5000)
    for arch in ARCHS:
        np.testing.assert_allclose(w.sigma_curves[arch].yData, w.figs[arch].sigma_by_step)
    np.testing.assert_allclose(w.cell_curve.yData, w.figs["lstm"].cell_sigma)
    readout = w.readout_text("sigma", 2.1, 0.0)
    assert readout.startswith("step 2:") and "(cell " in readout
    assert fmt(w.figs["rnn"].sigma_by_step[2]) in readout


def test_saturation_scatter_has_one_point_per_unit_and_gate(qtbot, lab_window):
    w = lab_window
    train_a_little(qtbot, w)
    assert set(w.sat_points) == set(SAT_GATES)
    for (arch, gate), item in w.sat_points.items():
        x, y = item.getData()
        assert len(x) == len(y) == HIDDEN
        left, right = w.figs[arch].saturation[gate]
        np.testing.assert_array_equal(x, left)
        np.testing.assert_array_equal(y, right)
    assert w.plots["sat"].viewRange()[0][0] <= 0 and w.plots["sat"].viewRange()[0][1] >= 1


def test_scale_buttons_and_reset(qtbot, lab_window):
    w = lab_window
    w.scale.setValue(2.0)
    w._tell("scale_recurrent", w.scale.value)
    assert w.worker.scale_applied == 2.0 and "\u00d7 2 applied" in w.scale_label.text()
    qtbot.waitUntil(lambda: w.figs["rnn"].scale == 2.0, timeout=10_000)
    w._tell("undo_scaling")
    assert "\u00d7 1 applied" in w.scale_label.text()
    qtbot.mouseClick(w.play, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(w.loss["gru"]) >= 3, timeout=20_000)
    old_thread, old_lab = w.runner.thread, w.lab
    w.hidden.setValue(8)
    w.reset()  # while training: late signals of the old models must not reach the new curves
    assert not w.play.isChecked()
    assert not old_thread.isRunning() and w.lab is not old_lab
    assert all(t.model_cfg.hidden == 8 for t in w.lab.trainers.values())
    assert all(len(h) == 0 for h in w.loss.values()) and "\u00d7 1 applied" in w.scale_label.text()
    train_a_little(qtbot, w, steps=2)
    assert list(w.loss["rnn"].x[:2]) == [1.0, 2.0]  # nothing from the old models got in


def test_closing_stops_the_thread_and_reopening_goes_on(qtbot, lab_window):
    w = lab_window
    thread, lab = w.runner.thread, w.lab
    w.close()
    assert not thread.isRunning() and w.runner is None
    w.show()
    assert w.runner is not None and w.runner.thread.isRunning() and w.lab is lab


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen: raise_() is a no-op
def test_the_lab_menu_opens_one_lab_window(qtbot, qapp):
    from rnnviz.qt.main_window import MainWindow

    configure_pyqtgraph()
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    menu = next(a.menu() for a in main.menuBar().actions() if a.text() == "&Lab")
    action = menu.actions()[0]
    assert action.text() == "Compare RNN, LSTM and GRU\u2026"
    action.trigger()
    lab = main.lab_window
    assert isinstance(lab, LabWindow) and lab.isVisible() and lab.runner.thread.isRunning()
    action.trigger()
    assert main.lab_window is lab  # raised, not duplicated
    thread = lab.runner.thread
    main.close()
    assert not thread.isRunning() and not lab.isVisible()
