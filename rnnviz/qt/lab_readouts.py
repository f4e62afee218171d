"""LabReadouts: the gradient lab's words: the figures table and the hover read-outs (mixed into
LabWindow, whose figures, histories and scatter items they read)."""

from __future__ import annotations

import numpy as np

from rnnviz.core.config import ARCH_NAMES as NAMES
from rnnviz.core.lab import DECAY_FROM, DECAY_POINTS, FAR_FRACTION, HORIZON_FRACTION, has_w_hh
from rnnviz.qt.theme import ARCH_COLOURS as COLOURS
from rnnviz.qt.views.common import fmt

NA = "n/a"
NO_W_HH = "not applicable: no W_hh"
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
MODERN_WHY = (
    " minGRU, minLSTM and S6 have no W_hh: their gates read x\u209c only, so the step's state map "
    "is diagonal, its entries the decays (1\u2212z\u209c; f\u2032\u209c; exp(\u0394\u209cA) per "
    "entry of s\u209c), \u03c3_max the largest of them, never above 1. The S6's state is s\u209c "
    "(H\u00d7N) and h\u209c only its output: its curves are those of \u2016dL/ds\u209c\u2016."
)
ANSWERS_WHY = (
    "Answers (the table, and top left over training): of the held-out lines, the fraction whose last "
    "character (the value of the queried key) the model ranks first after reading the rest of the line; "
    "the other figures are measured on such lines, the loss being that of the answer. "
)


def key_html(archs) -> str:
    """The line above the plots: each model's colour, the LSTM cell path (when an LSTM trains), the
    clipped-step mark, what the S6's curves are of (when it trains)."""
    parts = [f"<b style='color:{COLOURS[a]}'>\u2501\u2501 {NAMES[a]}</b>" for a in archs]
    if "lstm" in archs:
        parts.append(f"<b style='color:{COLOURS['lstm']}'>\u254d\u254d LSTM cell path (max f\u209c)</b>")
    parts.append("\u00d7 gradient clipped")
    if "ssm" in archs:
        parts.append("S6: \u2016dL/ds\u209c\u2016 (h\u209c is no state)")
    return " &nbsp; ".join(parts + ["<span style='color:gray'>hover for exact values</span>"])


class LabReadouts:
    def _table_html(self) -> str:
        head = f"model|step|loss|decay<br>/10|horizon<br>{PCT}|horizon<br>{FAR}|mean<br>\u03c3_max|"
        head += "\u2016J_T\u22efJ_1\u2016|W_hh<br>\u00d7"
        answers = any(getattr(f, "answer_accuracy", None) is not None for f in self.figs.values())
        head += "|answers" if answers else ""
        rows = ["<tr>" + "".join(f"<th align='right'>{h}</th>" for h in head.split("|")) + "</tr>"]
        for a in self.archs:
            m, f = self.last_metrics.get(a), self.figs.get(a)
            acc = getattr(f, "answer_accuracy", None)
            cells = (
                f"<b style='color:{COLOURS[a]}'>{NAMES[a]}</b>",
                str(m.step) if m else "0",
                fmt(m.loss) if m else "\u2013",
                f"{f.decay_per_10:.2f}" if f and np.isfinite(f.decay_per_10) else "\u2013",
                f"{f.horizon:.0f}" if f else "\u2013",
                f"{f.horizon_far:.0f}" if f else "\u2013",
                fmt(f.mean_sigma) if f else "\u2013",
                fmt(f.window_gain) if f else "\u2013",
                NA if not has_w_hh(a) else f"{f.scale:.4g}" if f else "\u2013",
                *([f"{acc:.1%}" if acc is not None else "\u2013"] if answers else []),
            )
            rows.append("<tr>" + "".join(f"<td align='right'>{c}</td>" for c in cells) + "</tr>")
        first = next(iter(self.figs.values()), None)
        at, windows, window = (first.step, first.windows, first.window) if first else (0, 0, 0)
        what = "lines (each but its answer)" if answers else "windows"
        note = (
            f"Figures at step {at} on {windows} held-out {what} of {window} characters, "
            f"measured every {self.measure_every} steps and on pause. "
        )
        if not all(has_w_hh(a) for a in self.archs):
            note += f"{NA}: {NO_W_HH}. "
        if first and first.window < DECAY_FROM + DECAY_POINTS:
            note += (
                f"Decay \u2013: its fit from distance {DECAY_FROM} on takes {DECAY_POINTS} distances, "
                f"windows of {DECAY_FROM + DECAY_POINTS}+ tokens, and these have {window}: read the horizons "
                "and the curves. "
            )
        modern = MODERN_WHY if not all(has_w_hh(a) for a in self.archs) else ""
        return (
            f"<table cellspacing='0' cellpadding='3'>{''.join(rows)}</table>"
            f"<p>{note}{ANSWERS_WHY if answers else ''}{WHY}{modern}</p>"
        )

    # ---- hover read-outs -----------------------------------------------------------------
    def _on_hover(self, key: str, x: float, y: float) -> None:
        self.readouts[key].setText(self.readout_text(key, x, y))

    def readout_text(self, key: str, x: float, y: float) -> str:
        """Exact values under the mouse at data coordinates (x, y) of plot `key`."""
        if key == "sat":
            return self._sat_text(x, y)
        parts, t = [], int(round(x))
        where = f"distance {t}" if key == "grad" else f"step {t}"
        for a in self.archs:
            if key in ("loss", "decay"):
                h = (self.loss if key == "loss" else self.headline())[a]
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
