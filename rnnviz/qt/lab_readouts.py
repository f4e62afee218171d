"""LabReadouts: the gradient lab's words: the figures table and the hover read-outs (mixed into
LabWindow, whose figures, histories and scatter items they read)."""

from __future__ import annotations

import numpy as np

from rnnviz.core.lab import ARCHS, DECAY_FROM, FAR_FRACTION, HORIZON_FRACTION
from rnnviz.qt.views.common import PALETTE, fmt

NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
COLOURS = dict(zip(ARCHS, PALETTE[:3], strict=True))
PCT = f"{HORIZON_FRACTION:.0%}"
FAR = "10" + str(round(np.log10(FAR_FRACTION))).translate(
    str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
)


WHY = (
    "Decay per 10 steps (top left): decades of \u2016dL/dh\u2016 lost per 10 steps back, the slope of "
    f"the ratio curve (top right, dotted) from distance {DECAY_FROM} on: lower remembers longer. An LSTM's "
    "gradient drops fast over its first steps: it reaches h\u209c\u208b\u2081 through o\u209c, "
    "tanh\u2032(c\u209c) and the recurrent weights. Further back it travels along the cell state, "
    "multiplied only by the forget gate f\u209c (close to 1 where a unit keeps its memory), so its curve "
    f"levels off and its long range holds. The horizons (steps back above {PCT} and {FAR}) are decided "
    "by those first steps and can rank the models the other way round; the decay is not. An RNN has only "
    "the path through W_hh and tanh\u2032 and loses about as much at every distance. A GRU's update gate "
    "z\u209c near 1 copies h forward: its curve can level off too. "
    "\u03c3_max &lt; 1 at every step: the gradient vanishes; &gt; 1: it can explode (clipping fires); for "
    "an LSTM it is taken of the map of its whole state (h, c), where its memory is."
)


class LabReadouts:
    def _table_html(self) -> str:
        head = f"model|step|loss|decay<br>/10|horizon<br>{PCT}|horizon<br>{FAR}|mean<br>\u03c3_max|"
        head += "\u2016J_T\u22efJ_1\u2016|W_hh<br>\u00d7"
        rows = ["<tr>" + "".join(f"<th align='right'>{h}</th>" for h in head.split("|")) + "</tr>"]
        for a in ARCHS:
            m, f = self.last_metrics.get(a), self.figs.get(a)
            cells = (
                f"<b style='color:{COLOURS[a]}'>{NAMES[a]}</b>",
                str(m.step) if m else "0",
                fmt(m.loss) if m else "\u2013",
                f"{f.decay_per_10:.2f}" if f and np.isfinite(f.decay_per_10) else "\u2013",
                f"{f.horizon:.0f}" if f else "\u2013",
                f"{f.horizon_far:.0f}" if f else "\u2013",
                fmt(f.mean_sigma) if f else "\u2013",
                fmt(f.window_gain) if f else "\u2013",
                f"{f.scale:.4g}" if f else "\u2013",
            )
            rows.append("<tr>" + "".join(f"<td align='right'>{c}</td>" for c in cells) + "</tr>")
        first = next(iter(self.figs.values()), None)
        at, windows, window = (first.step, first.windows, first.window) if first else (0, 0, 0)
        note = (
            f"Figures at step {at} on {windows} held-out windows of {window} characters, "
            f"measured every {self.measure_every} steps and on pause. "
        )
        return f"<table cellspacing='0' cellpadding='3'>{''.join(rows)}</table><p>{note}{WHY}</p>"

    # ---- hover read-outs -----------------------------------------------------------------
    def _on_hover(self, key: str, x: float, y: float) -> None:
        self.readouts[key].setText(self.readout_text(key, x, y))

    def readout_text(self, key: str, x: float, y: float) -> str:
        """Exact values under the mouse at data coordinates (x, y) of plot `key`."""
        if key == "sat":
            return self._sat_text(x, y)
        parts, t = [], int(round(x))
        where = f"distance {t}" if key == "grad" else f"step {t}"
        for a in ARCHS:
            if key in ("loss", "decay"):
                h = (self.loss if key == "loss" else self.decays)[a]
                i = h.nearest(x)
                if i is not None:
                    where = f"step {int(h.x[i])}"
                    parts.append(f"{NAMES[a]} {fmt(h.y[i])}")
                continue
            f = self.figs.get(a)
            values = (f.grad_by_distance if key == "grad" else f.sigma_by_step) if f is not None else ()
            if 0 <= t < len(values):
                cell = f.cell_sigma if key == "sigma" and f.cell_sigma is not None else None
                parts.append(
                    f"{NAMES[a]} {fmt(values[t])}" + (f" (cell {fmt(cell[t])})" if cell is not None else "")
                )
        return f"{where}: " + " \u00b7 ".join(parts) if parts else " "

    def _sat_text(self, x: float, y: float) -> str:
        best, text = 0.03**2, " "
        for (arch, gate), item in self.sat_points.items():
            xs, ys = item.getData()
            if len(xs):
                d = (xs - x) ** 2 + (ys - y) ** 2
                j = int(np.argmin(d))
                if d[j] < best:
                    best = d[j]
                    text = f"{NAMES[arch]} {gate}, unit {j}: left-saturated {xs[j]:.0%}, right {ys[j]:.0%}"
        return text
