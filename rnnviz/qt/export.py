"""Exporting what is on screen: any view (right-click it) as PNG or SVG, the whole window as PNG, at
a chosen resolution.

SVGs are painted by Qt's SVG generator: lines and text stay vectors, heatmaps are embedded images.
(pyqtgraph's SVGExporter fails on Qt 6's path data, ValueError in its _cleanXml; Qt's painter
gives the same picture.) PNGs are painted at `scale` times the size on screen: lines and text
are drawn at that resolution, not blown up."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from rnnviz.core.errors import RnnvizError

SCALES = {"1x (as on screen)": 1.0, "2x": 2.0, "3x": 3.0, "4x (print)": 4.0}
TEXT_WIDGETS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)  # with menus of their own
FORMATS = {".png": "PNG images (*.png)", ".svg": "SVG drawings (*.svg)"}


class ExportError(RnnvizError):
    """The file could not be written (one line for the user)."""


def render_image(widget: QWidget, scale: float = 1.0) -> QImage:
    """The widget as it is on screen, painted at `scale` times its size."""
    size = QSize(max(1, round(widget.width() * scale)), max(1, round(widget.height() * scale)))
    image = QImage(size, QImage.Format.Format_ARGB32)
    image.fill(widget.palette().window().color())
    p = QPainter(image)
    p.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    p.scale(scale, scale)
    try:
        _paint(widget, p)
    finally:
        p.end()
    return image


def _paint(widget: QWidget, p: QPainter) -> None:
    """The widget and its children as on screen (QGraphicsView's own render() draws its scene only)."""
    for view in [widget, *widget.findChildren(pg.GraphicsView)]:
        if isinstance(view, pg.GraphicsView):
            view.scene().prepareForPaint()
    QWidget.render(widget, p, QPoint(0, 0))


def export_widget(widget: QWidget, path: str | Path, scale: float = 1.0) -> Path:
    """Write `widget` to `path`: .png (at `scale`) or .svg. Raises ExportError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(f"cannot export to {path.name}: use a .png or .svg file name")
    if not path.parent.is_dir():
        raise ExportError(f"cannot export to {path}: the folder {path.parent} does not exist")
    if suffix == ".png":
        if not render_image(widget, scale).save(str(path), "PNG"):
            raise ExportError(f"could not write {path} (is the folder writable?)")
    else:
        _svg_of_widget(widget, path)
    return path


def _svg_of_widget(widget: QWidget, path: Path) -> None:
    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(widget.size())
    gen.setViewBox(QRect(0, 0, widget.width(), widget.height()))
    gen.setTitle(widget.objectName() or "rnnviz")
    p = QPainter()
    if not p.begin(gen):
        raise ExportError(f"could not write {path} (is the folder writable?)")
    try:
        _paint(widget, p)
    finally:
        p.end()


def copy_image(widget: QWidget) -> None:
    QGuiApplication.clipboard().setImage(render_image(widget, 2.0))


def ask_scale(parent: QWidget, title: str) -> float | None:
    choice, ok = QInputDialog.getItem(parent, title, "Resolution:", list(SCALES), 1, False)
    return SCALES[choice] if ok else None


def ask_path(parent: QWidget, title: str, name: str, suffixes=(".png", ".svg")) -> str:
    filters = ";;".join(FORMATS[s] for s in suffixes)
    path, chosen = QFileDialog.getSaveFileName(parent, title, f"{name}{suffixes[0]}", filters)
    if path and not Path(path).suffix:  # no extension typed: the chosen filter's
        path += next((s for s in suffixes if FORMATS[s] == chosen), suffixes[0])
    return path


class ExportMenu(QObject):
    """A right-click menu on every registered view: export it as PNG or SVG, or copy it."""

    def __init__(self, window, export_to):
        """export_to(view, path, scale) -> bool: writes the file (and tells the user)."""
        super().__init__(window)
        self.window, self.export_to = window, export_to
        self.views: dict[QWidget, str] = {}
        self.last_menu: QMenu | None = None

    def register(self, widget: QWidget, name: str) -> None:
        self.views[widget] = name

    def view_at(self, widget: QWidget | None) -> QWidget | None:
        while widget is not None:
            if widget in self.views:
                return widget
            widget = widget.parentWidget()
        return None

    def eventFilter(self, obj, event) -> bool:
        if event.type() != QEvent.Type.ContextMenu or not isinstance(obj, QWidget):
            return False
        view = self.view_at(obj)
        if view is None or _in_text(obj, view):
            return False  # text boxes keep their own menu (undo, cut, copy, paste)
        self.menu_for(view, _plot_of(obj, view)).popup(event.globalPos())
        return True

    def menu_for(self, view: QWidget, plot: pg.GraphicsView | None = None) -> QMenu:
        """The view's menu; with `plot` (the one plot of several under the mouse), that plot's too."""
        menu = QMenu(self.window)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for widget, name in ((plot, "this plot"), (view, self.views[view])):
            if widget is None:
                continue
            menu.addAction(f"Export {name} as PNG\u2026", lambda w=widget, n=name: self.export(w, n, ".png"))
            menu.addAction(f"Export {name} as SVG\u2026", lambda w=widget, n=name: self.export(w, n, ".svg"))
            menu.addAction(f"Copy {name} as an image", lambda w=widget: copy_image(w))
            menu.addSeparator()
        self.last_menu = menu
        return menu

    def export(self, view: QWidget, name: str, suffix: str) -> None:
        if name == "this plot":
            name = "plot"
        suffixes = (suffix, *(s for s in FORMATS if s != suffix))
        path = ask_path(self.window, f"Export {name}", f"rnnviz-{name.replace(' ', '-')}", suffixes)
        if not path:
            return
        scale = ask_scale(self.window, f"Export {name}") if path.lower().endswith(".png") else 1.0
        if scale is None:
            return
        self.export_to(view, path, scale)


def _in_text(widget: QWidget, view: QWidget) -> bool:
    while widget is not None and widget is not view:
        if isinstance(widget, TEXT_WIDGETS):
            return True
        widget = widget.parentWidget()
    return False


def _plot_of(widget: QWidget, view: QWidget) -> pg.GraphicsView | None:
    """The plot under the mouse when `view` holds several, else None."""
    while widget is not None and widget is not view:
        if isinstance(widget, pg.GraphicsView):
            return widget if len(view.findChildren(pg.GraphicsView)) > 1 else None
        widget = widget.parentWidget()
    return None


def install(window, export_to) -> ExportMenu:
    menu = ExportMenu(window, export_to)
    QApplication.instance().installEventFilter(menu)
    return menu
