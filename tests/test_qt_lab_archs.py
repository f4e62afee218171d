"""The gradient lab with any three of the six architectures: the picker, the window with minGRU,
minLSTM and S6 (what it draws, what it says is not applicable, its layout at two screen sizes), and
the recall preset (LSTM and S6 on builtin:recall, scored on the answers)."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, QRectF
from test_qt_layout import clipped_labels

from rnnviz.core.config import ARCHS
from rnnviz.core.presets import PRESETS
from rnnviz.core.recall import PAIRS
from rnnviz.qt.lab_archs import ArchPicker
from rnnviz.qt.lab_window import LabWindow
from rnnviz.qt.views.common import configure_pyqtgraph

NEW = ("mingru", "minlstm", "ssm")


def test_the_picker_holds_one_to_three(qtbot):
    picker = ArchPicker(("lstm", "ssm"))
    qtbot.addWidget(picker)
    refused = []
    picker.refused.connect(refused.append)
    picker.boxes["gru"].click()
    assert picker.archs() == ("lstm", "gru", "ssm")
    picker.boxes["rnn"].click()  # a 4th: undone, and why said
    assert picker.archs() == ("lstm", "gru", "ssm") and "at most 3" in refused[-1]
    for a in ("lstm", "gru"):
        picker.boxes[a].click()
    picker.boxes["ssm"].click()  # the last one stays
    assert picker.archs() == ("ssm",) and refused[-1] == "at least one model"
    assert set(picker.boxes) == set(ARCHS)


def npoints(item) -> int:
    return 0 if item.yData is None else len(item.yData)


def legend_labels(plot) -> list[str]:
    return [label.text for _, label in plot.legend.items]


def scene_rect(item) -> QRectF:
    return item.mapRectToScene(item.boundingRect())


def layout_problems(w) -> list[str]:
    """What a person would see wrong: clipped labels, titles wider than their plot, a legend out of
    its plot, plots overlapping each other or the table, a window wider than the screen."""
    bad = [f"clipped {t}" for t in clipped_labels(w)]
    for key, plot in w.plots.items():
        title, view = plot.titleLabel.text, plot.getViewWidget()
        room = view.width() - plot.getAxis("left").width()  # the title sits over the plot, right of its axis
        if plot.titleLabel.item.boundingRect().width() > room or plot.width() > view.width():
            bad.append(f"title of {key}: {title}")  # (a plot grows to hold its title, past its view)
        legend = plot.legend
        if legend is not None and legend.isVisible() and legend.items:
            if not scene_rect(plot.vb).contains(scene_rect(legend)):
                bad.append(f"legend of {key} outside its plot")
    widgets = [plot.getViewWidget() for plot in w.plots.values()] + [w.table]
    rects = [QRect(x.mapTo(w, QPoint(0, 0)), x.size()) for x in widgets]
    for i, a in enumerate(rects):
        bad += [f"{i} overlaps {j}" for j, b in enumerate(rects) if j > i and a.intersects(b)]
    if w.key.heightForWidth(w.key.width()) > 1.5 * w.key.fontMetrics().lineSpacing():
        bad.append("the key takes more than a line")
    if w.minimumSizeHint().width() > w.width():
        bad.append(f"wider than the window: {w.minimumSizeHint().width()}")
    return bad


@pytest.fixture
def new_lab(qtbot, qapp):
    configure_pyqtgraph()
    w = LabWindow(corpus="builtin:fable", hidden=6, archs=NEW)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.figs), timeout=60_000)
    yield w
    process = w.host.process.process
    w.shut_down()
    assert process.poll() is not None


def test_three_new_architectures_train_and_say_what_does_not_apply(qtbot, new_lab):
    w = new_lab
    assert w.windowTitle() == "rnnviz \u2014 gradient lab: minGRU vs minLSTM vs S6"
    w._tell("step")
    qtbot.waitUntil(lambda: all(f.step == 1 for f in w.figs.values()) and len(w.figs) == 3, timeout=30_000)
    qtbot.waitUntil(lambda: not w._figs_dirty, timeout=2000)
    assert legend_labels(w.plots["loss"]) == ["minGRU", "minLSTM", "S6", "gradient clipped"]
    assert legend_labels(w.plots["sat"]) == ["minGRU gate z", "minLSTM gate f", "minLSTM gate i"]
    key = w.key.text()
    assert "LSTM cell path" not in key and "S6: \u2016dL/ds\u209c\u2016" in key
    assert "S6: of s" in w.plots["grad"].titleLabel.text and "no W_hh" in w.plots["sigma"].titleLabel.text
    for a in NEW:
        f = w.figs[a]
        assert f.scale is None and f.cell_sigma is None
        np.testing.assert_array_equal(w.grad_curves[a].yData, f.grad_by_distance[f.grad_by_distance > 0])
        np.testing.assert_allclose(w.sigma_curves[a].yData, f.sigma_by_step)
        assert np.all(f.sigma_by_step < 1)  # a diagonal map of decays
    for a in ("rnn", "lstm", "gru"):  # not training: nothing drawn
        assert npoints(w.grad_curves[a]) == npoints(w.sigma_curves[a]) == npoints(w.loss_curves[a]) == 0
    assert npoints(w.cell_curve) == 0
    rows = w.table.text().split("<tr>")[2:]
    assert len(rows) == 3 and all(">n/a<" in r for r in rows) and "not applicable: no W_hh" in w.table.text()
    assert not w.scale.isEnabled() and not any(b.isEnabled() for b in w.scale_buttons)
    assert w.scale_label.text() == "not applicable: no W_hh"
    for size in ((1366, 768), (1920, 1080)):
        w.resize(*size)
        qtbot.wait(150)
        assert layout_problems(w) == [], size


def test_the_recall_preset_trains_lstm_and_s6_on_the_answers(qtbot, new_lab):
    w = new_lab
    w._preset_controls(PRESETS["recall"])
    w.hidden.setValue(6)  # small: the preset's own size trains in the CLI test of its figures
    w.layers.setValue(1)
    w.reset()
    assert w.archs == ("lstm", "ssm") and w.windowTitle().endswith("LSTM vs S6")
    spec = w.worker.info
    assert spec.cfg.samples == "lines" and spec.corpus.name == "builtin:recall"
    qtbot.waitUntil(lambda: set(w.figs) == {"lstm", "ssm"}, timeout=60_000)
    qtbot.waitUntil(lambda: not w._figs_dirty, timeout=2000)
    text = w.table.text()
    assert "answers" in text and "held-out lines" in text and "Decay \u2013" in text
    assert w.plots["decay"].titleLabel.text.startswith("Answers right on held-out lines")
    for a in ("lstm", "ssm"):  # top left: the answers right over training, not the decay
        assert list(w.decay_curves[a].yData) == list(w.answers[a].y) == [w.figs[a].answer_accuracy]
    for a in ("lstm", "ssm"):
        acc = w.figs[a].answer_accuracy
        assert 0 <= acc <= 1 and f">{acc:.1%}<" in text
        assert w.figs[a].window == 3 * PAIRS + 3  # "a4 k7 ... ? k" (each line but its answer)
    assert "LSTM cell path" in w.key.text() and w.scale.isEnabled()  # the LSTM has W_hh
    assert w.scale_buttons[0].toolTip() == "not applicable: no W_hh in S6"
    for size in ((1366, 768), (1920, 1080)):
        w.resize(*size)
        qtbot.wait(150)
        assert layout_problems(w) == [], size


@pytest.mark.parametrize("archs", [("rnn", "lstm", "gru"), ("lstm", "minlstm", "ssm")])
def test_the_classic_three_and_the_longest_key_fit_both_screens_too(qtbot, new_lab, archs):
    w = new_lab
    w.picker.set_archs(archs)
    w.reset()
    qtbot.waitUntil(lambda: set(w.figs) == set(archs), timeout=60_000)
    qtbot.waitUntil(lambda: not w._figs_dirty, timeout=2000)
    assert w.scale.isEnabled() and "LSTM cell path" in w.key.text()
    assert ("n/a" in w.table.text()) == ("ssm" in archs)
    assert w.plots["decay"].titleLabel.text.startswith("Decay per 10 steps")
    for size in ((1366, 768), (1920, 1080)):
        w.resize(*size)
        qtbot.wait(150)
        assert layout_problems(w) == [], size


@pytest.mark.qt_log_ignore("This plugin does not support raise")  # offscreen: raise_() is a no-op
def test_the_presets_menu_opens_the_lab_on_recall(qtbot, qapp):
    from rnnviz.qt.main_window import MainWindow

    configure_pyqtgraph()
    main = MainWindow()
    qtbot.addWidget(main)
    main.show()
    menu = next(a.menu() for a in main.menuBar().actions() if a.text() == "&Presets")
    action = next(a for a in menu.actions() if a.text() == PRESETS["recall"].title)
    action.trigger()
    lab = main.lab_window
    assert isinstance(lab, LabWindow) and lab.isVisible() and lab.archs == ("lstm", "ssm")
    assert lab.corpus.currentData() == "builtin:recall" and lab.worker.info.cfg.samples == "lines"
    assert (lab.hidden.value(), lab.layers.value()) == (64, 2)
    process = lab.host.process.process
    main.close()
    assert process.poll() is not None and not lab.isVisible()
