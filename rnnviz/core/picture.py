"""A trace as a picture without Qt (numpy + pillow): the heatmaps of h (and c) of every layer and the
gates of the last one, time steps left to right with every token labelled, units top to bottom.
Jupyter shows it for a Trace (`Trace._repr_png_`).

Colours as in the app: signed values (h, c, candidates, the SSM's B and C) on a blue - grey - gold
diverging map with symmetric levels, gates in [0, 1] on viridis, and positive values with no upper
bound (the SSM's Delta and its channel state norms) on viridis from 0 to their largest; each block
says its range.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Anchors of the maps (0..1 -> RGB), interpolated linearly.
DIVERGING = np.array([[33, 102, 172], [146, 197, 222], [235, 235, 235], [244, 208, 63], [178, 124, 0]], float)
VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float)
SIGNED = ("g", "n", "B", "C")  # tanh candidates in [-1, 1], and the SSM's signed B_t, C_t
POSITIVE = ("delta", "s")  # >= 0 with no upper bound: 0 to the largest value drawn
CELL_W, MIN_ROW, BLOCK_H, LABEL_W, GAP = 14, 1, 96, 86, 18
MAX_STEPS = 200  # a longer trace is drawn over its last 200 steps (the picture says so)


def colours(values: np.ndarray, lo: float, hi: float, anchors: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 colours of `values` on the map between lo and hi (NaN: white)."""
    x = np.clip((np.nan_to_num(values, nan=lo) - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
    pos = x * (len(anchors) - 1)
    k = np.minimum(pos.astype(int), len(anchors) - 2)
    f = (pos - k)[..., None]
    rgb = anchors[k] * (1 - f) + anchors[k + 1] * f
    rgb[np.isnan(values)] = 255
    return rgb.astype(np.uint8)


def blocks(tr) -> list[tuple[str, np.ndarray, str]]:
    """(title, (rows, steps) values, kind: "signed", "gate" or "positive") for every heatmap drawn:
    h (and c, or the SSM's channel state norms ||s_t[u, :]||) of every layer, the last one's gates."""
    out = []
    for n in range(tr.cfg.layers):
        out.append((f"h, layer {n + 1}", tr.h[n].T, "signed"))
        if tr.c is not None:
            out.append((f"c, layer {n + 1}", tr.c[n].T, "signed"))
        if tr.state is not None:
            out.append((f"||s||, layer {n + 1}", np.linalg.norm(tr.state[n], axis=-1).T, "positive"))
    last = tr.cfg.layers - 1
    for g, v in tr.gates.items():
        kind = "signed" if g in SIGNED else "positive" if g in POSITIVE else "gate"
        out.append((f"{g}, layer {last + 1}", v[last].T, kind))
    return out


def levels(v: np.ndarray, kind: str) -> tuple[float, float]:
    """The colour map's ends: symmetric for signed values, 0..max for positive ones, 0..1 for gates."""
    m = float(np.nanmax(np.abs(v))) if v.size else 1.0
    if kind == "signed":
        return -max(m, 1e-12), max(m, 1e-12)
    return (0.0, max(m, 1e-12)) if kind == "positive" else (0.0, 1.0)


def labels(tr) -> list[str]:
    """Every token as drawn under its column: a space as a middle dot (pillow's font has no \u2423),
    a line break as \u21b5 is not in it either: as a pilcrow; outside the vocabulary as ?."""
    unknown, shown = tr.unknown, {" ": "\u00b7", "\n": "\u00b6", "\t": "\u00bb"}
    return ["?" if unknown[t] else shown.get(tok, tok) for t, tok in enumerate(tr.tokens)]


def trace_png(tr, max_step_width: int = 80) -> bytes:
    """The picture as PNG bytes: each step as wide as its widest token (at most max_step_width px:
    longer words are cut with an ellipsis)."""
    font = _font()
    first = max(tr.steps - MAX_STEPS, 0)
    names = labels(tr)[first:]
    widest = max((font.getlength(n) for n in names), default=0.0)
    width_per_step = int(min(max(CELL_W, widest + 4), max_step_width))
    names = [_fit(n, width_per_step - 2, font) for n in names]
    T = len(names)
    parts = [(title, v[:, first:], kind) for title, v, kind in blocks(tr)]
    rows = [max(MIN_ROW, BLOCK_H // max(v.shape[0], 1)) for _, v, _ in parts]
    heights = [r * v.shape[0] for r, (_, v, _) in zip(rows, parts, strict=True)]
    W = LABEL_W + T * width_per_step + 8
    H = sum(heights) + GAP * len(parts) + 28 + (16 if first else 0)
    img = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(img)
    y = 0
    for (title, v, kind), row, h in zip(parts, rows, heights, strict=True):
        lo, hi = levels(v, kind)
        rgb = colours(v, lo, hi, DIVERGING if kind == "signed" else VIRIDIS)
        draw.text((2, y + 2), title, fill="black", font=font)
        draw.text((2, y + 14), f"{lo:.2g}..{hi:.2g}", fill="gray", font=font)
        tile = Image.fromarray(np.repeat(np.repeat(rgb, row, axis=0), width_per_step, axis=1), "RGB")
        img.paste(tile, (LABEL_W, y + GAP))
        y += h + GAP
    for t, name in enumerate(names):  # every token, under its column
        draw.text((LABEL_W + t * width_per_step + 2, y + 4), name, fill="black", font=font)
    if first:
        draw.text((LABEL_W, y + 20), f"the last {T} of {tr.steps} steps", fill="gray", font=font)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _font():
    """Pillow's own scalable font (no system fonts needed); its bitmap font on old Pillows."""
    try:
        return ImageFont.load_default(size=11)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _fit(text: str, width: float, font) -> str:
    """`text`, cut with an ellipsis to fit `width` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "\u2026") > width:
        text = text[:-1]
    return text + "\u2026"
