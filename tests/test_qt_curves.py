"""Training curves and gradient-norm history, fed synthetic metrics as the trainer would send them."""

import math
import shutil

import numpy as np
import pytest

from rnnviz.core.snapshot import EvalMetrics, StepMetrics
from rnnviz.qt.views.common import configure_pyqtgraph, fmt
from rnnviz.qt.views.curves import TrainingCurves
from rnnviz.qt.views.grad_norms import GradNormHistory
from rnnviz.qt.views.history import HISTORY_CAP, History

LN2 = math.log(2)
PARAMS = (
    "rnn.weight_ih_l0",
    "rnn.weight_hh_l0",
    "rnn.bias_ih_l0",
    "rnn.bias_hh_l0",
    "head.weight",
    "head.bias",
)
SKIPPED_LOSS, SKIPPED_GRAD, CLIPPED = 10, 20, (5, 6)
# A two-layer GRU with an embedding, as the screenshot shows it (scales: typical early norms).
NAMES = (
    "embedding.weight",
    *(f"rnn.{w}_{k}_l{layer}" for layer in (0, 1) for w in ("weight", "bias") for k in ("ih", "hh")),
    "head.weight",
    "head.bias",
)
SCALES = (0.3, 1.2, 0.9, 0.2, 0.2, 0.8, 0.7, 0.1, 0.1, 1.0, 0.15)


@pytest.fixture(autouse=True)
def _pyqtgraph_config(qapp):
    configure_pyqtgraph()


def step(i: int, loss: float, norms: dict[str, float] | None = None, **kw) -> StepMetrics:
    norms = norms or {p: 0.1 / (1 + k) for k, p in enumerate(PARAMS)}
    total = kw.pop("total_norm", math.sqrt(sum(v * v for v in norms.values())))
    fields = dict(
        step=i,
        loss=loss,
        accuracy=min(1.0, 0.05 + 0.4 * (1 - math.exp(-i / 80))),
        bits_per_token=loss / LN2,
        tokens_per_s=5000.0,
        grad_norms=norms,
        total_norm=total,
        clipped=False,
        skipped=False,
        lr=3e-3,
        seconds=0.01,
    )
    fields.update(kw)
    return StepMetrics(**fields)


def run(n: int) -> list[StepMetrics]:
    """Steps 1..n of a decreasing loss, two of them skipped and two clipped."""
    out = []
    for i in range(1, n + 1):
        if i == SKIPPED_LOSS:
            out.append(step(i, math.nan, total_norm=math.nan, skipped=True))
        elif i == SKIPPED_GRAD:
            out.append(step(i, 2.5, total_norm=math.inf, skipped=True))
        else:
            out.append(step(i, 4.0 - i / 50, clipped=i in CLIPPED, total_norm=1.5 if i in CLIPPED else 0.3))
    return out


def evaluation(i: int, loss: float, accuracy: float = 0.3) -> EvalMetrics:
    return EvalMetrics(step=i, loss=loss, accuracy=accuracy, bits_per_token=loss / LN2, tokens=4096)


