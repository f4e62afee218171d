"""`rnnviz animate MODEL --text TEXT --out FILE.gif`: the step-through of the forward pass and of
backpropagation through time, rendered frame by frame (no window, no screen recording)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rnnviz.cli.common import check_writable, known_tokens, load_model
from rnnviz.core.errors import ConfigError


def add_parser(sub) -> None:
    a = sub.add_parser("animate", help="render the step-through of a text as an animated GIF")
    a.add_argument("model")
    a.add_argument("--text", required=True)
    a.add_argument("--out", required=True, help="the GIF to write")
    a.add_argument("--width", type=int, default=1280, help="pixels (640-4096; default 1280)")
    a.add_argument("--fps", type=float, default=2.0, help="frames per second (default 2)")
    a.add_argument("--detail", action="store_true", help="a frame for every gate of every step")
    a.add_argument("--unit", type=int, default=0, help="the unit the cell panel explains")
    a.add_argument("--layer", type=int, default=1, help="the layer the cell panel explains (from 1)")
    a.add_argument("--target", help="token whose -log p at the last step is differentiated")
    a.add_argument("--unknown", choices=("error", "unk"), default="error")
    a.set_defaults(func=run)


def run(a) -> int:

    out = Path(a.out)
    if out.suffix.lower() != ".gif":
        raise ConfigError(f"--out must name a .gif file, not {out.name}")
    if not 0 < a.fps <= 50:
        raise ConfigError(f"--fps must be in (0, 50], not {a.fps}")
    check_writable(out)
    m = load_model(a.model)
    known_tokens(m, a.text, a.unknown, "--text")
    m.token_id(a.target, "--target")
    tr = m.trace(a.text, a.target, unknown=a.unknown)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # frames are drawn off screen anyway
    from PySide6.QtGui import QGuiApplication

    from rnnviz.qt.animate import render_frames, save_gif

    _app = QGuiApplication.instance() or QGuiApplication(["rnnviz"])
    mode = m.train_config.get("loss_mode", "many-to-many")
    images = render_frames(
        tr, m.trace_weights, mode, detail=a.detail, width=a.width, unit=a.unit, layer=a.layer - 1
    )
    save_gif(images, out, a.fps)
    print(f"wrote {out}: {len(images)} frames, {images[0].width()}x{images[0].height()}", file=sys.stderr)
    return 0
