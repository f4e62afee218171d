"""The main window's views and panels, as the controllers that save and restore them see them."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QTabWidget

from rnnviz.qt.controls import ControlsPanel
from rnnviz.qt.views.curves import TrainingCurves
from rnnviz.qt.views.figures import FiguresPanel
from rnnviz.qt.views.grad_norms import GradNormHistory
from rnnviz.qt.views.internals import InternalsView
from rnnviz.qt.views.patching import PatchingView
from rnnviz.qt.views.samples import SamplesView
from rnnviz.qt.views.trajectory import TrajectoryView
from rnnviz.qt.views.typing_panel import TypingPanel
from rnnviz.qt.views.units_view import UnitsView
from rnnviz.qt.views.unrolled import UnrolledPanel
from rnnviz.qt.views.weights import WeightView


@dataclass(frozen=True)
class WindowViews:
    controls: ControlsPanel
    typing: TypingPanel
    internals: InternalsView
    unrolled: UnrolledPanel
    patching: PatchingView
    inside: QTabWidget  # Inside, Unrolled, Patching
    curves: TrainingCurves
    gradnorms: GradNormHistory
    weights: WeightView
    samples: SamplesView
    figures: FiguresPanel
    units: UnitsView
    trajectory: TrajectoryView
    tabs: QTabWidget  # Loss, Grad. norms, Weights, Samples, Preset, Units, Trajectory
