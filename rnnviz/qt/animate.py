"""The step-through as image frames, rendered deterministically (no screen recording): the same
painter as the app's unrolled view, one image per frame, written as an animated GIF."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

from rnnviz.core.checkpoint import write_atomic
from rnnviz.core.errors import ConfigError, RnnvizError
from rnnviz.core.trace import Trace, TraceWeights
from rnnviz.core.unroll import frame_detail, frames
from rnnviz.qt.views.unrolled_paint import View, columns, paint, panel_height

MIN_WIDTH, MAX_WIDTH = 640, 4096


class ExportCancelled(RnnvizError):
    """The user stopped an export."""


def frame_size(trace: Trace, width: int) -> tuple[int, int]:
    return width, int(150 + 125 * trace.cfg.layers + panel_height(trace.cfg.arch))


def render_frames(
    trace: Trace,
    weights: TraceWeights,
    loss_mode: str = "many-to-many",
    detail: bool = False,
    width: int = 1280,
    unit: int = 0,
    layer: int = 0,
    progress: Callable[[int, int], bool] | None = None,
    interventions=(),
) -> list[QImage]:
    """One image per frame (forward steps, then backward ones). progress(done, total) -> False
    cancels. interventions: those the trace was made with (the cell panel replays them)."""
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ConfigError(f"width must be {MIN_WIDTH} to {MAX_WIDTH} pixels, not {width}")
    if not 0 <= unit < trace.cfg.hidden:
        raise ConfigError(f"unit must be 0 to {trace.cfg.hidden - 1}, not {unit}")
    if not 0 <= layer < trace.cfg.layers:
        raise ConfigError(f"layer must be 1 to {trace.cfg.layers}, not {layer + 1}")
    w, h = frame_size(trace, width)
    view = View(loss_mode=loss_mode, unit=unit, layer=layer)
    view.col_w = max(64.0, min((width - 32) / trace.steps, 140.0))
    shown = len(columns(width, view, trace.steps))
    todo = frames(trace, detail)
    images = []
    for k, f in enumerate(todo):
        view.frame = f
        view.detail = frame_detail(weights, trace, f, layer, unit, interventions)
        if not view.first <= f.t < view.first + shown:  # keep the current step in the picture
            view.first = max(0, min(f.t - shown // 2, trace.steps - shown))
        img = QImage(w, h, QImage.Format.Format_RGB32)
        p = QPainter(img)
        paint(p, QRectF(0, 0, w, h), trace, view)
        p.end()
        images.append(img)
        if progress is not None and progress(k + 1, len(todo)) is False:
            raise ExportCancelled("export cancelled")
    return images


def gif_bytes(images: list[QImage], frames_per_s: float = 2.0) -> bytes:
    from PIL import Image

    if not images:
        raise ConfigError("no frames to write")
    pics = []
    for img in images:
        rgb = img.convertToFormat(QImage.Format.Format_RGB888)
        raw = bytes(rgb.constBits())[: rgb.sizeInBytes()]
        pic = Image.frombuffer("RGB", (rgb.width(), rgb.height()), raw, "raw", "RGB", rgb.bytesPerLine(), 1)
        pics.append(pic.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
    out = io.BytesIO()
    duration = max(20, int(1000 / frames_per_s))
    pics[0].save(out, format="GIF", save_all=True, append_images=pics[1:], duration=duration, loop=0)
    return out.getvalue()


def save_gif(images: list[QImage], path: str | Path, frames_per_s: float = 2.0) -> None:
    """Written atomically: a failed export leaves any earlier file as it was."""
    write_atomic(Path(path), gif_bytes(images, frames_per_s))
