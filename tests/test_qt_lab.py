"""The gradient lab on real small models: LabLoop (the loop the training process runs) on a thread
of the test, LabWindow with its training process, and the Lab menu."""

import threading
import time

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from rnnviz.core.corpus import load_corpus
from rnnviz.core.errors import ConfigError
from rnnviz.core.lab import (
    DECAY_POINTS,
    DEFAULT_ARCHS,
    Comparison,
    LabFigures,
    curve_horizon,
    decay_per_10,
    distance_ratios,
    gate_saturation,
    largest_singular_values,
    state_jacobians,
)
from rnnviz.core.lab_loop import LabLoop
from rnnviz.core.protocol import Failed, LabProgress, LabResults, Notice, Running, Scale, Step
from rnnviz.core.trace import TraceWeights, trace
from rnnviz.core.train import TrainConfig
from rnnviz.qt.lab_window import SAT_GATES, LabWindow
from rnnviz.qt.views.common import configure_pyqtgraph, fmt

HIDDEN = 12


def small_lab() -> Comparison:
    cfg = TrainConfig(seq_len=16, batch=8, lr=3e-3)
    return Comparison(load_corpus("builtin:fable"), HIDDEN, 1, cfg, device="cpu", window=20, positions=3)


class Recorder:
    """Keeps the loop's reports (list.append is atomic: no lock needed)."""

    def __init__(self):
        self.metrics, self.figures, self.failures, self.running = [], [], [], []

    def __call__(self, report):
        match report:
            case LabProgress(recent=recent):
                self.metrics.append(recent)
            case LabResults(figures=figures):
                self.figures.append(figures)
            case Failed(message=m) | Notice(message=m):
                self.failures.append(m)
            case Running(playing=on):
                self.running.append(on)

    def steps(self, arch):
        return [m.step for batch in list(self.metrics) for m in batch[arch]]

    def figures_at(self, step):
        return next((f for f in reversed(self.figures) if f["rnn"].step == step), None)


