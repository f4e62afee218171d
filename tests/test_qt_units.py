"""Inside the units, in the running window: the neuron finder on the bracket task, the state
trajectory, interventions with their banner, the input attribution under the typed text and the
training timeline, each against a direct computation."""

import html

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from test_cli import run

from rnnviz.core.generate import sample
from rnnviz.core.intervene import Intervention
from rnnviz.core.trace import TraceWeights, trace
from rnnviz.core.units import token_feature
from rnnviz.qt.main_window import MainWindow
from rnnviz.qt.views.common import configure_pyqtgraph


@pytest.fixture(scope="module")
def brackets_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("units") / "brackets.safetensors"
    run("train", "--corpus", "builtin:brackets", "--hidden", 32, "--steps", 500, "--lr", 3e-3, "--out", out)
    return out


def open_window(qtbot, model=None):
    configure_pyqtgraph()
    w = MainWindow(model=str(model) if model else None)
    qtbot.addWidget(w)
    w.resize(1400, 880)
    w.show()
    qtbot.waitUntil(lambda: w.latest is not None and w.text.last.trace is not None, timeout=20_000)
    return w


def test_the_finder_ranks_the_depth_unit_first_on_brackets(qtbot, brackets_model):
    w = open_window(qtbot, brackets_model)
    w.tabs.setCurrentWidget(w.units)
    qtbot.waitUntil(lambda: w.units.analysis is not None, timeout=60_000)
    st = w.units.analysis.states
    assert st.h.shape == (1, 20_000, 32) and st.c is not None
    w.units.feature.setCurrentText("depth")
    rank(qtbot, w)
    rows = w.units.table.rowCount()
    layer, unit, state, r = (w.units.table.item(0, c).text() for c in range(4))
    assert rows == 40 and abs(float(r)) > 0.8
    depth, _ = token_feature(st, "depth")
    a = st.of(state)[int(layer) - 1, :, int(unit)]
    assert float(r) == pytest.approx(np.corrcoef(a, depth)[0, 1], abs=1e-3)  # the table shows 3 decimals
    assert w.units.chosen() == (int(layer) - 1, int(unit), state)  # the top unit is shown
    assert w.units.text.toHtml().count("background-color") > 500  # the corpus, coloured by the unit
    assert w.units.contexts.text().count("<b><u>") == 10  # five at each end
    above = "above" if float(r) >= 0 else "below"
    assert (
        f"furthest {above} its mean" in w.units.contexts.text()
        and f"(r = {float(r):+.3f})" in w.units.contexts.text()
    )
    # a regular expression as the feature; a bad one is a message, not a crash
    w.units.feature.setCurrentText(r"\(\w")
    rank(qtbot, w)
    assert "regex feature" in w.units.status.text()
    w.units.feature.setCurrentText("(")
    rank(qtbot, w)
    assert "neither a built-in feature" in w.units.status.text()
    # a catastrophic regular expression is stopped at its time limit; the window answers meanwhile
    w.units.feature.setCurrentText(r"(?:.|.)*$")  # 2**(line length) ways to fail before each newline
    w.units.rank()
    assert w.units.ranking() and "ranking the units" in w.units.status.text()  # rank() has returned
    w.typing.editor.setPlainText("typed while it ranks")
    assert "".join(w.text.last.trace.tokens) == "typed while it ranks"  # the GUI thread is free
    qtbot.waitUntil(lambda: not w.units.ranking(), timeout=30_000)
    assert "was stopped" in w.units.status.text() and "\n" not in w.units.status.text()
    # a click on a cell of the h heatmap shows that unit in the finder
    w.internals.h_maps[0].cell_clicked.emit(3, 17)
    assert w.units.chosen() == (0, 17, "h")
    w.close()


def rank(qtbot, w) -> None:
    w.units.rank()
    qtbot.waitUntil(lambda: not w.units.ranking(), timeout=30_000)


def test_the_trajectory_projects_the_typed_text_on_the_corpus_map(qtbot, brackets_model):
    w = open_window(qtbot, brackets_model)
    w.tabs.setCurrentWidget(w.trajectory)
    qtbot.waitUntil(lambda: w.trajectory.analysis is not None, timeout=60_000)
    for text in ("(a(b", "(a(b(c)"):
        w.typing.editor.setPlainText(text)
        tr = w.text.last.trace
        path = w.trajectory.path
        assert path.shape == (len(text), 2)  # the path grows as the text does
        pca = w.trajectory.analysis.pca[0]
        np.testing.assert_allclose(path, (tr.h[0] - pca.mean) @ pca.axes.T, atol=1e-9)
    assert "of the variance" in w.trajectory.caption.text() and "step 500)" in w.trajectory.caption.text()
    w.session.latest = None  # as at launch with this tab remembered, before any snapshot: step 500, not 0
    w.trajectory.set_analysis(None)
    w.unit_actions.read_corpus()
    qtbot.waitUntil(lambda: w.trajectory.analysis is not None, timeout=60_000)
    assert "(grey; step 500)" in w.trajectory.caption.text()
    w.close()


