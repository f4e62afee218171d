"""The noisy-sine forecaster's window as a user meets it: train, read the figures, click a window,
look inside, reset with other settings, open another series or model, close."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication
from qt_helpers import assert_heatmap

from rnnviz.core.model import CharRNN, state_arrays
from rnnviz.core.presets import PRESETS, load_source, preset_spec
from rnnviz.core.samples import predict, window_samples
from rnnviz.core.scoring import Scorer
from rnnviz.core.series import noisy_sine
from rnnviz.core.snapshot import StepMetrics
from rnnviz.core.trace import TraceWeights, trace_series
from rnnviz.qt.arch_box import set_arch
from rnnviz.qt.series_controls import BAD, GOOD, TARGET_MSE
from rnnviz.qt.series_window import SeriesWindow
from rnnviz.qt.views.common import configure_pyqtgraph, fmt
from rnnviz.qt.views.mse_plot import EMA_ALPHA, MsePlot

LR = f"{PRESETS['sine'].train.lr:g}"  # the preset's learning rate, as the field shows it

SINE = noisy_sine()


def make_window(qtbot, **kwargs) -> SeriesWindow:
    configure_pyqtgraph()
    w = SeriesWindow(**kwargs)
    qtbot.addWidget(w)
    w.resize(1400, 880)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.latest is not None, timeout=10_000)
    return w


@pytest.fixture
def window(qtbot):
    w = make_window(qtbot)
    yield w
    w.close()
    assert w.worker is None and w.host.process.process.poll() is not None  # its training process ended


def train(qtbot, w: SeriesWindow, steps: int) -> None:
    """`steps` updates, then wait until the window has drawn the forecasts and figures of them."""
    start = w.latest.updates
    w.worker.step_once(steps)

    def shown() -> bool:
        s = w.latest
        done = s.updates >= start + steps and s.weights_step == s.updates
        return done and w.forecast_updates == s.updates and w.traced_updates == s.updates

    qtbot.waitUntil(shown, timeout=20_000)


def trainer_model(w: SeriesWindow) -> CharRNN:
    """A model of this test's own with the paused trainer's weights, as the training process sent
    them (the forecasts and figures shown were computed there, from its own model)."""
    model = CharRNN(w.latest.model_cfg)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in trainer_weights(w).items()})
    return model


def trainer_weights(w: SeriesWindow) -> dict:
    assert w.latest.weights_step == w.latest.updates
    return w.latest.weights


def test_opens_paused_on_the_sine_with_the_preset_settings(window):
    assert window.windowTitle() == "rnnviz \u2014 noisy-sine forecaster"
    c = window.controls
    assert (c.arch.currentData(), c.hidden.value(), c.window.value(), c.lr.text()) == ("rnn", 32, 8, LR)
    assert "tutorial used 4" in c.window.toolTip()
    assert not c.play.isChecked() and window.latest.updates == 0
    plot = window.series_plot
    x, y = plot.points.getData()
    np.testing.assert_array_equal(y, SINE.values)
    np.testing.assert_array_equal(plot.signal.getData()[1], SINE.signal)
    assert plot.split_line.value() == 799.5
    assert window.selected == 800  # the first target of the test part
    assert plot.region.getRegion() == (791.5, 799.5)


def test_nothing_clipped_at_small_and_large_screens(qtbot, window):
    from test_qt_layout import clipped_labels, clipped_titles

    for size in ((1366, 768), (1920, 1080)):
        window.resize(*size)
        qtbot.wait(200)  # the deferred title fits
        assert clipped_labels(window) == [] and clipped_titles(window) == [], size
        axis = window.internals.h_maps[0].plot.getAxis("bottom")
        assert len(axis.drawn) == window.controls.window.value()  # every input value labelled


def test_training_updates_the_forecast_and_figures_to_a_direct_computation(qtbot, window):
    train(qtbot, window, 40)
    model = trainer_model(window)
    train_s, test_s = window_samples(SINE, 8, 0.2)
    expected = np.concatenate([predict(model, train_s), predict(model, test_s)])
    t, y = window.series_plot.forecast_curve.getData()
    np.testing.assert_array_equal(t, np.arange(8, 1000))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)
    assert np.isfinite(y).all() and np.ptp(y) > 0

    doc = Scorer(PRESETS["sine"], load_source(PRESETS["sine"]), window.info.cfg).figures(model)
    c = window.controls
    assert c.figure("train MSE") == f"{doc['train_mse']:.4g}"
    assert c.figure("test MSE") == f"{doc['test_mse']:.4g}"
    mse = np.mean((expected[792:] - SINE.values[800:]) ** 2)  # the test targets are t = 800..999
    assert window.figures_doc["test_mse"] == pytest.approx(mse, rel=1e-5)
    prev = np.mean((SINE.values[800:] - SINE.values[799:-1]) ** 2)
    assert c.figure("predict the previous value") == f"{prev:.4g}"
    assert c.figure("noise floor (variance of 2u = 1/3)") == "0.3333"
    assert c.figure("tutorial's Keras RNN (train MSE)") == "0.3537"
    row = next(r for r in range(c.table.rowCount()) if c.table.item(r, 0).text() == "test MSE")
    colour = c.table.item(row, 1).foreground().color()
    assert colour == (GOOD if window.figures_doc["test_mse"] <= TARGET_MSE else BAD)

    curve = window.mse.raw_curve  # getData() would give log10 of the values: the axis is logarithmic
    np.testing.assert_array_equal(curve.xData, np.arange(1, 41))
    assert curve.yData[-1] == window.latest.metrics.loss and (curve.yData > 0).all()


def click_at(qtbot, w: SeriesWindow, x: float, y: float) -> None:
    plot = w.series_plot
    scene = plot.plot.vb.mapViewToScene(QPointF(x, y))
    pos = plot.graphics.mapFromScene(scene)
    qtbot.mouseClick(plot.graphics.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))


def test_clicking_selects_a_window_and_the_inside_shows_its_trace(qtbot, window):
    train(qtbot, window, 10)
    window.series_plot.plot.setXRange(280, 320, padding=0)  # zoomed in: a pixel is far less than a step
    click_at(qtbot, window, 300.3, 1.0)
    assert window.selected == 300
    plot = window.series_plot
    assert plot.region.getRegion() == (291.5, 299.5)
    assert plot.target.data["x"][0] == 300 and plot.target.data["y"][0] == SINE.values[300]

    def expected():
        w = TraceWeights.from_state(window.latest.model_cfg, trainer_weights(window))
        return trace_series(w, SINE.values[292:300], target=SINE.values[300])

    tr = window.internals.trace
    assert tr.steps == 8
    np.testing.assert_allclose(tr.h, expected().h, rtol=1e-12)
    np.testing.assert_allclose(tr.grad_h, expected().grad_h, rtol=1e-12)
    assert_heatmap(window.internals.h_maps[0], tr.h[0].T)
    assert "x[292..299]" in window.inside_title.text()
    plot._on_hover(300.2, 0.0)  # hover reads t, the value and the forecast there
    forecast = plot.forecast_curve.yData[300 - 8]
    assert plot.readout.text().startswith(f"t 300 (train) \u00b7 x {fmt(SINE.values[300])}")
    assert f"forecast {fmt(forecast)}" in plot.readout.text()

    before = tr.h.copy()
    train(qtbot, window, 20)  # new weights: the same window is traced again
    np.testing.assert_allclose(window.internals.trace.h, expected().h, rtol=1e-12)
    assert not np.allclose(window.internals.trace.h, before)

    window.series_plot.plot.setXRange(0, 40, padding=0)
    click_at(qtbot, window, 2.0, 1.0)  # before the first full window: the first target it can have
    assert window.selected == 8 and window.internals.trace.tokens[0] == f"{SINE.values[0]:.3g}"


def test_the_series_window_offers_and_trains_every_architecture(qtbot, window):
    """A forecaster of each new cell, built from the controls (the S6 last): it trains, and the
    inside shows its own gates and, for the S6, ||dL/ds_t||, each equal to a direct trace."""
    c = window.controls
    assert [c.arch.itemData(i) for i in range(c.arch.count())] == [
        "lstm",
        "gru",
        "rnn",
        "mingru",
        "minlstm",
        "ssm",
    ]
    assert c.arch.itemText(c.arch.count() - 1) == "S6 (selective SSM)"
    for arch, gates in (("mingru", {"z"}), ("minlstm", {"f", "i"}), ("ssm", {"delta", "B", "C"})):
        set_arch(c.arch, arch)
        c.hidden.setValue(5)
        qtbot.mouseClick(c.reset, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda a=arch: window.latest is not None and window.latest.model_cfg.arch == a,
                        timeout=20_000)  # fmt: skip
        train(qtbot, window, 3)
        tr, cfg = window.internals.trace, window.latest.model_cfg
        assert set(tr.gates) == gates and set(window.internals.gate_maps) == gates
        x = tr.inputs
        direct = trace_series(
            TraceWeights.from_state(cfg, trainer_weights(window)), x, target=tr.target_value
        )
        np.testing.assert_allclose(tr.h, direct.h, rtol=1e-12, atol=1e-15)
        assert_heatmap(window.internals.h_maps[0], direct.h[0].T)
    assert window.internals.grads.what == "s"  # the S6: its state's gradient
    np.testing.assert_allclose(window.internals.grads.grad, direct.grad_state, rtol=1e-12, atol=1e-15)
    assert c.arch.currentData() == "ssm"


def test_reset_rebuilds_with_the_settings_and_ends_the_old_session(qtbot, window):
    old = window.worker
    c = window.controls
    set_arch(c.arch, "gru")
    c.hidden.setValue(12)
    c.window.setValue(16)
    c.lr.setText("0.003")
    assert window.worker is old  # settings wait for Reset
    qtbot.mouseClick(c.reset, Qt.MouseButton.LeftButton)
    assert window.worker is not old
    qtbot.waitUntil(lambda: old.ended, timeout=10_000)  # the training process ended the old session
    tr = window.info
    assert (tr.model_cfg.arch, tr.model_cfg.hidden, tr.cfg.seq_len, tr.cfg.lr) == ("gru", 12, 16, 0.003)
    qtbot.waitUntil(lambda: window.latest is not None, timeout=10_000)
    train(qtbot, window, 5)
    assert window.latest.model_cfg.hidden == 12
    t, _ = window.series_plot.forecast_curve.getData()
    np.testing.assert_array_equal(t, np.arange(16, 1000))
    assert window.series_plot.region.getRegion() == (783.5, 799.5)
    inside = window.internals.trace
    assert inside.steps == 16 and set(inside.gates) == {"r", "z", "n"}
    assert inside.h.shape == (1, 16, 12)

    c.lr.setText("fast")
    current = window.worker
    qtbot.mouseClick(c.reset, Qt.MouseButton.LeftButton)
    assert window.worker is current
    assert "learning rate must be a number" in window.statusBar().currentMessage()


def test_space_plays_but_not_in_the_text_fields(qtbot, window):
    c = window.controls
    c.lr.setFocus()
    qtbot.keyClick(c.lr, Qt.Key.Key_Space)
    assert c.lr.text() == LR + " " and not c.play.isChecked()
    c.window.setFocus()
    qtbot.keyClick(c.window, Qt.Key.Key_Space)
    assert c.window.value() == 8 and not c.play.isChecked()
    qtbot.mouseClick(c.reset, Qt.MouseButton.LeftButton)  # from the text field: Space then plays
    assert window.info.cfg.lr == PRESETS["sine"].train.lr
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert c.play.isChecked() and c.play.text() == "Pause"
    qtbot.waitUntil(lambda: window.latest is not None and window.latest.updates > 5, timeout=10_000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert not c.play.isChecked()


def test_closing_ends_a_playing_trainer_and_reopening_goes_on(qtbot):
    w = make_window(qtbot)
    process = w.host.process.process
    w.controls.play.setChecked(True)
    qtbot.waitUntil(lambda: w.latest.weights_step > 3, timeout=10_000)
    w.close()
    assert process.poll() is not None and w.worker is None  # the training process has ended
    updates, weights = w.latest.weights_step, w.latest.weights
    w.show()  # reopened: the same model goes on from its last weights, paused
    qtbot.waitUntil(lambda: w.latest is not None and w.latest.weights_step == updates, timeout=10_000)
    assert not w.controls.play.isChecked()
    for k, v in weights.items():
        np.testing.assert_array_equal(w.latest.weights[k], v)
    w.close()


def test_open_spec_shows_a_model_made_elsewhere(qtbot, window):
    sine = PRESETS["sine"]
    spec = preset_spec(sine, load_source(sine), device="cpu", model={"arch": "lstm", "hidden": 6}, seq_len=4)
    tr = spec.build()  # trained here, by this test: 7 steps
    for _ in range(7):
        tr.step()
    assert window.open_spec(replace(spec, weights=state_arrays(tr.model), updates=7))
    qtbot.waitUntil(lambda: window.latest is not None and window.forecast_updates == 7, timeout=10_000)
    c = window.controls
    assert (c.arch.currentData(), c.hidden.value(), c.window.value()) == ("lstm", 6, 4)
    t, y = window.series_plot.forecast_curve.getData()
    np.testing.assert_array_equal(t, np.arange(4, 1000))
    tr.model.eval()
    np.testing.assert_allclose(y[-200:], predict(tr.model, window_samples(SINE, 4, 0.2)[1]), rtol=1e-6)
    assert window.internals.trace.c is not None and window.internals.trace.steps == 4

    words, current = PRESETS["words"], window.worker
    assert not window.open_spec(preset_spec(words, load_source(words), device="cpu"))
    assert "forecasts numbers" in window.statusBar().currentMessage() and window.worker is current


def test_a_file_series_has_no_signal_and_bad_files_are_one_line_messages(qtbot, tmp_path):
    values = np.cos(0.3 * np.arange(60))
    path = tmp_path / "cos.txt"
    path.write_text("\n".join(f"{v:.6f}" for v in values))
    w = make_window(qtbot, source_spec=str(path))
    assert w.source.name == str(path) and w.source.split == 48
    assert not w.series_plot.signal.isVisible()
    train(qtbot, w, 3)
    labels = {w.controls.table.item(r, 0).text() for r in range(w.controls.table.rowCount())}
    assert labels == {"train MSE", "test MSE", "predict the previous value"}
    w.controls.window.setValue(50)  # 48 training values: no window of 50 fits before the test part
    w.reset()
    assert w.info.cfg.seq_len == 8 and "Reset failed" in w.statusBar().currentMessage()
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 three")
    assert not w.open_source(str(bad)) and "not a number" in w.statusBar().currentMessage()
    assert w.open_source("builtin:sine") and w.series_plot.signal.isVisible()
    w.close()
    assert w.host.process.process.poll() is not None

    w2 = make_window(qtbot, source_spec=str(bad))  # a bad file at start: the built-in sine instead
    assert w2.source.name == "builtin:sine" and "not a number" in w2.statusBar().currentMessage()
    w2.close()


def test_mse_plot_widens_its_step_axis_in_jumps_and_keeps_a_users_zoom(qtbot):
    configure_pyqtgraph()
    m = MsePlot()
    qtbot.addWidget(m)
    m.set_references(1 / 3, 0.62)
    assert m.floor_line.value() == pytest.approx(np.log10(1 / 3))  # the view's y is log10(MSE)
    ranges = []
    for k in range(0, 2000, 20):
        m.add_metrics([metric(s, 0.3 + 0.1 * np.sin(s)) for s in range(k + 1, k + 21)])
        m.refresh()
        ranges.append(m.plot.vb.viewRange()[0][1])
    # 100 refreshes, a few new layouts per decade of steps, and always room ahead of the last step
    assert len(set(ranges)) <= 16 and ranges[-1] >= 2000 / 0.9
    np.testing.assert_array_equal(m.smooth_curve.xData, np.arange(1, 2001))
    ema = 0.3 + 0.1 * np.sin(1)
    for s in range(2, 2001):
        ema = (1 - EMA_ALPHA) * ema + EMA_ALPHA * (0.3 + 0.1 * np.sin(s))
    assert m.smooth_curve.yData[-1] == pytest.approx(ema)
    m.plot.setXRange(100, 200, padding=0)  # the user zooms in: training goes on, the zoom stays
    m.add_metrics([metric(s, 0.3) for s in range(2001, 2400)])
    m.refresh()
    assert m.plot.vb.viewRange()[0] == [100, 200]


def metric(step: int, loss: float) -> StepMetrics:
    return StepMetrics(step, loss, np.nan, np.nan, 0.0, {}, 1.0, False, False, 1e-3, 0.001)


@pytest.mark.parametrize("size", [(550, 340), (550, 240), (800, 260)])
def test_mse_reference_labels_clear_the_legend(qtbot, size):
    """The sine window's "predict the previous value: 0.6219" was drawn over the legend."""
    configure_pyqtgraph()
    m = MsePlot()
    qtbot.addWidget(m)
    m.add_metrics([metric(s, 2.2 * 0.99**s + 0.35) for s in range(1, 650)])
    m.refresh()
    m.set_references(1 / 3, 0.6219)
    m.resize(*size)
    m.show()
    qtbot.waitUntil(lambda: m.plot.vb.height() > 60)
    legend = m.legend.sceneBoundingRect()  # under the plot: it covers neither curves nor labels
    assert not legend.intersects(m.plot.vb.sceneBoundingRect()) and legend.right() <= size[0]
    for line in (m.prev_line, m.floor_line):
        qtbot.waitUntil(lambda line=line: line.label.isVisible())
        assert not line.label.sceneBoundingRect().intersects(legend), line.label.format