def until(cond, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


class Runner:
    """A LabLoop on a thread of its own, as the training process runs it."""

    def __init__(self):
        self.rec = Recorder()
        self.worker = LabLoop(small_lab(), self.rec, measure_every=5)
        self.thread = threading.Thread(target=self.worker.run, daemon=True)


@pytest.fixture
def runner():
    r = Runner()
    r.thread.start()
    try:
        until(lambda: bool(r.rec.figures))  # measured once at start
        yield r
    finally:
        r.worker.stop()
        r.thread.join(10)
    assert not r.thread.is_alive()


def wait_figures(r, step):
    until(lambda: r.rec.figures_at(step) is not None)
    return r.rec.figures_at(step)


def test_plays_pauses_and_sends_every_step_of_every_model_in_order(runner):
    first = runner.rec.figures[0]
    assert set(first) == set(DEFAULT_ARCHS) and all(f.step == 0 for f in first.values())
    runner.worker.play()
    until(lambda: len(runner.rec.steps("gru")) >= 12, 20)
    runner.worker.pause()
    until(lambda: runner.rec.running == [True, False], 5)
    n = runner.worker.steps
    wait_figures(runner, n)  # measured again when paused after stepping
    time.sleep(0.3)
    assert runner.worker.steps == n  # paused means paused
    for arch in DEFAULT_ARCHS:
        assert runner.rec.steps(arch) == list(range(1, n + 1))
    measured = {f["lstm"].step for f in runner.rec.figures}
    assert {0, 5, 10, n} <= measured  # at start, every measure_every steps, and on pause


def test_single_steps_each_bring_figures(runner):
    for expected in (1, 2, 3):
        runner.worker.command(Step())
        wait_figures(runner, expected)
    time.sleep(0.3)
    assert runner.worker.steps == 3 and runner.rec.steps("rnn") == [1, 2, 3]
    assert all(t.steps == 3 for t in runner.worker.lab.trainers.values())


def test_figures_match_a_direct_computation_on_the_same_windows(runner):
    runner.worker.step_once(4)
    figs = wait_figures(runner, 4)
    lab = runner.worker.lab
    for arch in DEFAULT_ARCHS:
        fig, tr = figs[arch], lab.trainers[arch]
        assert isinstance(fig, LabFigures) and fig.arch == arch
        assert (fig.windows, fig.window) == (len(lab.positions), lab.window)
        w = TraceWeights.from_state(tr.model_cfg, tr.snapshot().weights)
        traces = [
            trace(w, lab.probe_ids[p - lab.window + 1 : p + 1], target_id=int(lab.probe_ids[p + 1]))
            for p in lab.positions
        ]
        curve = distance_ratios([t.grad_h[-1] for t in traces])  # checked against autograd in test_lab
        np.testing.assert_array_equal(fig.grad_by_distance, curve)
        assert fig.horizon == curve_horizon(curve) and fig.horizon_far == curve_horizon(curve, 1e-4)
        np.testing.assert_equal(fig.decay_per_10, decay_per_10(curve, least=DECAY_POINTS))
        assert np.isfinite(fig.decay_per_10)  # 20 steps: 10 distances from 10 on, the fewest it fits
        first = traces[0]
        np.testing.assert_allclose(fig.sigma_by_step, largest_singular_values(state_jacobians(w, first)))
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


def test_scaling_w_hh_multiplies_all_three_and_undo_restores(runner):
    lab = runner.worker.lab
    before = w_hh(lab)
    sigma_before = runner.rec.figures[-1]["rnn"].mean_sigma
    runner.worker.command(Scale(1.5))
    assert runner.worker.scale_applied == 1.5
    until(lambda: runner.rec.figures[-1]["rnn"].scale == 1.5)
    figs = runner.rec.figures[-1]
    for arch, w in w_hh(lab).items():
        assert torch.equal(w, before[arch] * 1.5)
    assert figs["rnn"].mean_sigma > sigma_before  # the spectrum follows the weights
    runner.worker.scale_recurrent(2.0)
    assert runner.worker.scale_applied == 3.0
    runner.worker.undo_scaling()
    assert runner.worker.scale_applied == 1.0
    until(lambda: runner.rec.figures[-1]["rnn"].scale == 1.0)
    for arch, w in w_hh(lab).items():
        torch.testing.assert_close(w, before[arch], rtol=1e-6, atol=1e-7)
        assert not torch.equal(w, before[arch] * 1.5)
    with pytest.raises(ConfigError):
        runner.worker.scale_recurrent(0.0)
    runner.worker.command(Scale(-1.0))  # a command with a bad value is reported, not raised
    until(lambda: bool(runner.rec.failures))
    assert "scale factor must be a positive number" in runner.rec.failures[-1]


def test_learning_rate_applies_to_all_three(runner):
    runner.worker.set_lr(0.02)
    runner.worker.step_once()
    wait_figures(runner, 1)
    assert [t.cfg.lr for t in runner.worker.lab.trainers.values()] == [0.02] * 3
    assert runner.rec.metrics[-1]["gru"][-1].lr == 0.02
    with pytest.raises(ConfigError):
        runner.worker.set_lr(-1.0)


def test_an_exception_in_training_is_a_message(runner):
    runner.worker.lab.trainers["gru"].model.head = torch.nn.Linear(3, 3)  # breaks the forward pass
    runner.worker.play()
    until(lambda: bool(runner.rec.failures))
    assert runner.rec.failures[0].startswith("training stopped: RuntimeError")
    assert runner.thread.is_alive()  # the loop lives on, paused


# ---- the window ------------------------------------------------------------------------------


@pytest.fixture
def lab_window(qtbot, qapp):
    configure_pyqtgraph()
    w = LabWindow(corpus="builtin:fable", hidden=HIDDEN)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.figs), timeout=10_000)
    yield w
    process = w.host.process.process
    w.shut_down()
    assert process.poll() is not None  # the lab's training process has ended


def train_a_little(qtbot, w, steps=6):
    qtbot.mouseClick(w.play, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: all(len(w.loss[a]) >= steps for a in DEFAULT_ARCHS), timeout=30_000)
    qtbot.mouseClick(w.play, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.figs and w.figs["rnn"].step == w.last_metrics["rnn"].step > 0, timeout=20_000)
    qtbot.waitUntil(lambda: not w._metrics_dirty and not w._figs_dirty, timeout=2000)


