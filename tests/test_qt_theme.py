"""Looks: the dark and light themes re-colour the plots on screen and System gives the start's look
back; the colour-map preference re-colours live heatmaps, colour bars, weights, coloured text and the
unrolled network; the choices are kept; the icon draws; install-desktop writes a valid entry."""

import configparser
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QMainWindow, QTabWidget, QToolTip
from qt_helpers import VOCAB, assert_heatmap, real_trace

from rnnviz.qt import theme
from rnnviz.qt.settings import app_settings, get_str
from rnnviz.qt.views.common import (
    POSITIVE_CMAP,
    SIGNED_CMAP,
    configure_pyqtgraph,
    lut,
    positive_cmap,
    signed_cmap,
)
from rnnviz.qt.views.curves import TrainingCurves
from rnnviz.qt.views.grad_norms import GradNormHistory
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.typing_panel import TypingPanel
from rnnviz.qt.views.units_view import _colour
from rnnviz.qt.views.unrolled_paint import _lut
from rnnviz.qt.views.weights import WeightView

ROOT = Path(__file__).resolve().parents[1]
Role = QPalette.ColorRole


@pytest.fixture(autouse=True)
def _looks(qapp):
    """Every test starts and ends with the system look, the default maps and no saved choice."""
    theme.remember_system_look()
    configure_pyqtgraph()
    yield
    theme.apply_theme("System")
    theme.set_colormaps(SIGNED_CMAP, POSITIVE_CMAP)
    s = app_settings()
    for key in (theme.THEME_KEY, theme.SIGNED_KEY, theme.POSITIVE_KEY):
        s.remove(key)
    s.sync()


@pytest.fixture
def window(qtbot):
    """A window of real views: the internals of a 2-layer LSTM, its weights, curves, gradient norms."""
    w = QMainWindow()
    tabs = QTabWidget()
    w.setCentralWidget(tabs)
    w.internals = InternalsView()
    w.internals.set_trace(real_trace("lstm", layers=2))
    w.weights = WeightView()
    cfg = real_trace("lstm", layers=2).cfg
    w.weights.set_model(cfg, VOCAB.tokens)
    rng = np.random.default_rng(0)
    w.weights.set_weights({"rnn.weight_hh_l0": rng.normal(size=(4 * cfg.hidden, cfg.hidden))})
    w.curves, w.norms = TrainingCurves(), GradNormHistory()
    w.norms.set_clip(1.0)
    for name, view in (("inside", w.internals), ("weights", w.weights), ("curves", w.curves)):
        tabs.addTab(view, name)
    tabs.addTab(w.norms, "norms")
    qtbot.addWidget(w)
    w.resize(900, 700)
    w.show()
    return w


def plots(w):
    return [v for v in w.findChildren(pg.GraphicsView)]


def axes(w):
    return [i for v in plots(w) for i in v.scene().items() if isinstance(i, pg.AxisItem)]


def lightness(c) -> int:
    return pg.mkColor(c).lightness()


