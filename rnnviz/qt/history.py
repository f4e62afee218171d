"""History: the training curves' and gradient norms' history, as a session file holds it (arrays by
"curves/..." and "gradnorms/..." keys): taken up to a step, and put back."""

from __future__ import annotations

from rnnviz.qt.views.curves import TrainingCurves
from rnnviz.qt.views.grad_norms import GradNormHistory


class History:
    def __init__(self, curves: TrainingCurves, gradnorms: GradNormHistory):
        self.curves, self.gradnorms = curves, gradnorms

    def until(self, step: int) -> dict:
        """The history of the steps up to `step` (the weights travel a few steps behind the curves)."""
        history = {f"curves/{k}": v for k, v in self.curves.history_state().items()}
        history |= {f"gradnorms/{k}": v for k, v in self.gradnorms.history_state().items()}
        return history_up_to(history, step)

    def restore(self, history: dict) -> None:
        self.curves.restore_history({k[7:]: a for k, a in history.items() if k.startswith("curves/")})
        self.gradnorms.restore_history({k[10:]: a for k, a in history.items() if k.startswith("gradnorms/")})

    def clear(self) -> None:
        for view in (self.curves, self.gradnorms):
            view.clear()


def history_up_to(history: dict, step: int) -> dict:
    """The history of the steps up to `step` (reopened, training goes on from there)."""
    out = {}
    for key, a in history.items():
        if a.ndim == 2:
            out[key] = a[:, a[0] <= step]
        elif key.endswith("/steps"):
            keep = a <= step
            out[key], out[key[: -len("steps")] + "texts"] = (
                a[keep],
                history[key[: -len("steps")] + "texts"][keep],
            )
    return out