def realistic(n: int, seed: int = 0) -> list[StepMetrics]:
    """A noisy decreasing character-level loss with norms that fall, a few clips and skips."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(1, n + 1):
        loss = 1.4 + 2.7 * math.exp(-i / 90) + 0.12 * rng.standard_normal()
        norms = {
            p: float(s * math.exp(-i / 200) * rng.lognormal(0, 0.3))
            for p, s in zip(NAMES, SCALES, strict=True)
        }
        norms["rnn.bias_ih_l1"] = 0.0 if i < 40 else norms["rnn.bias_ih_l1"]  # not yet reached by gradient
        total = math.sqrt(sum(v * v for v in norms.values()))
        if i in (140, 310):
            out.append(step(i, math.inf, norms={**norms, "rnn.weight_hh_l0": math.inf}, skipped=True))
            continue
        accuracy = 0.55 - 0.5 * math.exp(-i / 90) + 0.03 * rng.standard_normal()
        out.append(step(i, loss, norms=norms, total_norm=total, clipped=total > 1.0, accuracy=accuracy))
    return out


def curve_data(item) -> tuple[np.ndarray, np.ndarray]:
    x, y = item.getOriginalDataset()
    return (np.array([]), np.array([])) if x is None else (x, y)


def test_history_doubles_then_halves_the_older_half():
    h = History(cap=8, initial=2)
    for i in range(1, 5):
        h.extend([i], [10 * i])
    assert list(h.x) == [1, 2, 3, 4] and h._xy.shape[1] == 4  # grew by doubling
    h.extend(np.arange(5, 10), 10 * np.arange(5, 10))
    assert list(h.x) == [2, 4, 5, 6, 7, 8, 9]  # pairs keep their later step...
    assert list(h.y) == [15, 35, 50, 60, 70, 80, 90]  # ...and their mean value
    h.extend(np.arange(10, 1001), 10 * np.arange(10, 1001))
    assert len(h) <= 8 and h._xy.shape[1] == 8
    assert h.x[-1] == 1000 and h.y[-1] == 10_000
    assert np.all(np.diff(h.x) > 0)
    assert h.nearest(999.4) == len(h) - 2 and h.nearest(1e9) == len(h) - 1 and h.nearest(-5) == 0


def test_loss_curve_is_the_finite_steps_and_events_are_marks(qtbot):
    w = TrainingCurves()
    qtbot.addWidget(w)
    metrics = run(50)
    w.add_metrics(metrics[:25])
    w.add_metrics(metrics[25:])
    w.refresh()
    kept = [m for m in metrics if not m.skipped]
    for name, (train, _, _) in w._curves.items():
        x, y = curve_data(train)
        assert list(x) == [m.step for m in kept]
        assert np.allclose(y, [getattr(m, name) for m in kept])
        assert np.isfinite(y).all()
    assert list(w._skipped_marks.getData()[0]) == [SKIPPED_LOSS, SKIPPED_GRAD]
    assert list(w._clipped_marks.getData()[0]) == list(CLIPPED)
    assert "2 skipped, 2 clipped" in w.readout.text()


def test_held_out_points_are_plotted(qtbot):
    w = TrainingCurves()
    qtbot.addWidget(w)
    w.add_metrics(run(50))
    w.add_evaluation(evaluation(25, 3.6))
    w.add_evaluation(evaluation(50, math.nan))  # a failed evaluation is left out
    w.refresh()
    _, _, held_out = w._curves["loss"]
    x, y = curve_data(held_out)
    assert list(x) == [25] and list(y) == [3.6]
    assert held_out.opts["symbol"] == "o"


def test_buffers_stay_bounded_over_a_long_run(qtbot):
    w, g = TrainingCurves(), GradNormHistory()
    qtbot.addWidget(w)
    qtbot.addWidget(g)
    norms = {"rnn.weight_hh_l0": 0.5}
    for start in range(1, 100_001, 1000):
        chunk = [step(i, 2.0 + 1 / i, norms=norms, clipped=True) for i in range(start, start + 1000)]
        w.add_metrics(chunk)
        g.add_metrics(chunk)
    w.refresh()
    g.refresh()
    for h in (w._train["loss"], w._ema["loss"], *(h for h, _ in g._lines.values())):
        assert len(h) <= HISTORY_CAP and h._xy.shape[1] <= HISTORY_CAP
        assert h.x[-1] == 100_000
    assert w._train["loss"].y[-1] == 2.0 + 1 / 100_000
    x, _ = curve_data(w._curves["loss"][0])
    assert len(x) <= HISTORY_CAP and x[-1] == 100_000
    assert len(w._clipped_marks.getData()[0]) == 2000


def test_grad_norms_one_line_per_parameter_on_log_axis(qtbot):
    g = GradNormHistory()
    qtbot.addWidget(g)
    metrics = run(30)
    metrics[2] = step(3, 3.9, norms={**metrics[2].grad_norms, "head.bias": 0.0})
    g.add_metrics(metrics)
    g.refresh()
    assert list(g._lines) == ["total", *PARAMS]
    assert g._plot.ctrl.logYCheck.isChecked()
    for name, (_, line) in g._lines.items():
        x, y = curve_data(line)
        assert np.isfinite(y).all() and (y > 0).all(), name
    assert SKIPPED_LOSS not in curve_data(g._lines["total"][1])[0]
    assert SKIPPED_GRAD not in curve_data(g._lines["total"][1])[0]
    assert 3 not in curve_data(g._lines["head.bias"][1])[0]
    assert 3 in curve_data(g._lines["head.weight"][1])[0]


def test_clip_line_sits_at_the_threshold(qtbot):
    g = GradNormHistory()
    qtbot.addWidget(g)
    assert not g._clip_line.isVisible()
    g.set_clip(0.5)
    assert g._clip_line.value() == pytest.approx(math.log10(0.5))
    g.set_clip(None)
    assert not g._clip_line.isVisible()


def test_hover_reads_exact_values_and_events(qtbot):
    w = TrainingCurves()
    qtbot.addWidget(w)
    metrics = run(50)
    w.add_metrics(metrics)
    w.add_evaluation(evaluation(30, 3.55))
    w.refresh()
    w._on_hover(23.3, 0.0)
    assert w.readout.text().startswith(f"step 23  loss {fmt(metrics[22].loss)}")
    assert "(held-out 3.55 at step 30)" in w.readout.text()
    w._on_hover(44, 0.5, metric="accuracy")
    assert f"step 44  accuracy {fmt(metrics[43].accuracy)}" in w.readout.text()
    w._on_hover(SKIPPED_LOSS, 0.0)
    assert f"step {SKIPPED_LOSS}: non-finite loss, step skipped" in w.readout.text()
    w._on_hover(SKIPPED_GRAD, 0.0)
    assert f"step {SKIPPED_GRAD}: non-finite gradient, step skipped" in w.readout.text()
    w._on_hover(CLIPPED[0], 0.0)
    assert f"step {CLIPPED[0]}: gradient clipped (norm 1.5 before clipping)" in w.readout.text()
    w._on_leave("loss")
    w._on_leave("accuracy")
    assert w.readout.text().startswith("latest: step 50")


def test_grad_hover_lists_every_parameter(qtbot):
    g = GradNormHistory()
    qtbot.addWidget(g)
    metrics = run(30)
    g.add_metrics(metrics)
    g.refresh()
    g._on_hover(SKIPPED_GRAD - 0.2, 0.0)  # no total there: the nearest step with one is shown
    text = g.readout.text()
    assert text.startswith(f"step {SKIPPED_GRAD - 1}  total\u00a0{fmt(metrics[SKIPPED_GRAD - 2].total_norm)}")
    for p in PARAMS:
        assert f"{p}\u00a0{fmt(metrics[SKIPPED_GRAD - 2].grad_norms[p])}" in text


def test_smoothing_shows_a_moving_average(qtbot):
    w = TrainingCurves()
    qtbot.addWidget(w)
    w.add_metrics([step(i, 1.0 if i % 2 else 3.0) for i in range(1, 201)])
    w.smooth.setChecked(True)
    _, ema, _ = w._curves["loss"]
    assert ema.isVisible()
    _, y = curve_data(ema)
    assert len(y) == 200 and abs(y[-1] - 2.0) < 0.2


def test_a_curve_is_set_again_only_when_its_points_changed(qtbot, monkeypatch):
    """A refresh sets only what changed (the held-out curves, with their symbols, change once in
    eval_every steps); what it shows is always the history's points."""
    w = TrainingCurves()
    qtbot.addWidget(w)
    w.add_metrics(run(30))
    w.add_evaluation(evaluation(30, 3.6))
    w.refresh()
    train, _, held_out = w._curves["loss"]
    calls = []
    for item in (train, held_out, w._skipped_marks):
        monkeypatch.setattr(
            item, "setData", lambda *a, item=item, f=item.setData, **k: (calls.append(item), f(*a, **k))[1]
        )
    w.add_metrics([step(31, 3.0)])
    w.refresh()
    assert calls == [train]  # a train step: the held-out points and the marks are as they were
    assert list(curve_data(held_out)[0]) == [30] and curve_data(train)[0][-1] == 31
    w.add_evaluation(evaluation(31, 3.1))
    w.add_metrics([step(32, 2.9, skipped=True)])
    w.refresh()
    assert calls[1:] == [held_out, w._skipped_marks]  # (a skipped step is no train point)
    assert list(curve_data(held_out)[1]) == [3.6, 3.1] and SKIPPED_LOSS in w._skipped_marks.getData()[0]
    assert 32 in w._skipped_marks.getData()[0]


