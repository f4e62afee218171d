"""The window as a tool: keys, menus, help, export, sessions, remembered layout, progress."""

import json
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QContextMenuEvent, QImage
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox
from qt_helpers import open_main_window

from rnnviz.qt.help import EXPLANATIONS, SHORTCUTS, Tour
from rnnviz.qt.settings import get_bool, put, recent_files


@pytest.fixture
def window(qtbot, qapp):
    w = open_main_window(qtbot)
    yield w
    w.close()


def _actions(w):
    return {a.shortcut().toString(): a for a in w.findChildren(QAction) if not a.shortcut().isEmpty()}


def test_every_listed_shortcut_has_its_action(window):
    keys = _actions(window)
    window_keys = {"Space", "Left / Right", "Home / End"}  # handled by the window, not by actions
    for listed, _ in SHORTCUTS:
        assert listed in window_keys or listed in keys, listed


def test_space_plays_outside_text_boxes_and_types_inside(qtbot, window):
    was = window.controls.play.isChecked()
    qtbot.keyClick(window.internals, Qt.Key.Key_Space)
    assert window.controls.play.isChecked() is not was
    qtbot.keyClick(window.internals, Qt.Key.Key_Space)
    assert window.controls.play.isChecked() is was
    editor = window.typing.editor
    before = editor.toPlainText()
    qtbot.keyClick(editor, Qt.Key.Key_Space)
    assert editor.toPlainText() == before + " " and window.controls.play.isChecked() is was


def test_widgets_that_need_the_keys_keep_them(qtbot, window):
    play = window.controls.play.isChecked()
    smooth = window.curves.smooth
    qtbot.keyClick(smooth, Qt.Key.Key_Space)  # a check box: Space ticks it
    assert smooth.isChecked() and window.controls.play.isChecked() is play
    bar = window.tabs.tabBar()
    qtbot.keyClick(bar, Qt.Key.Key_Right)  # a tab bar: the next tab
    assert window.tabs.currentIndex() == 1 and window.text.selected is None
    window.inside.setCurrentWidget(window.unrolled)  # the step-through shown: Space plays it
    qtbot.keyClick(window.tabs, Qt.Key.Key_Space)
    assert window.unrolled.play.isChecked() and window.controls.play.isChecked() is play
    qtbot.keyClick(window.tabs, Qt.Key.Key_Space)
    assert not window.unrolled.play.isChecked()