def test_window_trains_and_draws_one_loss_line_per_model(qtbot, lab_window):
    w = lab_window
    assert w.windowTitle() == "rnnviz \u2014 gradient lab: RNN vs LSTM vs GRU"
    assert w.play.text() == "Play"
    train_a_little(qtbot, w)
    assert w.play.text() == "Play" and not w.play.isChecked()
    for arch in DEFAULT_ARCHS:
        x, y = w.loss_curves[arch].getData()
        assert len(x) >= 6 and list(x) == list(range(1, len(x) + 1))
        np.testing.assert_array_equal(y, w.loss[arch].y)
    legend = [label.text for _, label in w.plots["loss"].legend.items]
    assert legend[:3] == ["RNN", "LSTM", "GRU"]
    for arch in DEFAULT_ARCHS:
        f = w.figs[arch]
        assert f">{f.horizon:.0f}<" in w.table.text() and f">{f.horizon_far:.0f}<" in w.table.text()
        assert f">{f.decay_per_10:.2f}<" in w.table.text()
        np.testing.assert_array_equal(w.decay_curves[arch].getData()[1], w.decays[arch].y)
        assert w.decays[arch].y[-1] == f.decay_per_10  # the headline curve ends at the table's figure
        k, y = (
            w.fit_lines[arch].xData,
            w.fit_lines[arch].yData,
        )  # the fit drawn over the ratio curve has the table's slope
        assert k[0] == 10 and -10 * (np.log10(y[-1]) - np.log10(y[0])) / (k[-1] - k[0]) == pytest.approx(
            f.decay_per_10
        )
    assert "levels off" in w.table.text()
    for key, plot in w.plots.items():  # every point in view; the ratio and spectrum fill their width
        (x0, x1), (y0, y1) = plot.vb.viewRange()
        for item in plot.listDataItems():
            x, y = item.getData()  # (the display data: log10 on a log axis)
            if x is not None and len(x):
                ok = np.isfinite(y)
                assert x0 <= x.min() and x.max() <= x1 and y0 <= y[ok].min() and y[ok].max() <= y1, key
        if key in ("grad", "sigma"):
            last = max(len(w.grad_curves[a].getData()[0] if key == "grad" else w.figs[a].sigma_by_step)
                       for a in DEFAULT_ARCHS)  # fmt: skip
            assert x1 == pytest.approx(last - 1, abs=1), key
    decay = w.readout_text("decay", 0.2, 0.0)  # the headline curve's hover: every model at step 0
    assert decay.startswith("step 0:") and fmt(w.decays["lstm"].y[0]) in decay
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
    for arch in DEFAULT_ARCHS:
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
        if arch not in DEFAULT_ARCHS:  # minGRU's and minLSTM's items: empty until they train
            assert len(x) == 0
            continue
        assert len(x) == len(y) == HIDDEN
        left, right = w.figs[arch].saturation[gate]
        np.testing.assert_array_equal(x, left)
        np.testing.assert_array_equal(y, right)
    assert w.plots["sat"].viewRange()[0][0] <= 0 and w.plots["sat"].viewRange()[0][1] >= 1


def test_scale_buttons_and_reset(qtbot, lab_window):
    w = lab_window
    w.scale.setValue(2.0)
    w._tell("scale", w.scale.value)
    assert w.scale_applied == 2.0 and "\u00d7 2 applied" in w.scale_label.text()
    qtbot.waitUntil(lambda: w.figs["rnn"].scale == 2.0, timeout=10_000)
    w.scale.setValue(0.1)
    w.lr.setText("-1")
    w._tell("lr", w.lr.text)  # refused here: nothing is sent
    assert "learning rate must be" in w.statusBar().currentMessage()
    w._tell("undo")
    assert "\u00d7 1 applied" in w.scale_label.text()
    qtbot.mouseClick(w.play, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(w.loss["gru"]) >= 3, timeout=20_000)
    old = w.worker
    w.hidden.setValue(8)
    w.lr.setText("0.003")
    w.reset()  # while training: late reports of the old models must not reach the new curves
    assert not w.play.isChecked() and w.worker is not old and w.worker.info.model_cfg.hidden == 8
    qtbot.waitUntil(lambda: old.ended, timeout=10_000)  # the old session has ended in the process
    assert all(len(h) == 0 for h in w.loss.values()) and "\u00d7 1 applied" in w.scale_label.text()
    train_a_little(qtbot, w, steps=2)
    assert list(w.loss["rnn"].x[:2]) == [1.0, 2.0]  # nothing from the old models got in


def test_closing_pauses_and_reopening_goes_on_with_the_same_models(qtbot, lab_window):
    w = lab_window
    train_a_little(qtbot, w, steps=2)
    qtbot.mouseClick(w.play, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.play.isChecked(), timeout=5000)
    worker = w.worker
    w.close()
    assert not w.play.isChecked()
    qtbot.wait(500)  # the last steps' reports arrive
    paused_at = w.last_metrics["rnn"].step
    qtbot.wait(300)
    assert w.last_metrics["rnn"].step == paused_at  # paused while closed
    w.show()
    assert w.worker is worker
    w._tell("step")  # the Step button
    qtbot.waitUntil(lambda: w.last_metrics["rnn"].step == paused_at + 1, timeout=10_000)


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen: raise_() is a no-op
def test_the_lab_menu_opens_one_lab_window(qtbot, qapp):
    from rnnviz.qt.main_window import MainWindow

    configure_pyqtgraph()
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    menu = next(a.menu() for a in main.menuBar().actions() if a.text() == "&Lab")
    action = menu.actions()[0]
    assert action.text().startswith("Compare architectures (RNN, LSTM, GRU, minGRU, minLSTM, S6)")
    action.trigger()
    lab = main.lab_window
    assert isinstance(lab, LabWindow) and lab.isVisible() and lab.worker is not None
    action.trigger()
    assert main.lab_window is lab  # raised, not duplicated
    process = lab.host.process.process
    main.close()
    assert process.poll() is not None and not lab.isVisible()
