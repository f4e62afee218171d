"""UnitsView, the neuron finder: one unit's activation over a stretch of the corpus as coloured
text (as in Karpathy et al.'s figures) with its contexts at both ends (furthest from its mean in
the direction of its correlation with the feature, and the other way); units ranked by how they
follow a feature (a regular expression or a built-in one); and interventions on the unit.

The corpus is read by the model on another thread (qt.analysis); this view only draws.
"""

from __future__ import annotations

import html
import threading

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from rnnviz.core.config import ModelConfig
from rnnviz.core.errors import RnnvizError
from rnnviz.core.intervene import GATE_RANGE, H_LIMIT, STATES, Intervention, changeable
from rnnviz.core.units import FEATURES, WARMUP, both_ends, rank_units, token_feature
from rnnviz.qt.views.common import lut, signed_cmap

STRETCH = 1500  # characters of corpus shown as coloured text
RANKED = 40  # units listed
# How the state and intervention boxes name what they offer (the data is core's name)
NAMES = {
    "s": "s (state norm)",  # the SSM: a channel's state row's norm ||s_t[u, :]||
    "delta": "\u0394 (step)",
}
CLAMP_NAMES = {"s": "s (state row)"}
MINLSTM_NAMES = {"f": "f\u2032 (normalised)", "i": "i\u2032 (normalised)"}


def _fill(box: QComboBox, items, names: dict) -> None:
    """Items named for people, each holding core's name as its data."""
    box.blockSignals(True)
    box.clear()
    for item in items:
        box.addItem(names.get(item, item), item)
    box.blockSignals(False)


def _colour(v: float, scale: float, lut: np.ndarray) -> str:
    """A token's style: its activation's colour behind it, and black or white ink, whichever reads
    (the middle of a diverging map is near white, also under a dark theme's light text)."""
    k = int(np.clip((v / scale + 1) / 2 * 255, 0, 255)) if scale > 0 else 128
    r, g, b = (int(x) for x in lut[k][:3])
    ink = "#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff"
    return f"background-color:#{r:02x}{g:02x}{b:02x}; color:{ink}"


def _context_line(c) -> str:
    """A context: the activation's deviation from the unit's mean, the token underlined in its text."""
    before, tok, after = (html.escape(x).replace("\n", "\u21b5") for x in (c.before, c.token, c.after))
    return f"{c.deviation:+.3f}  \u2026{before}<b><u>{tok}</u></b>{after}\u2026"


