"""UnitsController: inside the units, for MainWindow: the neuron finder and the state trajectory
(the corpus read by the model on a thread, qt.analysis), and interventions (a banner says so; one
click clears them)."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from rnnviz.core.intervene import Intervention, accept_interventions
from rnnviz.qt.analysis import CorpusAnalysis
from rnnviz.qt.notifier import Notifier
from rnnviz.qt.sessions import TrainingSession
from rnnviz.qt.timeline import TimelineController
from rnnviz.qt.typed_text import TypedText
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.trajectory import TrajectoryView
from rnnviz.qt.views.units_view import UnitsView

BANNER_STYLE = "background:#FFE9A8; color:#222; padding:4px; border:1px solid #E69F00;"


class UnitsController(QObject):
    def __init__(
        self,
        session: TrainingSession,
        text: TypedText,
        timeline: TimelineController,
        notify: Notifier,
        units: UnitsView,
        trajectory: TrajectoryView,
        internals: InternalsView,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.session, self.text, self.timeline, self.notify = session, text, timeline, notify
        self.units, self.trajectory = units, trajectory
        self.analysis = CorpusAnalysis(self)
        self.analysis.ready.connect(units.set_analysis)
        self.analysis.ready.connect(trajectory.set_analysis)
        self.analysis.failed.connect(units.say)
        units.recompute_requested.connect(self.read_corpus)
        units.intervention_requested.connect(self.add_intervention)
        units.interventions_cleared.connect(self.clear_interventions)
        internals.unit_clicked.connect(self._on_unit_clicked)
        self.interventions: list[Intervention] = []  # those active, in the order they were added
        self.read_when_shown = False  # the corpus is read when the Units or Trajectory tab shows
        self.banner = QWidget()
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        clear = QPushButton("Clear")
        clear.setToolTip("Remove every intervention: the network as trained")
        clear.clicked.connect(self.clear_interventions)
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(6, 2, 6, 2)
        row.addWidget(self.banner_text, 1)
        row.addWidget(clear)
        self.banner.hide()

    def follow(self, info) -> None:
        """A new session: no interventions, the corpus to be read again."""
        self.interventions.clear()
        self.text.probe.interventions = ()
        self._show_banner()
        self.analysis.reset()
        self.units.set_model(info.model_cfg)
        self.trajectory.set_analysis(None)
        self.read_when_shown = True

    # ---- the corpus, read by the model --------------------------------------------------------
    def read_corpus(self) -> None:
        """Read the session's corpus with the weights the views show (the timeline's, or the latest)."""
        w, info, latest = self.text.probe.weights, self.session.info, self.session.latest
        if w is None or info is None or info.model_cfg.regression:
            return
        # Before the first snapshot, the steps the loaded model was trained for (not 0).
        pinned = self.timeline.pinned
        step = pinned[0] if pinned else (latest.weights_step if latest else info.steps)
        self.read_when_shown = False
        self.units.say(f"reading {info.corpus.name} with the weights of step {step:,}\u2026")
        self.analysis.request(w, info.corpus, step)

    def tab_shown(self) -> None:
        if self.read_when_shown and (self.units.isVisible() or self.trajectory.isVisible()):
            self.read_corpus()

    def _on_unit_clicked(self, layer: int, unit: int, state: str) -> None:
        self.units.show_unit(layer, unit, state)
        if not self.units.isVisible():
            self.notify.status(
                f"layer {layer + 1}, unit {unit} ({state}): its activation over the corpus is in the "
                "Units tab"
            )

    # ---- interventions ------------------------------------------------------------------------
    def add_intervention(self, iv: Intervention) -> None:
        self.add_interventions([iv])

    def add_interventions(self, ivs: list, problems: tuple[str, ...] = (), source: str = "") -> None:
        """Add those of `ivs` that are valid and agree with the ones active (at most
        MAX_INTERVENTIONS), then re-trace once; every problem (and `problems`, found by the caller)
        is told in one message, prefixed with `source`."""
        info = self.session.info
        if info is None:  # (an intervention changes the views, not the model: nothing to save)
            return
        accepted, refused = accept_interventions(ivs, info.model_cfg, self.interventions)
        refused = [*problems, *refused]
        if refused:  # the first problem, and the last (where a cap is told)
            more = f"; and {len(refused) - 1} more (the last: {refused[-1]})" if len(refused) > 1 else ""
            self.notify.warn(f"{source + ': ' if source else ''}not applied: {refused[0]}{more}", dialog=True)
        if accepted:
            self.interventions.extend(accepted)
            self.apply_interventions()

    def clear_interventions(self) -> None:
        if self.interventions:
            self.interventions.clear()
            self.apply_interventions()

    def apply_interventions(self) -> None:
        self.text.probe.interventions = tuple(self.interventions)
        self._show_banner()
        self.text.retrace()
        self.text.sample(force=True)

    def _show_banner(self) -> None:
        self.banner.setVisible(bool(self.interventions))
        if self.interventions:
            ivs = self.interventions
            what = "; ".join(iv.describe() for iv in ivs[:3])
            what += f"; and {len(ivs) - 3} more" if len(ivs) > 3 else ""
            self.banner_text.setText(
                f"<b>Intervention active</b> \u2014 {what}. The typed text's views, predictions, "
                "continuation and samples show the changed network (training is not affected)."
            )