def test_dark_and_light_recolour_the_plots_on_screen_and_system_restores(window, qapp):
    start_style, start = qapp.style().name(), QPalette(qapp.palette())
    start_bg = [v.backgroundBrush().color().name() for v in plots(window)]
    theme.apply_theme("Dark")
    assert theme.current_theme() == "Dark" and qapp.style().name().lower() == "fusion"
    pal = qapp.palette()
    assert lightness(pal.color(Role.Window)) < 60 and lightness(pal.color(Role.Text)) > 200
    assert pal.color(QPalette.ColorGroup.Disabled, Role.Text) != pal.color(Role.Text)
    assert lightness(QToolTip.palette().color(Role.ToolTipBase)) < 80  # tooltips readable too
    assert len(plots(window)) >= 9
    assert all(lightness(v.backgroundBrush().color()) < 40 for v in plots(window))
    assert all(
        lightness(a.textPen().color()) > 200 and lightness(a.pen().color()) > 200 for a in axes(window)
    )
    title = window.internals.h_maps[0].plot.titleLabel.item.toHtml()
    assert "color:#e8e8e8" in title.replace(" ", "")
    legend = window.curves._plots["loss"].legend
    assert lightness(legend.brush().color()) < 40 and legend.brush().color().alpha() == 190
    assert lightness(window.curves._hint.color) > 200  # "Press Play" on the empty plot
    assert lightness(window.norms._clip_line.pen.color()) > 200  # a line drawn in the foreground
    fresh = TrainingCurves()  # built after the change: dark from the start
    assert lightness(fresh._graphics.backgroundBrush().color()) < 40
    fresh.deleteLater()

    theme.apply_theme("Light")
    assert lightness(qapp.palette().color(Role.Window)) > 200
    assert all(v.backgroundBrush().color().name() == "#ffffff" for v in plots(window))
    assert all(lightness(a.textPen().color()) < 60 for a in axes(window))
    assert lightness(legend.brush().color()) > 240

    theme.apply_theme("Dark")
    theme.apply_theme("System")
    assert qapp.style().name() == start_style
    for role in (Role.Window, Role.Base, Role.Text, Role.Highlight):
        assert qapp.palette().color(role) == start.color(role)
    assert [v.backgroundBrush().color().name() for v in plots(window)] == start_bg
    text = start.color(Role.Text).name()
    assert all(a.textPen().color().name() == text for a in axes(window))


def test_colour_maps_recolour_live_heatmaps_bars_weights_and_the_unrolled_view(window):
    iv = window.internals
    h, gate = iv.h_maps[0], iv.gate_maps["i"]
    before = (
        h.image.lut.copy(),
        gate.image.lut.copy(),
        bar_colours(h.colorbar),
        bar_colours(window.weights.colorbar),
    )
    np.testing.assert_array_equal(before[0], lut(SIGNED_CMAP))
    np.testing.assert_array_equal(before[1], lut(POSITIVE_CMAP))
    theme.set_colormaps("CET-D1", "cividis")
    assert (signed_cmap(), positive_cmap()) == ("CET-D1", "cividis")
    np.testing.assert_array_equal(h.image.lut, lut("CET-D1"))
    np.testing.assert_array_equal(gate.image.lut, lut("cividis"))
    np.testing.assert_array_equal(iv.gate_maps["g"].image.lut, lut("CET-D1"))  # the candidate is signed
    assert not np.array_equal(h.image.lut, before[0]) and not np.array_equal(gate.image.lut, before[1])
    assert bar_colours(h.colorbar) != before[2] and bar_colours(h.colorbar)[0] == tuple(lut("CET-D1")[0])
    assert bar_colours(window.weights.colorbar) != before[3]
    assert window.weights.colorbar.colorMap().name == "CET-D1"
    assert h.image.image.dtype == np.uint8  # still the fast 8-bit path, same colour indices
    assert_heatmap(h, real_trace("lstm", layers=2).h[0].T)
    np.testing.assert_array_equal(_lut(), lut("CET-D1"))  # the unrolled network paints with it
    later = InternalsView()  # built after: the new maps at once
    later.set_model(real_trace("gru").cfg)
    np.testing.assert_array_equal(later.h_maps[0].image.lut, lut("CET-D1"))
    np.testing.assert_array_equal(later.gate_maps["z"].image.lut, lut("cividis"))
    later.deleteLater()
    fixed = type(h)("fixed", "v", "CET-CBD1", (-1.0, 1.0))  # a named map is not a preference
    theme.set_colormaps("CET-D1A", "inferno")
    np.testing.assert_array_equal(fixed.image.lut, lut("CET-CBD1"))
    fixed.deleteLater()
    with pytest.raises(ValueError):
        theme.set_colormaps("no-such-map", "viridis")


