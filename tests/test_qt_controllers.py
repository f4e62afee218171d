"""The main window's controllers, each tested alone: built with the views and the session they are
handed, without a MainWindow (qt.main_window only wires them)."""

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.intervene import Intervention
from rnnviz.core.session import new_spec
from rnnviz.core.trace import trace
from rnnviz.qt.controls import ControlsPanel
from rnnviz.qt.history import History
from rnnviz.qt.notifier import Notifier
from rnnviz.qt.sessions import TrainingSession
from rnnviz.qt.settings import get_bool, put
from rnnviz.qt.status import BudgetProgress, TrainingStatus
from rnnviz.qt.timeline import TimelineController
from rnnviz.qt.training_hosts import ThreadHost
from rnnviz.qt.typed_text import TypedText
from rnnviz.qt.unit_actions import UnitsController
from rnnviz.qt.unsaved import UnsavedGuard
from rnnviz.qt.views.common import configure_pyqtgraph
from rnnviz.qt.views.curves import TrainingCurves
from rnnviz.qt.views.grad_norms import GradNormHistory
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.samples import SamplesView
from rnnviz.qt.views.trajectory import TrajectoryView
from rnnviz.qt.views.typing_panel import TypingPanel
from rnnviz.qt.views.units_view import UnitsView
from rnnviz.qt.views.unrolled import UnrolledPanel
from rnnviz.qt.views.weights import WeightView

B = QMessageBox.StandardButton
S, D, C = B.Save, B.Discard, B.Cancel


def answer(guard: UnsavedGuard, button, never: bool = False) -> None:
    """Press `button` in the guard's question as soon as it shows (ticking "Don't ask again")."""

    def press():
        box = guard.box
        if box is None or not box.isVisible():
            QTimer.singleShot(10, press)
            return
        box.checkBox().setChecked(never)
        box.button(button).click()

    QTimer.singleShot(10, press)


def test_the_guard_asks_only_when_steps_are_unsaved_and_does_what_was_answered(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    steps, saved = [None], []

    def save():  # the first save is made, the second is not (cancelled, or refused)
        saved.append(1)
        return "x.rnnviz" if len(saved) < 2 else None

    guard = UnsavedGuard(parent, lambda: steps[0], save)
    put("ask/unsaved", True)
    assert guard.may_discard("a reset") and guard.box is None  # nothing trained yet: no question
    steps[0] = 30
    guard.mark_saved(30)
    assert guard.unsaved_steps() == 0 and guard.may_discard("a reset") and guard.box is None
    steps[0] = 42
    assert guard.unsaved_steps() == 12
    answer(guard, C)
    assert not guard.may_discard("a reset") and saved == []  # cancelled: kept, nothing saved
    assert "trained 12 steps" in guard.box.text() and "before a reset?" in guard.box.informativeText()
    answer(guard, S)
    assert guard.may_discard("opening a model") and saved == [1]  # saved, then replaced
    answer(guard, S)
    assert not guard.may_discard("opening a model") and saved == [1, 1]  # the save was not made: kept
    answer(guard, D, never=True)
    assert guard.may_discard("quitting") and not get_bool("ask/unsaved", True)
    guard.box = None
    assert guard.may_discard("quitting") and guard.box is None  # never asked again


@pytest.fixture
def alone(qtbot, corpus):
    """A training session on a thread with the typed text, timeline and units controllers, wired
    as MainWindow wires them (the first weights traced at once), and nothing else."""
    configure_pyqtgraph()
    window = QMainWindow()  # the notifier's status bar and dialogs
    qtbot.addWidget(window)
    controls, typing, internals = ControlsPanel(), TypingPanel(), InternalsView()
    unrolled, trajectory, samples, units = UnrolledPanel(), TrajectoryView(), SamplesView(), UnitsView()
    curves, gradnorms, weights = TrainingCurves(), GradNormHistory(), WeightView()
    notify = Notifier(window)
    host = ThreadHost()
    session = None
    updates = lambda: None if session.latest is None else session.latest.updates  # noqa: E731
    guard = UnsavedGuard(window, updates, lambda: None)
    session = TrainingSession(
        host, notify, guard, controls, TrainingStatus(), BudgetProgress(), History(curves, gradnorms)
    )
    text = TypedText(session, typing, internals, unrolled, trajectory, samples)
    timeline = TimelineController(session, guard, text, weights, curves, notify)
    unit_ctl = UnitsController(session, text, timeline, notify, units, trajectory, internals)
    session.adopted.connect(lambda info: (text.probe.clear(), internals.set_model(info.model_cfg)))
    session.adopted.connect(timeline.follow)
    session.adopted.connect(unit_ctl.follow)

    def first(snap, prev):
        timeline.keep(snap)
        if prev is None:
            text.probe.set_weights(snap.model_cfg, snap.vocab, snap.weights)
            text.retrace()

    session.snapshot.connect(first)
    cfg = TrainConfig(seq_len=16, batch=4, seed=0)
    session.start(new_spec(corpus, lambda v: ModelConfig(v, "lstm", layers=1, hidden=12), cfg))
    typing.editor.setPlainText("hello world")
    session.worker.step_once()
    qtbot.waitUntil(lambda: text.last.trace is not None, timeout=20_000)
    yield session, text, timeline, unit_ctl, guard, notify
    unit_ctl.analysis.stop()
    session.close(2.0)


def test_an_intervention_alone_changes_the_trace_as_a_direct_trace_does(alone):
    session, text, _timeline, units, _guard, _notify = alone
    tr = text.last.trace
    np.testing.assert_allclose(tr.probs, trace(text.probe.weights, tr.ids).probs, atol=1e-5)
    units.add_intervention(Intervention(0, "h", 0.0, (3,)))
    assert text.probe.interventions == tuple(units.interventions) and not units.banner.isHidden()
    assert "Intervention active" in units.banner_text.text() and "unit 3" in units.banner_text.text()
    tr2 = text.last.trace
    ref = trace(text.probe.weights, tr2.ids, interventions=(Intervention(0, "h", 0.0, (3,)),))
    assert (tr2.h[0][:, 3] == 0).all() and not np.allclose(tr2.probs, tr.probs)
    np.testing.assert_allclose(tr2.probs, ref.probs, atol=1e-5)
    np.testing.assert_allclose(tr2.grad_h, ref.grad_h, rtol=1e-4, atol=1e-7)
    units.add_intervention(Intervention(7, "h", 0.0, (3,)))  # no such layer: told, not applied
    assert len(units.interventions) == 1 and "not applied" in _notify.last_dialog.text()
    units.clear_interventions()
    np.testing.assert_allclose(text.last.trace.probs, tr.probs, atol=1e-6)


def test_the_timeline_alone_shows_earlier_weights_and_trains_on_from_them_when_allowed(qtbot, alone):
    session, text, timeline, _units, guard, _notify = alone
    first = timeline.timeline.points[0]
    session.worker.step_once(3)
    qtbot.waitUntil(lambda: session.latest.weights_step >= first[0] + 3, timeout=20_000)
    timeline.show_point(first)
    assert timeline.pinned is first and text.probe.weights.head_b.tolist() == first[1]["head.bias"].tolist()
    put("ask/unsaved", True)
    worker = session.worker
    answer(guard, C)
    timeline.train_from(first)
    assert guard.box is not None and session.worker is worker  # asked; cancelled: the session goes on
    answer(guard, D)
    timeline.train_from(first)
    assert session.worker is not worker and session.info.steps == first[0]  # a new session from there
    assert timeline.pinned is None and timeline.timeline.points == []  # the views live again