def test_clear_empties_everything(qtbot):
    w, g = TrainingCurves(), GradNormHistory()
    qtbot.addWidget(w)
    qtbot.addWidget(g)
    for view in (w, g):
        view.add_metrics(run(40))
    w.add_evaluation(evaluation(40, 3.2))
    w.clear()
    g.clear()
    for curves in w._curves.values():
        assert all(len(curve_data(c)[0]) == 0 for c in curves)
    assert len(w._skipped_marks.getData()[0]) == 0 and len(w._clipped_marks.getData()[0]) == 0
    assert g._lines == {} and g._plot.listDataItems() == []
    g.add_metrics([step(1, 2.0, norms={"embedding.weight": 0.2})])
    assert list(g._lines) == ["total", "embedding.weight"]


@pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform cannot
def test_screenshots(qtbot, tmp_path):
    w, g = TrainingCurves(), GradNormHistory()
    metrics = realistic(400)
    for view in (w, g):
        qtbot.addWidget(view)
        view.resize(900, 600)
        view.add_metrics(metrics)
    for i in range(50, 401, 50):
        w.add_evaluation(evaluation(i, 1.5 + 2.7 * math.exp(-i / 90), 0.53 - 0.5 * math.exp(-i / 90)))
    g.set_clip(1.0)
    for view, name in ((w, "curves"), (g, "gradnorms")):
        view.refresh()
        view.show()
        qtbot.waitExposed(view)
        path = tmp_path / f"{name}.png"
        assert view.grab().save(str(path))
        shutil.copy(path, f"/tmp/rnnviz_{name}.png")