def bar_colours(colorbar) -> tuple:
    """The colours a colour bar shows at its two ends, read from its pixmap."""
    img = colorbar.bar.pixmap().toImage()
    ends = [img.pixelColor(0, 0), img.pixelColor(img.width() - 1, img.height() - 1)]
    return tuple((c.red(), c.green(), c.blue()) for c in ends)


def test_units_text_keeps_readable_ink_on_every_colour():
    table = lut(SIGNED_CMAP)
    middle, end = _colour(0.0, 1.0, table), _colour(-1.0, 1.0, table)
    assert "color:#000000" in middle  # black on the near-white zero, under any theme
    r, g, b = table[0][:3]
    assert f"background-color:#{r:02x}{g:02x}{b:02x}" in end


def test_continuation_takes_a_blue_that_reads_on_the_theme(qtbot, qapp):
    panel = TypingPanel()
    qtbot.addWidget(panel)
    panel.show_continuation("hello", " world")
    assert "#0072B2" in panel.continuation.text()
    theme.apply_theme("Dark")
    qapp.processEvents()  # the palette reaches the widgets as an event
    assert "#56B4E9" in panel.continuation.text()


def test_view_menu_applies_and_keeps_the_choices(qtbot, qapp):
    w = QMainWindow()
    w.internals = InternalsView()
    w.internals.set_trace(real_trace("gru"))
    w.setCentralWidget(w.internals)
    qtbot.addWidget(w)
    menu = theme.view_menu(w)
    assert menu.title() == "&View" and menu in [a.menu() for a in w.menuBar().actions()]
    groups = menu.groups
    assert [a.data() for a in groups["theme"].actions()] == list(theme.THEMES)
    assert groups["theme"].checkedAction().data() == "System"
    assert groups["signed"].checkedAction().data() == SIGNED_CMAP
    assert "default" in groups["signed"].checkedAction().text()
    assert set(a.data() for a in groups["positive"].actions()) >= {"viridis", "cividis", "CET-CBL1"}
    pick(groups["theme"], "Dark")
    assert theme.current_theme() == "Dark" and get_str(theme.THEME_KEY) == "Dark"
    assert lightness(w.internals.h_maps[0].glw.backgroundBrush().color()) < 40
    pick(groups["signed"], "CET-D1A")
    pick(groups["positive"], "CET-CBL1")
    assert (get_str(theme.SIGNED_KEY), get_str(theme.POSITIVE_KEY)) == ("CET-D1A", "CET-CBL1")
    np.testing.assert_array_equal(w.internals.gate_maps["z"].image.lut, lut("CET-CBL1"))
    cycle = next(a for a in w.actions() if a.shortcut().toString() == "Ctrl+Shift+L")
    cycle.trigger()  # Dark -> System
    assert theme.current_theme() == "System" and get_str(theme.THEME_KEY) == "System"

    # the next start: what was chosen comes back
    theme.put(theme.THEME_KEY, "Dark")
    theme.apply_theme("Light")
    theme.set_colormaps(SIGNED_CMAP, POSITIVE_CMAP)
    theme.apply_saved_looks()
    assert theme.current_theme() == "Dark"
    assert (signed_cmap(), positive_cmap()) == ("CET-D1A", "CET-CBL1")
    menu.aboutToShow.emit()
    for sub in menu.findChildren(type(menu)):
        sub.aboutToShow.emit()
    assert groups["theme"].checkedAction().data() == "Dark"
    theme.put(theme.SIGNED_KEY, "not-a-map")  # a damaged setting: the default
    theme.apply_saved_looks()
    assert signed_cmap() == SIGNED_CMAP


def pick(group, name: str) -> None:
    next(a for a in group.actions() if a.data() == name).trigger()


def test_icon_draws_at_small_and_large_sizes(qapp):
    icon = theme.app_icon()
    assert theme.icon_path().is_file() and not icon.isNull()
    for size in (16, 64, 256):
        img = icon.pixmap(size, size).toImage()
        assert img.width() == size
        colours = {img.pixelColor(x, y).name() for x in range(size) for y in range(0, size, 3)}
        assert "#0072b2" in colours or size == 16  # the cells' blue, exactly, once big enough
        assert len(colours) > 4