def test_arrows_move_the_selected_step(qtbot, window):
    steps = window.text.last.trace.steps
    target = window.internals
    qtbot.keyClick(target, Qt.Key.Key_Left)
    assert window.text.selected == steps - 2
    qtbot.keyClick(target, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert window.text.selected == max(steps - 12, 0)
    qtbot.keyClick(target, Qt.Key.Key_Home)
    assert window.text.selected == 0
    qtbot.keyClick(target, Qt.Key.Key_Right)
    assert window.text.selected == 1
    qtbot.keyClick(target, Qt.Key.Key_End)
    assert window.text.selected == steps - 1
    assert window.internals.selected == steps - 1  # the views follow


def test_menu_shortcuts_trigger_their_actions(qtbot, window, monkeypatch):
    opened = []
    monkeypatch.setattr("rnnviz.qt.help.guide_dialog", lambda parent: opened.append("guide"))
    keys = _actions(window)
    keys["F1"].trigger()
    assert opened == ["guide"]
    worker = window.worker
    keys["Ctrl+R"].trigger()
    assert window.worker is not worker  # a fresh model


def test_question_marks_explain_the_view_shown(qtbot, window):
    window.tabs.setCurrentIndex(1)
    qtbot.mouseClick(window.tabs.cornerWidget(), Qt.MouseButton.LeftButton)
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and EXPLANATIONS["gradnorms"][0] in boxes[-1].text()
    boxes[-1].close()
    window.inside.setCurrentIndex(1)
    qtbot.mouseClick(window.inside.cornerWidget(), Qt.MouseButton.LeftButton)
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert "h<sub>t</sub>" in boxes[-1].text() and EXPLANATIONS["unrolled"][0] in boxes[-1].text()


def test_first_launch_tour_walks_and_is_remembered(qtbot, qapp):
    put("tour/done", False)
    w = open_main_window(qtbot)
    qtbot.waitUntil(lambda: w.help.tour is not None and w.help.tour.isVisible(), timeout=5000)
    first = w.help.tour
    w.help.start_tour()  # Help > Take the tour while one is open: the new one replaces it
    qtbot.wait(100)  # the old one is deleted meanwhile
    assert w.help.tour is not None and w.help.tour is not first and w.help.tour.isVisible()
    tour = w.help.tour
    assert 4 <= len(tour.steps) <= 6
    seen = []
    while True:
        seen.append(tour.title.text())
        assert tour.spotlight.isVisible()
        if tour.next.text() == "Done":
            break
        qtbot.mouseClick(tour.next, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tour.next, Qt.MouseButton.LeftButton)
    assert len(set(seen)) == len(tour.steps) and get_bool("tour/done")
    w.close()
    w2 = open_main_window(qtbot)  # the next launch: no tour
    qtbot.wait(1000)
    assert w2.help.tour is None
    w2.help.start_tour()  # Help > Take the tour; Skip ends it
    qtbot.mouseClick(w2.help.tour.skip, Qt.MouseButton.LeftButton)
    assert not any(isinstance(d, Tour) and d.isVisible() for d in QApplication.topLevelWidgets())
    w2.help.start_tour()  # and so does Escape, its orange frame with it (it stayed on the window)
    frame = w2.help.tour.spotlight
    assert frame.isVisible()
    qtbot.keyClick(w2.help.tour, Qt.Key.Key_Escape)
    qtbot.wait(50)
    assert not any(isinstance(d, Tour) and d.isVisible() for d in QApplication.topLevelWidgets())
    assert not any(f.isVisible() for f in w2.findChildren(type(frame)))
    w2.close()


def test_views_and_window_export_to_files_that_decode(tmp_path, window):
    for view in (window.internals, window.curves, window.unrolled):
        png = tmp_path / "v.png"
        assert window.session_files.export_to(view, str(png), 2.0)
        image = QImage(str(png))
        assert not image.isNull() and image.width() == 2 * view.width()
        colours = np.unique(np.frombuffer(image.constBits(), np.uint32))
        assert len(colours) > 4  # something was drawn, not a blank
        svg = tmp_path / "v.svg"
        assert window.session_files.export_to(view, str(svg))
        assert QSvgRenderer(str(svg)).isValid()
        assert ET.parse(svg).getroot().tag.endswith("svg")
    assert window.session_files.export_to(window, str(tmp_path / "w.png"), 1.0)
    assert QImage(str(tmp_path / "w.png")).width() == window.width()
    assert not window.session_files.export_to(window.curves, str(tmp_path / "w.jpg"))  # said, not raised
    assert "use a .png or .svg" in window.statusBar().currentMessage()


@pytest.mark.qt_log_ignore("does not support grabbing the keyboard")  # a popup menu, offscreen
def test_right_click_offers_export(qtbot, tmp_path, window):
    heatmap = window.internals.h_maps[0]
    viewport = heatmap.glw.viewport()
    event = QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, QPoint(20, 20), viewport.mapToGlobal(QPoint(20, 20))
    )
    QApplication.sendEvent(viewport, event)
    menu = window.exports.last_menu
    assert menu is not None and menu.isVisible()
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts == [
        "Export this plot as PNG\u2026", "Export this plot as SVG\u2026", "Copy this plot as an image",
        "Export inside view as PNG\u2026", "Export inside view as SVG\u2026", "Copy inside view as an image",
    ]  # fmt: skip
    menu.close()
    svg = tmp_path / "h.svg"  # the one plot: its text stays text
    assert window.session_files.export_to(heatmap.glw, str(svg))
    assert "hidden state h" in svg.read_text() and QSvgRenderer(str(svg)).isValid()


@pytest.mark.qt_log_ignore("does not support grabbing the keyboard")
def test_text_boxes_keep_their_own_context_menu(qtbot, window):
    viewport = window.typing.editor.viewport()
    at = QPoint(10, 10)
    QApplication.sendEvent(
        viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, viewport.mapToGlobal(at))
    )
    assert window.exports.last_menu is None  # the editor's own menu (undo, cut, copy, paste) opened instead
    for menu in QApplication.topLevelWidgets():
        if menu.inherits("QMenu") and menu.isVisible():
            menu.close()


