"""UnitActions: inside the units, for MainWindow: the neuron finder and the state trajectory (the
corpus read by the model on a thread, qt.analysis), interventions (a banner says so; one click
clears them), and the training timeline that moves every view of the typed text to an earlier
step's weights."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from rnnviz.core.errors import RnnvizError
from rnnviz.core.intervene import accept_interventions
from rnnviz.qt.analysis import CorpusAnalysis
from rnnviz.qt.timeline import Timeline, TimelineBar
from rnnviz.qt.views.trajectory import TrajectoryView
from rnnviz.qt.views.units_view import UnitsView

BANNER_STYLE = "background:#FFE9A8; color:#222; padding:4px; border:1px solid #E69F00;"


class UnitActions:
    """Mixed into MainWindow (uses its tabs, internals, probe, worker, latest and status bar)."""

    def _build_units(self) -> tuple[QWidget, QWidget]:
        """The Units and Trajectory tabs; returns the intervention banner and the timeline bar."""
        self.units, self.trajectory = UnitsView(), TrajectoryView()
        self.tabs.addTab(self.units, "Units")
        self.tabs.addTab(self.trajectory, "Trajectory")
        self.analysis = CorpusAnalysis(self)
        self.analysis.ready.connect(self.units.set_analysis)
        self.analysis.ready.connect(self.trajectory.set_analysis)
        self.analysis.failed.connect(self.units.say)
        self.units.recompute_requested.connect(self.read_corpus)
        self.units.intervention_requested.connect(self.add_intervention)
        self.units.interventions_cleared.connect(self.clear_interventions)
        self.internals.unit_clicked.connect(self._on_unit_clicked)
        self.interventions: list = []
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
        self.timeline = Timeline()
        self.timeline_bar = TimelineBar(self.timeline)
        self.timeline_bar.moved.connect(self._on_timeline)
        self.timeline_bar.train_from.connect(self._train_from)
        self.pinned: tuple[int, dict] | None = None  # (updates, weights) the views show, else live
        return self.banner, self.timeline_bar

    # ---- sessions --------------------------------------------------------------------------
    def _units_follow(self, trainer) -> None:
        """A new session: no interventions, an empty timeline, the corpus to be read again."""
        self.interventions.clear()
        self.probe.interventions = ()
        self._show_banner()
        self.timeline.clear()
        self.pinned = None
        self.timeline_bar.refresh()
        self.analysis.reset()
        self.units.set_model(trainer.model_cfg)
        self.trajectory.set_analysis(None)
        self._read_when_shown = True

    def _keep_checkpoint(self, snap) -> None:
        if self.timeline.offer(snap):
            self.timeline_bar.refresh()

    # ---- the corpus, read by the model --------------------------------------------------------
    def read_corpus(self) -> None:
        """Read the session's corpus with the weights the views show (the timeline's, or the latest)."""
        w, trainer = self.probe.weights, self.worker.info if self.worker else None
        if w is None or trainer is None or trainer.model_cfg.regression:
            return
        # Before the first snapshot, the steps the loaded model was trained for (not 0).
        step = self.pinned[0] if self.pinned else (self.latest.weights_step if self.latest else trainer.steps)
        self._read_when_shown = False
        self.units.say(f"reading {trainer.corpus.name} with the weights of step {step:,}\u2026")
        self.analysis.request(w, trainer.corpus, step)

    def _units_tab_shown(self) -> None:
        if getattr(self, "_read_when_shown", False) and (
            self.units.isVisible() or self.trajectory.isVisible()
        ):
            self.read_corpus()

    def _on_unit_clicked(self, layer: int, unit: int, state: str) -> None:
        self.units.show_unit(layer, unit, state)
        if not self.units.isVisible():
            self.statusBar().showMessage(
                f"layer {layer + 1}, unit {unit} ({state}): its activation over the corpus is in the "
                "Units tab",
                8000,
            )

    # ---- interventions ------------------------------------------------------------------------
    def add_intervention(self, iv) -> None:
        self.add_interventions([iv])

    def add_interventions(self, ivs: list, problems: tuple[str, ...] = (), source: str = "") -> None:
        """Add those of `ivs` that are valid and agree with the ones active (at most
        MAX_INTERVENTIONS), then re-trace once; every problem (and `problems`, found by the caller)
        is told in one message, prefixed with `source`."""
        trainer = self.worker.info if self.worker else None
        if trainer is None:  # (an intervention changes the views, not the model: nothing to save)
            return
        accepted, refused = accept_interventions(ivs, trainer.model_cfg, self.interventions)
        refused = [*problems, *refused]
        if refused:  # the first problem, and the last (where a cap is told)
            more = f"; and {len(refused) - 1} more (the last: {refused[-1]})" if len(refused) > 1 else ""
            self._warn(f"{source + ': ' if source else ''}not applied: {refused[0]}{more}", dialog=True)
        if accepted:
            self.interventions.extend(accepted)
            self._apply_interventions()

    def clear_interventions(self) -> None:
        if self.interventions:
            self.interventions.clear()
            self._apply_interventions()

    def _apply_interventions(self) -> None:
        self.probe.interventions = tuple(self.interventions)
        self._show_banner()
        self._retrace()
        self._sample(force=True)

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

    # ---- the training timeline ----------------------------------------------------------------
    def _on_timeline(self, point) -> None:
        self.pinned = point
        snap = self.latest
        if snap is None:
            return
        weights = snap.weights if point is None else point[1]
        self.probe.set_weights(snap.model_cfg, snap.vocab, weights)
        if self.weights.isVisible():
            self.weights.set_weights(weights)
        self._retrace()
        self.curves.mark_step(None if point is None else point[0])
        if point is not None:
            self.statusBar().showMessage(
                f"the typed text's views show the weights of step {point[0]:,} (training goes on)", 8000
            )

    def _train_from(self, point) -> None:
        """A new session from a checkpoint: the same data, settings and seed."""
        trainer = self.worker.info if self.worker else None
        if trainer is None or not self.may_discard("training from an earlier step"):
            return
        step, weights = point
        try:
            self._start(self.spec_going_on(weights, step))
        except RnnvizError as exc:
            self._warn(str(exc), dialog=True)
            return
        self.statusBar().showMessage(f"training on from step {step:,}: press Play", 8000)
