"""Looks: the theme (the system's, or a light or dark one), the colour maps, the window icon.

apply_theme("Dark") gives the application Qt's Fusion style with a dark palette and re-colours the
plots already on screen; "System" gives back the style and palette the app started with.
set_colormaps() changes the maps of signed values and of values in 0..1, in the views to come and
in those on screen. view_menu() offers both in a View menu; the choices are remembered
(qt.settings) and applied at the next start by apply_saved_looks().
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QStyleFactory, QToolTip

from rnnviz.qt.settings import get_str, put
from rnnviz.qt.views.common import (
    POSITIVE_CMAP,
    SIGNED_CMAP,
    configure_pyqtgraph,
    is_dark,
    positive_cmap,
    set_cmap_names,
    signed_cmap,
)
from rnnviz.qt.views.restyle import all_widgets, restyle_plots

THEMES = ("System", "Light", "Dark")
THEME_KEY, SIGNED_KEY, POSITIVE_KEY = "looks/theme", "looks/signed_cmap", "looks/positive_cmap"
# Colour maps offered, with what a person sees in them. Signed: diverging, white at zero.
SIGNED_MAPS = {
    "CET-CBD1": "Blue-white-gold (CET-CBD1, colour-blind safe, default)",
    "CET-CBTD1": "Cyan-white-rose (CET-CBTD1, safe for tritanopia)",
    "CET-D1A": "Dark blue-white-dark red (CET-D1A)",
    "CET-D1": "Blue-white-red (CET-D1)",
}
POSITIVE_MAPS = {
    "viridis": "Viridis: purple-green-yellow (default)",
    "cividis": "Cividis: navy-grey-yellow (colour-blind safe)",
    "CET-CBL1": "Black-blue-gold-white (CET-CBL1, colour-blind safe)",
    "CET-CBL2": "Black-blue-gold-white, brighter blue (CET-CBL2, colour-blind safe)",
    "inferno": "Inferno: black-red-yellow",
}
# One colour per architecture, the same wherever models are drawn side by side (the gradient lab):
# Okabe & Ito's colour-blind-safe set without its yellow (faint on white) and grey; the LSTM and the
# S6, compared by the recall preset, are orange and reddish purple, far apart for every kind of sight.
ARCH_COLOURS = {
    "rnn": "#0072B2", "lstm": "#E69F00", "gru": "#009E73",
    "mingru": "#56B4E9", "minlstm": "#D55E00", "ssm": "#CC79A7",
}  # fmt: skip
_R = QPalette.ColorRole
DARK = {
    _R.Window: "#202124", _R.WindowText: "#e8e8e8", _R.Base: "#17181a", _R.AlternateBase: "#25272a",
    _R.ToolTipBase: "#2d2f33", _R.ToolTipText: "#e8e8e8", _R.PlaceholderText: "#8d9096",
    _R.Text: "#e8e8e8", _R.Button: "#2b2d31", _R.ButtonText: "#e8e8e8", _R.BrightText: "#ff8a80",
    _R.Light: "#404349", _R.Midlight: "#33363a", _R.Mid: "#26282b", _R.Dark: "#121315",
    _R.Shadow: "#000000", _R.Highlight: "#2a6fb8", _R.HighlightedText: "#ffffff",
    _R.Link: "#56B4E9", _R.LinkVisited: "#CC79A7",
}  # fmt: skip
DARK_DISABLED = {
    _R.WindowText: "#7d8086", _R.Text: "#7d8086", _R.ButtonText: "#7d8086", _R.Base: "#1d1e21",
    _R.Button: "#26282b", _R.Highlight: "#3a3d42", _R.HighlightedText: "#a0a3a8",
}  # fmt: skip
LIGHT = {
    _R.Window: "#efefef", _R.WindowText: "#1a1a1a", _R.Base: "#ffffff", _R.AlternateBase: "#f4f4f4",
    _R.ToolTipBase: "#ffffe6", _R.ToolTipText: "#1a1a1a", _R.PlaceholderText: "#7a7a7a",
    _R.Text: "#1a1a1a", _R.Button: "#efefef", _R.ButtonText: "#1a1a1a", _R.BrightText: "#ffffff",
    _R.Light: "#ffffff", _R.Midlight: "#e3e3e3", _R.Mid: "#b8b8b8", _R.Dark: "#9f9f9f",
    _R.Shadow: "#767676", _R.Highlight: "#2a6fb8", _R.HighlightedText: "#ffffff",
    _R.Link: "#0072B2", _R.LinkVisited: "#8f4a7a",
}  # fmt: skip
LIGHT_DISABLED = {
    _R.WindowText: "#8c8c8c", _R.Text: "#8c8c8c", _R.ButtonText: "#8c8c8c", _R.Base: "#efefef",
    _R.Highlight: "#c4c4c4", _R.HighlightedText: "#4a4a4a",
}  # fmt: skip

_system: dict = {}  # the look the app started with (remember_system_look)
_state = {"theme": "System"}


def _app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("the looks need a QApplication")
    return app


def palette(name: str) -> QPalette:
    """The Light or Dark palette: every role, and greyed text for disabled widgets."""
    colours, disabled = (DARK, DARK_DISABLED) if name == "Dark" else (LIGHT, LIGHT_DISABLED)
    pal = QPalette()
    for role, colour in colours.items():
        pal.setColor(role, QColor(colour))
    if hasattr(_R, "Accent"):  # Qt >= 6.6
        pal.setColor(_R.Accent, QColor(colours[_R.Highlight]))
    for role, colour in disabled.items():
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(colour))
    return pal


def remember_system_look() -> None:
    """Keep the style and palette the app has now, for "System" (once; call before any change)."""
    if _system:
        return
    app = _app()
    _system.update(
        style=app.style().name(),
        palette=QPalette(app.palette()),
        explicit=QCoreApplication.testAttribute(Qt.ApplicationAttribute.AA_SetPalette),
        tooltip=QPalette(QToolTip.palette()),
    )
    app.styleHints().colorSchemeChanged.connect(_on_scheme_changed)


def _on_scheme_changed(*_args) -> None:
    """The desktop went light or dark: the System theme follows it."""
    if _state["theme"] == "System":
        apply_theme("System")


def current_theme() -> str:
    return _state["theme"]


def apply_theme(name: str) -> None:
    """One of THEMES, at once: the widgets' style and palette, pyqtgraph's options for the plots to
    come, and the colours of every plot on screen."""
    if name not in THEMES:
        raise ValueError(f"no theme named {name!r}: one of {', '.join(THEMES)}")
    app = _app()
    remember_system_look()
    old_fg, old_bg = pg.getConfigOption("foreground"), pg.getConfigOption("background")
    if name == "System":
        style = QStyleFactory.create(_system["style"])
        if style is not None:
            app.setStyle(style)
        app.setPalette(_system["palette"] if _system["explicit"] else QPalette())
        QToolTip.setPalette(_system["tooltip"])
        if app.styleHints().colorScheme() == Qt.ColorScheme.Dark and not is_dark(app.palette()):
            _set_fusion(app, palette("Dark"))  # a dark desktop whose Qt theme gives no dark palette
    else:
        _set_fusion(app, palette(name))
    _state["theme"] = name
    configure_pyqtgraph()  # plot colours from the palette now
    restyle_plots(old_fg, old_bg)


def _set_fusion(app: QApplication, pal: QPalette) -> None:
    app.setStyle("Fusion")
    app.setPalette(pal)
    QToolTip.setPalette(pal)


@cache
def _available() -> frozenset[str]:
    return frozenset(pg.colormap.listMaps())


def signed_maps() -> dict[str, str]:
    """The signed maps this pyqtgraph ships: name -> label."""
    return {k: v for k, v in SIGNED_MAPS.items() if k in _available()}


def positive_maps() -> dict[str, str]:
    return {k: v for k, v in POSITIVE_MAPS.items() if k in _available()}


def set_colormaps(signed: str, positive: str) -> None:
    """The maps of signed values and of values in 0..1, for the views to come and those on screen
    (heatmaps, colour bars, weights, the units' coloured text, the unrolled network)."""
    for name in (signed, positive):
        if name not in _available():
            raise ValueError(f"pyqtgraph has no colour map named {name!r}")
    if (signed, positive) == (signed_cmap(), positive_cmap()):
        return
    set_cmap_names(signed, positive)
    for w in all_widgets():
        refresh = getattr(w, "refresh_colormaps", None)
        if callable(refresh):
            refresh()


def apply_saved_looks() -> None:
    """The theme and maps chosen last time (call once the QApplication exists, before windows)."""
    theme = get_str(THEME_KEY, "System")
    signed, positive = get_str(SIGNED_KEY, SIGNED_CMAP), get_str(POSITIVE_KEY, POSITIVE_CMAP)
    set_colormaps(
        signed if signed in signed_maps() else SIGNED_CMAP,
        positive if positive in positive_maps() else POSITIVE_CMAP,
    )
    apply_theme(theme if theme in THEMES else "System")


def choose_theme(name: str) -> None:
    """Apply and remember (what the View menu does)."""
    apply_theme(name)
    put(THEME_KEY, name)


def choose_colormaps(signed: str, positive: str) -> None:
    set_colormaps(signed, positive)
    put(SIGNED_KEY, signed)
    put(POSITIVE_KEY, positive)


def next_theme() -> None:
    choose_theme(THEMES[(THEMES.index(current_theme()) + 1) % len(THEMES)])


def view_menu(window: QMainWindow) -> QMenu:
    """A "View" menu on the window's menu bar: Theme (System, Light, Dark; Ctrl+Shift+L goes to
    the next) and Colour maps (signed values, values in 0..1). A choice applies at once and is kept."""
    menu = window.menuBar().addMenu("&View")
    theme = menu.addMenu("&Theme")
    themes = _group(theme, {t: t for t in THEMES}, current_theme, choose_theme)
    theme.addSeparator()
    cycle = QAction("&Next theme", theme)
    cycle.setShortcut(QKeySequence("Ctrl+Shift+L"))
    cycle.triggered.connect(next_theme)
    theme.addAction(cycle)
    window.addAction(cycle)  # the shortcut works with the menu closed
    maps = menu.addMenu("&Colour maps")
    signed = _group(
        maps.addMenu("&Signed values (h, c, candidates, weights)"),
        signed_maps(),
        signed_cmap,
        lambda name: choose_colormaps(name, positive_cmap()),
    )
    positive = _group(
        maps.addMenu("&Values in 0..1 (gates)"),
        positive_maps(),
        positive_cmap,
        lambda name: choose_colormaps(signed_cmap(), name),
    )
    menu.groups = {"theme": themes, "signed": signed, "positive": positive}  # for tests and callers
    return menu


def _group(menu: QMenu, choices: dict[str, str], current, choose) -> QActionGroup:
    """Exclusive checkable actions, one per choice (data: its name), the current one checked."""
    group = QActionGroup(menu)
    group.setExclusive(True)
    for name, label in choices.items():
        action = QAction(label, menu, checkable=True)
        action.setData(name)
        group.addAction(action)
        menu.addAction(action)
    _check(group, current())
    group.triggered.connect(lambda action: choose(action.data()))
    menu.aboutToShow.connect(lambda: _check(group, current()))
    return group


def _check(group: QActionGroup, name: str) -> None:
    for action in group.actions():
        action.setChecked(action.data() == name)


def icon_path() -> Path:
    from rnnviz.core.corpus import assets_dir

    return assets_dir() / "icons" / "rnnviz.svg"


def app_icon() -> QIcon:
    """The window icon (an SVG: sharp at 16 px and at 256)."""
    return QIcon(str(icon_path()))