def test_an_intervention_changes_everything_typed_until_cleared(qtbot):
    w = open_window(qtbot)
    before = w.text.last.trace
    w.units.show_unit(0, 5, "h")
    w.units.h_value.setValue(0.0)
    qtbot.mouseClick(next(b for b in w.units.findChildren(QPushButton) if b.text() == "Intervene"),
                     Qt.MouseButton.LeftButton)  # fmt: skip
    assert (
        w.unit_actions.banner.isVisible() and "layer 1, unit 5: h zeroed" in w.unit_actions.banner_text.text()
    )
    tr = w.text.last.trace
    assert (tr.h[0, :, 5] == 0).all() and not np.allclose(tr.probs, before.probs)
    ref = trace(w.text.probe.weights, tr.ids, interventions=(Intervention(0, "h", 0.0, (5,)),))
    np.testing.assert_allclose(tr.grad_h, ref.grad_h)
    # the continuation is drawn from the changed network too
    iv5 = (Intervention(0, "h", 0.0, (5,)),)
    t = w.typing
    more = sample(w.text.probe.weights, tr.ids, t.cont_len.value(), t.temperature.value(), seed=0,
                  state=ref.final_state(), interventions=iv5)  # fmt: skip
    joined = "".join(w.latest.vocab.tokens[i] for i in more)
    assert html.escape(joined) in w.typing.continuation.text()
    w.units.intervention_requested.emit(Intervention(0, "f", 1.0))  # and the forget gate held open
    assert (
        "f forced to 1" in w.unit_actions.banner_text.text() and (w.text.last.trace.gates["f"][0] == 1).all()
    )
    # the samples come from the changed network
    snap = w.latest
    start = snap.vocab.ids(["\n"])
    ivs = tuple(w.unit_actions.interventions)
    expected = sample(w.text.probe.weights, start, w.samples.length.value(), w.samples.temperature.value(),
                      seed=snap.updates, interventions=ivs)  # fmt: skip
    text = "".join(snap.vocab.tokens[i] for i in expected)
    assert w.samples.text.toPlainText() == text
    w.units.intervention_requested.emit(Intervention(0, "f", 0.5))  # a contradiction: refused, said
    assert w.notify.last_dialog is not None and "already set to 1" in w.notify.last_dialog.text()
    qtbot.mouseClick(w.unit_actions.banner.findChild(QPushButton), Qt.MouseButton.LeftButton)  # Clear
    assert not w.unit_actions.banner.isVisible() and w.unit_actions.interventions == []
    np.testing.assert_allclose(w.text.last.trace.probs, before.probs, atol=1e-6)
    w.close()


def test_the_attribution_is_drawn_under_the_typed_text(qtbot):
    w = open_window(qtbot)
    w.typing.editor.setPlainText("The keeper counted the ships")
    tr = w.text.last.trace
    label = w.typing.attribution.text()
    ref = trace(w.text.probe.weights, tr.ids)
    np.testing.assert_allclose(tr.attribution, ref.attribution, rtol=1e-3)
    best = int(np.argmax(ref.attribution))
    assert f"Most: step {best}" in w.typing.attribution.toolTip()
    assert label.count("<span style='background-color") == len(tr.tokens)  # every token shaded
    w.close()


def test_the_timeline_moves_the_views_to_an_earlier_step_and_trains_on_from_it(qtbot):
    w = open_window(qtbot)
    w.timeline.bar.every.setValue(10)
    w.worker.step_once(35)
    qtbot.waitUntil(lambda: w.latest.weights_step >= 835, timeout=60_000)
    steps = [s for s, _ in w.timeline.timeline.points]
    assert steps[0] == 800 and len(steps) >= 3 and w.timeline.bar.live
    w.timeline.bar.slider.setValue(0)  # back to step 800
    bar = w.timeline.bar
    assert not bar.live and bar.label.text() == "step 800" and "latest kept" in bar.label.toolTip()
    old = w.timeline.timeline.points[0][1]
    tr = w.text.last.trace
    direct = trace(TraceWeights.from_state(w.latest.model_cfg, old), tr.ids)
    np.testing.assert_allclose(tr.h, direct.h, atol=2e-5)
    assert w.curves._marks[0].isVisible() and w.curves._marks[0].value() == 800
    assert not w.timeline.bar.best_button.isEnabled()
    w.curves.best_changed.emit(steps[1] + 1)  # as the curves say when a held-out evaluation is the best
    w.timeline.bar.best_button.click()  # the nearest kept weights
    assert w.timeline.bar.label.text() == f"step {steps[1]}" and w.curves._marks[0].value() == steps[1]
    w.timeline.bar.slider.setValue(0)
    w.worker.step_once(12)  # training goes on; the views stay at step 800
    qtbot.waitUntil(lambda: w.latest.weights_step >= 847, timeout=60_000)
    w._new_weights, w._last_retrace = True, 0.0
    w._on_frame()
    np.testing.assert_allclose(w.text.last.trace.h, direct.h, atol=2e-5)
    w.timeline.bar.train_button.click()  # train on from step 800
    qtbot.waitUntil(lambda: w.latest is not None and w.latest.updates == 800, timeout=30_000)
    for k, v in old.items():
        np.testing.assert_array_equal(w.latest.weights[k], v)
    assert w.timeline.bar.live and not w.curves._marks[0].isVisible()
    w.close()
