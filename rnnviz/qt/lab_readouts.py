"""LabReadouts: the gradient lab's words: the figures table and the hover read-outs (mixed into
LabWindow, whose figures, histories and scatter items they read)."""

from __future__ import annotations

import numpy as np

from rnnviz.core.lab import ARCHS, HORIZON_FRACTION
from rnnviz.qt.views.common import PALETTE, fmt

NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
COLOURS = dict(zip(ARCHS, PALETTE[:3], strict=True))
PCT = f"{HORIZON_FRACTION:.0%}"


class LabReadouts:
    def _table_html(self) -> str:
        head = "model|step|loss|horizon|mean \u03c3_max|\u2016J_T\u22efJ_1\u2016|W_hh \u00d7".split("|")
        rows = ["<tr>" + "".join(f"<th align='right'>{h}</th>" for h in head) + "</tr>"]
        for a in ARCHS:
            m, f = self.last_metrics.get(a), self.figs.get(a)
            cells = (
                f"<b style='color:{COLOURS[a]}'>{NAMES[a]}</b>",
                str(m.step) if m else "0",
                fmt(m.loss) if m else "\u2013",
                f"{f.horizon:.1f}" if f else "\u2013",
                fmt(f.mean_sigma) if f else "\u2013",
                fmt(f.window_gain) if f else "\u2013",
                f"{f.scale:.4g}" if f else "\u2013",
            )
            rows.append("<tr>" + "".join(f"<td align='right'>{c}</td>" for c in cells) + "</tr>")
        lab = self.lab
        at = next(iter(self.figs.values())).step if self.figs else 0
        note = (
            f"Figures at step {at} on {len(lab.positions) if lab else 0} held-out windows of "
            f"{lab.window if lab else 0} characters, measured every {self.measure_every} steps and on pause. "
            f"Horizon: steps back that \u2016dL/dh\u209c\u2016 stays above {PCT} of its value at the target. "
            "\u03c3_max &lt; 1 at every step: the gradient vanishes; &gt; 1: it can explode (clipping fires)."
        )
        return f"<table cellspacing='0' cellpadding='4'>{''.join(rows)}</table><p>{note}</p>"

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
            if key in ("loss", "horizon"):
                h = (self.loss if key == "loss" else self.horizons)[a]
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