def test_session_round_trip_restores_the_screen(qtbot, tmp_path, window):
    window.worker.step_once()
    qtbot.waitUntil(lambda: len(window.curves.history_state()["train/loss"][0]) > 0, timeout=10_000)
    window.typing.editor.setPlainText("the keeper")
    window.text.select_step(3)
    window.tabs.setCurrentIndex(2)
    window.typing.cont_len.setValue(17)
    window.samples.temperature.setValue(1.3)
    window.samples.show_sample(window.latest.updates, "the keeper sampled this")
    saved_weights = {k: v.copy() for k, v in window.latest.weights.items()}
    saved_steps = window.latest.weights_step
    curves = window.curves.history_state()
    path = window.session_files.save_session(str(tmp_path / "mine"))
    assert path.endswith("mine.rnnviz") and recent_files()[0] == path
    window.typing.editor.setPlainText("something else")
    window.tabs.setCurrentIndex(0)
    window.reset()  # a fresh model: nothing of the saved one left
    assert window.session_files.open_session(path)
    qtbot.waitUntil(lambda: window.latest is not None, timeout=10_000)
    assert window.typing.editor.toPlainText() == "the keeper" and window.text.selected == 3
    assert window.tabs.currentIndex() == 2 and window.typing.cont_len.value() == 17
    assert window.samples.text.toPlainText() == "the keeper sampled this"  # the Samples tab, as it was
    assert window.samples.temperature.value() == 1.3 and window.samples.last_step == saved_steps
    assert window.latest.weights_step == saved_steps
    for k, v in saved_weights.items():
        np.testing.assert_array_equal(window.latest.weights[k], v)
    restored = window.curves.history_state()
    kept = curves["train/loss"][:, curves["train/loss"][0] <= saved_steps]  # no step beyond the weights
    np.testing.assert_array_equal(restored["train/loss"], kept)
    window.session_files.fill_recent(window.recent_menu)
    assert [a.text() for a in window.recent_menu.actions()][0] == "mine.rnnviz"


def test_a_bad_session_file_is_said_and_nothing_is_lost(tmp_path, window):
    bad = tmp_path / "bad.rnnviz"
    bad.write_text("hello")
    text, worker = window.typing.editor.toPlainText(), window.worker
    assert not window.session_files.open_session(str(bad))
    assert "not a zip archive" in window.statusBar().currentMessage()
    assert window.worker is worker and window.typing.editor.toPlainText() == text


def test_a_damaged_or_hand_edited_session_never_loses_the_open_one(tmp_path, window):
    path = window.session_files.save_session(str(tmp_path / "s.rnnviz"))
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}

    def write(name, **changes):
        out = tmp_path / name
        with zipfile.ZipFile(out, "w") as z:
            for n, data in {**members, **changes}.items():
                z.writestr(n, data)
        return str(out)

    worker = window.worker
    assert not window.session_files.open_session(write("bad-history.rnnviz", **{"history.npz": b"junk"}))
    assert window.worker is worker and "history is damaged" in window.statusBar().currentMessage()
    doc = json.loads(members["session.json"])
    doc["view"] = {"unrolled": [1], "interventions": 5, "tab": 10**30, "budget": -5, "continue": "x",
                   "units": {"layer": 99, "unit": -3}, "selected": 10**9,
                   "samples": {"temperature": "hot", "length": 10**9, "text": 5}}  # fmt: skip
    doc["typed_text"] = "still opens"
    assert window.session_files.open_session(write("odd-view.rnnviz", **{"session.json": json.dumps(doc)}))
    assert window.worker is not worker and window.typing.editor.toPlainText() == "still opens"
    assert window.tabs.currentIndex() == window.tabs.count() - 1 and window.controls.budget.value() == 0
    assert window.samples.length.value() == window.samples.length.maximum()


def test_layout_and_choices_are_remembered(qtbot, qapp):
    from PySide6.QtWidgets import QDockWidget

    w = open_main_window(qtbot)
    dock = w.findChild(QDockWidget, "controls")
    w.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)  # the user moved the training panel
    w.tabs.setCurrentIndex(3)
    w.typing.temperature.setValue(0.7)
    w.close()
    w2 = open_main_window(qtbot)
    assert w2.dockWidgetArea(w2.findChild(QDockWidget, "controls")) == Qt.DockWidgetArea.RightDockWidgetArea
    assert w2.tabs.currentIndex() == 3 and w2.typing.temperature.value() == pytest.approx(0.7)
    w2.close()


def test_training_to_a_budget_shows_progress_and_stops(qtbot, window):
    window.controls.budget.setValue(100_000)
    window.controls.play.setChecked(True)
    qtbot.waitUntil(lambda: window.progress.isVisible(), timeout=15_000)
    assert 0 <= window.progress.bar.value() <= window.progress.bar.maximum() == 100_000
    qtbot.mouseClick(window.progress.stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.status.running and not window.progress.isVisible(), timeout=10_000)
    assert not window.controls.play.isChecked()


def test_dialogs_open(window):
    from rnnviz.qt import help as helptext

    for make in (helptext.shortcuts_dialog, helptext.guide_dialog):
        d = make(window)
        assert isinstance(d, QDialog) and d.isVisible()
        d.close()


def _answer(qtbot, window, button):
    """Press `button` in the "save before ...?" box as soon as it is shown (it is modal)."""

    def press():
        box = window.guard.box
        if box is None or not box.isVisible():
            QTimer.singleShot(20, press)
            return
        box.button(button).click()

    QTimer.singleShot(20, press)