def test_the_loss_legend_sits_under_the_plot_not_over_its_curves(qtbot):
    """The legend covered the held-out curve: it is laid out under the loss plot, whole."""
    w = TrainingCurves()
    qtbot.addWidget(w)
    w.add_metrics(run(50))
    w.add_evaluation(evaluation(25, 3.6))
    w.refresh()
    w.resize(380, 760)  # the right-hand tabs at 1366x768
    w.show()
    plot = w._plots["loss"]
    qtbot.waitUntil(lambda: plot.vb.height() > 50)
    legend = plot.legend.sceneBoundingRect()
    assert legend.top() >= plot.vb.sceneBoundingRect().bottom() - 1
    assert legend.right() <= w.width()
    names = [label.text for _, label in plot.legend.items]
    assert names[:2] == ["train", "held-out"] and {"grad clipped", "skipped (non-finite)"} <= set(names)


def test_the_best_held_out_step_is_marked_and_a_rise_is_said(qtbot):
    w = TrainingCurves()
    qtbot.addWidget(w)
    w.show()
    seen = []
    w.best_changed.connect(seen.append)
    w.add_metrics(run(400))
    for i, loss in ((100, 2.0), (200, 1.7), (300, 1.72)):
        w.add_evaluation(evaluation(i, loss))
    w.refresh()
    x, y = curve_data(w._best_mark)
    assert list(x) == [200] and list(y) == [1.7] and seen == [200]
    assert w.overfit.isHidden()  # one evaluation above the best is noise, not a trend
    for i, loss in ((400, 1.75), (500, 1.9)):
        w.add_evaluation(evaluation(i, loss))
    w.refresh()
    assert not w.overfit.isHidden()
    assert (
        "held-out loss rising since step 200: the model is memorising the training text" in w.overfit.text()
    )
    w.add_evaluation(evaluation(600, 1.6))  # a new best: no longer rising
    w.refresh()
    assert w.overfit.isHidden() and seen == [200, 600] and list(curve_data(w._best_mark)[0]) == [600]
    w.clear()
    assert seen[-1] is None and len(curve_data(w._best_mark)[0]) == 0