class UnitsView(QWidget):
    recompute_requested = Signal()
    intervention_requested = Signal(object)  # core.intervene.Intervention
    interventions_cleared = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.analysis = None
        self.cfg: ModelConfig | None = None
        self.ranked_r: dict[tuple[int, int, str], float] = {}  # (layer, unit, state) -> r of the last ranking
        self._lut = lut(signed_cmap())
        self.status = QLabel("The corpus is read by the model when this tab is first shown.")
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(10)
        self.recompute = QPushButton("Read again")
        self.recompute.setToolTip("Read the corpus with the weights the views show now")
        self.recompute.clicked.connect(self.recompute_requested)
        self.feature = QComboBox()
        self.feature.setEditable(True)
        for name, what in FEATURES.items():
            self.feature.addItem(name)
            self.feature.setItemData(self.feature.count() - 1, what, Qt.ItemDataRole.ToolTipRole)
        self.feature.setToolTip(
            "A built-in feature, or any regular expression (1 where a match covers the position)"
        )
        self.feature.lineEdit().returnPressed.connect(self.rank)
        rank = QPushButton("Rank units")
        rank.clicked.connect(self.rank)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["layer", "unit", "state", "r"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.cellClicked.connect(self._on_row)
        self.layer, self.unit, self.state = QSpinBox(), QSpinBox(), QComboBox()
        self.layer.setPrefix("layer ")
        self.layer.setMinimum(1)
        self.unit.setPrefix("unit ")
        for box in (self.layer, self.unit):
            box.valueChanged.connect(self._show)
        self.state.currentIndexChanged.connect(self._show)
        self.text = QTextBrowser()
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.contexts = QLabel(" ")
        self.contexts.setTextFormat(Qt.TextFormat.RichText)
        self.contexts.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.contexts.setWordWrap(True)
        self._ranking: tuple[threading.Thread, dict] | None = None  # the ranking under way
        self._rank_next = False
        self._rank_timer = QTimer(self)
        self._rank_timer.setInterval(30)
        self._rank_timer.timeout.connect(self._rank_done)
        self._build_layout(rank, self._intervention_row())

    def _build_layout(self, rank: QPushButton, intervene: QWidget) -> None:
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.recompute)
        lay.addLayout(top)
        row = QHBoxLayout()
        row.addWidget(QLabel("Feature"))
        row.addWidget(self.feature, 1)
        row.addWidget(rank)
        lay.addLayout(row)
        lay.addWidget(self.table, 2)
        pick = QHBoxLayout()
        for w in (self.layer, self.unit, self.state):
            pick.addWidget(w)
        pick.addStretch(1)
        lay.addLayout(pick)
        lay.addWidget(self.text, 3)
        lay.addWidget(QLabel("Contexts at both ends (deviation from the unit's mean):"))
        lay.addWidget(self.contexts)
        lay.addWidget(intervene)

    def _intervention_row(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 4, 0, 0)
        self.clamp_h, self.force_gate = QRadioButton("clamp"), QRadioButton("force")
        self.clamp_h.setToolTip("Clamp the unit's h (or the S6's state row s) to a value at every step")
        self.force_gate.setToolTip("Force a gate of the unit to a value at every step")
        self.clamp_h.setChecked(True)
        self.clamp_what = QComboBox()  # h, and the SSM's state s (core.intervene.STATES)
        self.clamp_what.setToolTip("h: the unit's output; s: the SSM channel's whole state row (N numbers)")
        self.h_value = QDoubleSpinBox()
        self.h_value.setRange(-H_LIMIT, H_LIMIT)
        self.h_value.setSingleStep(0.1)
        self.gate = QComboBox()  # the gates an intervention can force (core.intervene.changeable)
        self.gate_value = QDoubleSpinBox()
        self.gate_value.setRange(0.0, 1.0)
        self.gate_value.setSingleStep(0.1)
        self.gate_value.setValue(1.0)
        self.gate.currentIndexChanged.connect(self._on_gate)
        for choice in (self.clamp_what, self.gate):  # every choice read whole, the values' boxes narrower
            choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.whole_layer = QCheckBox("every unit of the layer")
        apply = QPushButton("Intervene")
        apply.setToolTip("Change the network for the typed text, its continuation and the samples")
        apply.clicked.connect(self._on_apply)
        clear = QPushButton("Clear all")
        clear.setToolTip("Remove every intervention: the network as trained")
        clear.clicked.connect(self.interventions_cleared)
        grid.addWidget(QLabel("Intervene on this unit:"), 0, 0, 1, 2)
        grid.addWidget(self.whole_layer, 0, 2, 1, 2)
        for row, (radio, what, value, button) in enumerate(
            (
                (self.clamp_h, self.clamp_what, self.h_value, apply),
                (self.force_gate, self.gate, self.gate_value, clear),
            )
        ):  # clamp [h] [value] Intervene / force [z] [value] Clear all
            for col, w in enumerate((radio, what, value, button)):
                grid.addWidget(w, row + 1, col)
        grid.setColumnStretch(1, 1)  # the choices get the room (a narrow pane at 1366 x 768)
        return box

    # ---- model, corpus and the unit shown ------------------------------------------------------
    def set_model(self, cfg: ModelConfig) -> None:
        self.cfg = cfg
        self.layer.setMaximum(cfg.layers)
        self.unit.setMaximum(cfg.hidden - 1)
        _fill(self.state, {"lstm": ("h", "c"), "ssm": ("h", "s")}.get(cfg.arch, ("h",)), NAMES)
        names = MINLSTM_NAMES if cfg.arch == "minlstm" else NAMES
        what = changeable(cfg)  # exactly what an Intervention may set in this cell
        _fill(self.clamp_what, [w for w in what if w in STATES], CLAMP_NAMES)
        _fill(self.gate, [w for w in what if w not in STATES], names)
        self.force_gate.setEnabled(self.gate.count() > 0)
        self._on_gate()
        self.set_analysis(None)

    @Slot(object)
    def set_analysis(self, analysis) -> None:
        self.analysis = analysis
        if analysis is None:
            self.table.setRowCount(0)
            self.ranked_r = {}
            self.text.clear()
            self.contexts.setText(" ")
            return
        n = analysis.states.h.shape[1]
        self.status.setText(
            f"{analysis.corpus}: the first {n:,} tokens read with the weights of step {analysis.step:,}"
        )
        self._show()

    def refresh_colormaps(self) -> None:
        """Follow the colour-map preference: the coloured text is drawn again."""
        self._lut = lut(signed_cmap())
        self._show()

    def say(self, message: str) -> None:
        self.status.setText(message)

    def show_unit(self, layer: int, unit: int, state: str = "h") -> None:
        """layer from 0."""
        for box, v in ((self.layer, layer + 1), (self.unit, unit)):
            box.blockSignals(True)
            box.setValue(v)
            box.blockSignals(False)
        if self.state.findData(state) >= 0:
            self.state.blockSignals(True)
            self.state.setCurrentIndex(self.state.findData(state))
            self.state.blockSignals(False)
        self._show()

    def chosen(self) -> tuple[int, int, str]:
        """(layer from 0, unit, state: "h", "c" or "s")."""
        return self.layer.value() - 1, self.unit.value(), self.state.currentData() or "h"

    def _show(self, *_args) -> None:
        a = self.analysis
        if a is None:
            return
        layer, unit, state = self.chosen()
        st = a.states
        acts = st.of(state)[layer, :, unit]
        scale = float(np.abs(acts).max())
        r = self.ranked_r.get((layer, unit, state))
        top, other = both_ends(st, layer, unit, state, 1.0 if r is None else r, k=5)
        self._show_text(acts, scale, top[0].position if top else 0)
        mean = float(acts[WARMUP:].mean()) if len(acts) > WARMUP else float(acts.mean())
        up = r is None or r >= 0
        why = "" if r is None else f" (r = {r:+.3f})"
        lines = [f"<i>furthest {'above' if up else 'below'} its mean {mean:+.3f}{why}:</i>"]
        lines += [_context_line(c) for c in top]
        lines += [f"<i>the other end, furthest {'below' if up else 'above'}:</i>"]
        lines += [_context_line(c) for c in other]
        self.contexts.setText("<br>".join(lines))

    def _show_text(self, acts: np.ndarray, scale: float, around: int) -> None:
        """The corpus around position `around` with each token on its activation's colour."""
        st = self.analysis.states
        spans = st.spans
        start_char = max(0, int(spans[around, 0]) - STRETCH // 3)
        first = int(np.searchsorted(spans[:, 0], start_char))
        last = int(np.searchsorted(spans[:, 0], start_char + STRETCH))
        parts, at = [], int(spans[first, 0]) if first < len(spans) else 0
        for p in range(first, last):
            s, e = spans[p]
            if s > at:
                parts.append(html.escape(st.text[at:s]).replace("\n", "<br>"))
            tok = html.escape(st.text[s:e]).replace("\n", "\u21b5<br>")
            parts.append(f"<span style='{_colour(acts[p], scale, self._lut)}'>{tok}</span>")
            at = e
        self.text.setHtml(f"<div style='line-height:140%'>{''.join(parts)}</div>")

    # ---- ranking --------------------------------------------------------------------------------
    def rank(self) -> None:
        """Rank the units by the feature, on a thread (a regular expression is matched in a child
        process with a time limit, core.units.regex_cover): the window never freezes. One ranking at
        a time; one asked for meanwhile runs next."""
        a = self.analysis
        feature = self.feature.currentText().strip()
        if a is None or not feature:
            self.say("Nothing to rank yet: the corpus is being read.")
            return
        if self._ranking is not None:
            self._rank_next = True
            return
        job: dict = {"analysis": a, "feature": feature}

        def work() -> None:
            try:
                values, kind = token_feature(a.states, feature)
                job["result"] = (len(values), kind, rank_units(a.states, values)[:RANKED])
            except RnnvizError as exc:
                job["error"] = str(exc)
            except MemoryError:
                job["error"] = "not enough memory to rank the units by this feature"

        self._ranking = (threading.Thread(target=work, name="rnnviz-rank", daemon=True), job)
        self._ranking[0].start()
        self.say(f"ranking the units by {feature!r}\u2026")
        self._rank_timer.start()

    def ranking(self) -> bool:
        return self._ranking is not None

    def _rank_done(self) -> None:
        thread, job = self._ranking
        if thread.is_alive():
            return
        self._rank_timer.stop()
        self._ranking = None
        if job["analysis"] is self.analysis:  # (a corpus read again meanwhile: that ranking is stale)
            if "error" in job:
                self.say(job["error"])
            elif "result" in job:
                self._show_ranking(job["feature"], *job["result"])
        if self._rank_next:
            self._rank_next = False
            self.rank()

    def _show_ranking(self, feature: str, positions: int, kind: str, ranked: list) -> None:
        self.ranked_r = {(s.layer, s.unit, s.state): s.r for s in ranked}
        self.table.setRowCount(len(ranked))
        for r, s in enumerate(ranked):
            for c, v in enumerate((str(s.layer + 1), str(s.unit), s.state, f"{s.r:+.3f}")):
                self.table.setItem(r, c, QTableWidgetItem(v))
        self.say(f"units ranked by their correlation with the {kind} feature {feature!r} "
                 f"over {positions:,} positions")  # fmt: skip
        if ranked:
            self.table.selectRow(0)
            self._on_row(0, 0)

    def _on_row(self, row: int, _col: int) -> None:
        items = [self.table.item(row, c) for c in range(3)]
        if all(items):
            self.show_unit(int(items[0].text()) - 1, int(items[1].text()), items[2].text())

    # ---- interventions --------------------------------------------------------------------------
    def _on_gate(self, *_args) -> None:
        """The value box takes what the gate can be (core.intervene.GATE_RANGE: the SSM's step
        size Delta from 0 to 10; a tanh candidate from -1 to 1; the rest from 0 to 1)."""
        lo, hi = GATE_RANGE.get(self.gate.currentData() or "", (0.0, 1.0))
        self.gate_value.setRange(lo, hi)

    def _on_apply(self) -> None:
        layer, unit, _ = self.chosen()
        units = None if self.whole_layer.isChecked() else (unit,)
        if self.clamp_h.isChecked():
            iv = Intervention(layer, self.clamp_what.currentData() or "h", self.h_value.value(), units)
        else:
            iv = Intervention(layer, self.gate.currentData(), self.gate_value.value(), units)
        self.intervention_requested.emit(iv)