def _install_desktop(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rnnviz", "install-desktop"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_install_desktop_writes_the_entry_and_its_icon(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    p = _install_desktop(env)
    assert p.returncode == 0, p.stderr
    desktop = tmp_path / "applications" / "rnnviz.desktop"
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "rnnviz.svg"
    mime = tmp_path / "mime" / "packages" / "rnnviz.xml"
    assert p.stdout.split("\n")[:3] == [f"wrote {desktop}", f"wrote {icon}", f"wrote {mime}"]
    kind = mime.read_text()
    assert 'glob pattern="*.rnnviz"' in kind and 'type="application/x-rnnviz-session"' in kind
    assert icon.read_bytes() == (ROOT / "assets" / "icons" / "rnnviz.svg").read_bytes()
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(desktop, encoding="utf-8")
    e = entry["Desktop Entry"]
    assert (e["Type"], e["Name"], e["Icon"], e["Terminal"]) == ("Application", "rnnviz", "rnnviz", "false")
    assert e["Categories"] == "Education;Science;" and e["StartupWMClass"] == "rnnviz" and e["Comment"]
    exe = e["Exec"].split()[0].strip('"')
    assert os.path.isabs(exe) and os.access(exe, os.X_OK)
    assert e["Exec"].endswith(" %f") and e["MimeType"] == "application/x-rnnviz-session;"  # opens sessions
    command = e["Exec"].split()[:-1]
    assert subprocess.run([*command, "--version"], capture_output=True, timeout=120).returncode == 0

    (tmp_path / "blocked").write_text("a file, not a folder")
    env["XDG_DATA_HOME"] = str(tmp_path / "blocked")
    p = _install_desktop(env)
    assert (
        p.returncode == 2 and p.stderr.count("\n") == 1 and p.stderr.startswith("rnnviz: error: cannot write")
    )


def test_exec_line_quotes_what_the_spec_reserves():
    from rnnviz.cli.desktop import exec_line, with_exec

    assert exec_line(["/opt/rnnviz/bin/rnnviz"]) == "/opt/rnnviz/bin/rnnviz"
    assert exec_line(["/home/a b/py", "-m", "rnnviz"]) == '"/home/a b/py" -m rnnviz'
    assert exec_line(["/x/100%/py"]) == "/x/100%%/py"
    assert exec_line(['/x/$HOME "q"/py']) == '"/x/\\\\$HOME \\\\"q\\\\"/py"'
    assert (
        with_exec("[Desktop Entry]\nName=a\nExec=rnnviz\n", "/p/rnnviz")
        == "[Desktop Entry]\nName=a\nExec=/p/rnnviz\n"
    )
    kept = with_exec("Exec=rnnviz %f\n", '"/a b/py" -m rnnviz')  # the file opened is kept
    assert kept == 'Exec="/a b/py" -m rnnviz %f\n'


def test_app_run_sets_the_icon_and_desktop_name(monkeypatch, qapp):
    """app.run's looks, without its window: the icon, the desktop file name, the saved theme."""
    import rnnviz.qt.app as app_module

    seen = {}

    class Stop(Exception):
        pass

    def no_window(*_a, **_k):
        seen["theme"] = theme.current_theme()
        raise Stop

    theme.put(theme.THEME_KEY, "Dark")
    monkeypatch.setattr("rnnviz.qt.main_window.MainWindow", no_window)
    names = qapp.applicationName(), qapp.organizationName()
    try:
        with pytest.raises(Stop):
            app_module.run()
    finally:
        qapp.setApplicationName(names[0])
        qapp.setOrganizationName(names[1])
    assert seen["theme"] == "Dark"
    assert not QApplication.windowIcon().isNull()
    assert QApplication.desktopFileName() == "rnnviz"