def test_unsaved_training_is_not_thrown_away_without_asking(qtbot, tmp_path, window, monkeypatch):
    put("ask/unsaved", True)
    window.reset()  # nothing trained since launch: no question
    window.worker.step_once()
    qtbot.waitUntil(lambda: window.guard.unsaved_steps() > 0, timeout=10_000)
    worker = window.worker
    _answer(qtbot, window, QMessageBox.StandardButton.Cancel)
    window.reset()
    assert window.worker is worker  # kept
    monkeypatch.setattr("rnnviz.qt.session_files.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "kept.rnnviz"), ""))  # fmt: skip
    _answer(qtbot, window, QMessageBox.StandardButton.Save)
    window.reset()
    assert (tmp_path / "kept.rnnviz").is_file() and window.worker is not worker  # saved, then replaced
    window.worker.step_once()
    qtbot.waitUntil(lambda: window.guard.unsaved_steps() > 0, timeout=10_000)
    _answer(qtbot, window, QMessageBox.StandardButton.Cancel)
    window.close()
    assert window.isVisible() and window.worker is not None  # quitting was cancelled
    _answer(qtbot, window, QMessageBox.StandardButton.Discard)
    window.close()
    assert not window.isVisible()


def test_train_from_here_asks_and_an_intervention_does_not(qtbot, window):
    """The guard sits on what replaces the model: Train from here asks (it starts a new session
    from an earlier step); an intervention, which only changes the views, does not."""
    from rnnviz.core.intervene import Intervention

    put("ask/unsaved", True)
    try:
        window.worker.step_once(2)
        qtbot.waitUntil(lambda: window.guard.unsaved_steps() > 0, timeout=10_000)
        window.guard.box = None
        window.unit_actions.add_intervention(Intervention(0, "h", 0.0, (0,)))
        assert (
            window.guard.box is None and len(window.unit_actions.interventions) == 1
        )  # applied, nothing asked
        window.unit_actions.clear_interventions()
        worker, point = window.worker, (window.latest.weights_step, window.latest.weights)
        _answer(qtbot, window, QMessageBox.StandardButton.Cancel)
        window.timeline.train_from(point)
        assert window.guard.box is not None and window.worker is worker  # asked; cancelled: kept
        _answer(qtbot, window, QMessageBox.StandardButton.Discard)
        window.timeline.train_from(point)
        assert window.worker is not worker  # asked again; discarded: a new session from that step
    finally:
        put("ask/unsaved", False)  # closing the window after the test must not ask


def test_the_save_prompt_counts_the_steps_trained_while_it_is_open(qtbot, window):
    put("ask/unsaved", True)
    window.worker.step_once()
    qtbot.waitUntil(lambda: window.guard.unsaved_steps() > 0, timeout=10_000)
    before, seen = window.guard.unsaved_steps(), []

    def press():  # one more step while the box is open; the box follows, then Cancel
        box = window.guard.box
        if box is None or not box.isVisible():
            QTimer.singleShot(20, press)
            return
        if not seen:
            window.worker.step_once()
        seen.append(box.text())
        if f"trained {before + 1} steps" in box.text() or len(seen) > 500:
            box.button(QMessageBox.StandardButton.Cancel).click()
        else:
            QTimer.singleShot(20, press)

    QTimer.singleShot(20, press)
    try:
        window.reset()
    finally:
        put("ask/unsaved", False)  # closing the window after the test must not ask
    assert f"trained {before} steps" in seen[0] and f"trained {before + 1} steps" in seen[-1]


def test_a_session_on_a_corpus_file_opens_when_the_file_is_gone(qtbot, tmp_path, window):
    from rnnviz.core.corpus import Corpus

    text = tmp_path / "tiny.txt"
    text.write_text("a small corpus of my own, read by the model. " * 40)
    window.files.opener.opened.emit(
        Corpus.from_text(text.read_text(), "char", str(text))
    )  # File > Open corpus
    qtbot.waitUntil(lambda: window.latest is not None and window.worker.info.corpus.name == str(text))
    path = window.session_files.save_session(str(tmp_path / "mine.rnnviz"))
    text.unlink()
    window.files.file_corpus = None
    assert window.session_files.open_session(path)
    assert window.worker.info.corpus.name == str(text)
    said = [b.text() for b in window.findChildren(QMessageBox)]
    assert any("was not found" in t and "copy of its text" in t for t in said), said
    window.reset()  # a fresh model on the copy, not on the missing file
    assert window.worker.info.corpus.text.startswith("a small corpus of my own")
