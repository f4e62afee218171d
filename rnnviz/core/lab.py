"""The gradient lab: why RNNs forget, in numbers.

- gradient horizon: how many steps back ||dL/dh_t|| stays above a fraction (1 %) of its value
  at the target step;
- Jacobian spectrum: the largest singular value of dh_t/dh_(t-1) per step (below 1 the
  gradient shrinks, above 1 it grows), and of products over a window; for an LSTM also along
  the cell-state path, where dc_t/dc_(t-1) = diag(f_t);
- gate saturation (Karpathy, Johnson & Fei-Fei 2015): per unit, the fraction of steps a gate is
  below 0.1 (left-saturated) or above 0.9 (right-saturated).
Everything is computed from a Trace and the weights (numpy, no Qt).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.core.corpus import Corpus
from rnnviz.core.model import ModelConfig
from rnnviz.core.snapshot import StepMetrics
from rnnviz.core.trace import Trace, TraceWeights, trace
from rnnviz.core.train import TrainConfig, Trainer

HORIZON_FRACTION = 0.01
SATURATION = (0.1, 0.9)
SIGMOID_GATES = ("i", "f", "o", "r", "z")


def gradient_horizon(grad: np.ndarray, target_step: int, fraction: float = HORIZON_FRACTION) -> int:
    """Steps back from target_step over which ||dL/dh_t|| stays >= fraction x its value at the target.

    grad: (T,) norms of one layer. Counts consecutive steps; target_step itself is distance 0.
    """
    back = np.asarray(grad[: target_step + 1], dtype=np.float64)[::-1]  # distance 0, 1, ...
    if back.size == 0 or not back[0] > 0:
        return 0
    below = np.flatnonzero(~(back >= fraction * back[0]))
    return int(below[0] - 1) if below.size else int(target_step)


def mean_horizon(
    w: TraceWeights,
    ids: np.ndarray,
    window: int,
    positions,
    layer: int = -1,
    fraction: float = HORIZON_FRACTION,
) -> float:
    """Average horizon over windows of `window` tokens ending at each position p, the loss being
    -log p(ids[p + 1]): the true next token, as on held-out text."""
    horizons = []
    for p in positions:
        chunk = ids[p - window + 1 : p + 1]
        tr = trace(w, chunk, target_id=int(ids[p + 1]))
        horizons.append(gradient_horizon(tr.grad_h[layer], tr.target_step, fraction))
    return float(np.mean(horizons)) if horizons else 0.0


def positions_in(n_tokens: int, window: int, count: int, seed: int = 0) -> np.ndarray:
    """`count` window ends spread over a text of n_tokens (each needs a next token)."""
    hi = n_tokens - 2
    if hi < window - 1:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(window - 1, hi, count).astype(np.int64))


# ---- Jacobians of one step ------------------------------------------------------------------


def step_jacobians(w: TraceWeights, tr: Trace, layer: int = 0) -> np.ndarray:
    """dh_t/dh_(t-1) of one layer, holding its input fixed: (T, H, H); h_(-1) = 0 (and c_(-1))."""
    lw, H, arch = w.layers[layer], w.cfg.hidden, w.cfg.arch
    hs = tr.h[layer]
    h_prev = np.vstack([np.zeros((1, H)), hs[:-1]])
    if arch == "rnn":
        d = 1.0 - hs**2 if w.cfg.nonlinearity == "tanh" else (hs > 0).astype(float)
        return d[:, :, None] * lw.w_hh[None]
    g = {k: v[layer] for k, v in tr.gates.items()}
    if arch == "lstm":
        c = tr.c[layer]
        c_prev = np.vstack([np.zeros((1, H)), c[:-1]])
        wi, wf, wg, wo = (lw.w_hh[k * H : (k + 1) * H] for k in range(4))
        i, f, gg, o = g["i"], g["f"], g["g"], g["o"]
        dc = (
            (c_prev * f * (1 - f))[:, :, None] * wf
            + (gg * i * (1 - i))[:, :, None] * wi
            + (i * (1 - gg**2))[:, :, None] * wg
        )
        tc = np.tanh(c)
        return (o * (1 - tc**2))[:, :, None] * dc + (tc * o * (1 - o))[:, :, None] * wo
    wr, wz, wn = (lw.w_hh[k * H : (k + 1) * H] for k in range(3))
    hn = h_prev @ wn.T + lw.b_hh[2 * H :]
    r, z, n = g["r"], g["z"], g["n"]
    dn = (1 - n**2)[:, :, None] * (r[:, :, None] * wn + (hn * r * (1 - r))[:, :, None] * wr)
    dz = (z * (1 - z))[:, :, None] * wz
    eye = np.eye(H)[None]
    return z[:, :, None] * eye + (1 - z)[:, :, None] * dn + (h_prev - n)[:, :, None] * dz


def largest_singular_values(jac: np.ndarray) -> np.ndarray:
    """(T, H, H) -> (T,) spectral norms."""
    return np.linalg.norm(jac, ord=2, axis=(1, 2))


def product_norm(jac: np.ndarray, start: int, end: int) -> float:
    """||dh_end/dh_(start-1)|| = ||J_end ... J_start||, the gradient's gain over that window."""
    prod = np.eye(jac.shape[1])
    for t in range(start, end + 1):
        prod = jac[t] @ prod
    return float(np.linalg.norm(prod, ord=2))


def cell_path_singular_values(tr: Trace, layer: int = 0) -> np.ndarray:
    """LSTM: dc_t/dc_(t-1) along the cell-state path is diag(f_t); its largest singular value is max f_t."""
    return np.abs(tr.gates["f"][layer]).max(axis=1)


def gate_saturation(tr: Trace, layer: int = 0, lo: float = SATURATION[0], hi: float = SATURATION[1]):
    """gate -> (left (H,), right (H,)): per unit, the fraction of steps below lo / above hi."""
    out = {}
    for name in SIGMOID_GATES:
        if name in tr.gates:
            a = tr.gates[name][layer]  # (T, H)
            out[name] = ((a < lo).mean(axis=0), (a > hi).mean(axis=0))
    return out


# ---- RNN vs LSTM vs GRU, side by side -------------------------------------------------------

ARCHS = ("rnn", "lstm", "gru")


@dataclass(frozen=True)
class LabFigures:
    """One model's gradient figures on held-out text, at one training step."""

    arch: str
    step: int
    horizon: float  # mean steps back that ||dL/dh_t|| stays above HORIZON_FRACTION of its value at the target
    mean_sigma: float  # mean largest singular value of dh_t/dh_(t-1) over the probe windows
    grad_by_distance: np.ndarray  # (window,) mean ||dL/dh|| at distance 0, 1, ... from the target
    sigma_by_step: np.ndarray  # (window,) largest singular value per step of the first probe window
    cell_horizon: float | None = None  # LSTM: the same horizon for ||dL/dc_t||, along the cell-state path


class Comparison:
    """An RNN, an LSTM and a GRU trained on the same corpus with the same seed, size and optimiser."""

    def __init__(
        self,
        corpus: Corpus,
        hidden: int,
        layers: int,
        cfg: TrainConfig,
        device: str = "auto",
        window: int = 48,
        positions: int = 8,
        archs=ARCHS,
    ):
        inp = "onehot" if corpus.level == "char" else "embedding"
        self.trainers = {
            a: Trainer(
                corpus,
                ModelConfig(vocab_size=len(corpus.vocab), arch=a, hidden=hidden, layers=layers, input=inp),
                cfg,
                device=device,
            )
            for a in archs
        }
        held_out = corpus.split(cfg.val_fraction)[1]
        self.probe_ids = held_out if len(held_out) >= window + 2 else corpus.ids
        self.window = min(window, len(self.probe_ids) - 2)
        self.positions = positions_in(len(self.probe_ids), self.window, positions)

    def step(self) -> dict[str, StepMetrics]:
        return {a: tr.step() for a, tr in self.trainers.items()}

    def measure(self, arch: str, weights: dict | None = None) -> LabFigures:
        """Horizon, spectrum and gradient-by-distance on the held-out probe windows."""
        tr = self.trainers[arch]
        w = TraceWeights.from_state(tr.model_cfg, weights if weights is not None else tr.snapshot().weights)
        horizons, cell_horizons, grads, sigmas = [], [], [], []
        for p in self.positions:
            chunk = self.probe_ids[p - self.window + 1 : p + 1]
            t = trace(w, chunk, target_id=int(self.probe_ids[p + 1]))
            g = t.grad_h[-1]
            horizons.append(gradient_horizon(g, t.target_step))
            if t.grad_c is not None:
                cell_horizons.append(gradient_horizon(t.grad_c[-1], t.target_step))
            grads.append(g[::-1])
            sigmas.append(largest_singular_values(step_jacobians(w, t, w.cfg.layers - 1)))
        if not horizons:
            empty = np.zeros(0)
            return LabFigures(arch, tr.steps, 0.0, 0.0, empty, empty)
        return LabFigures(
            arch,
            tr.steps,
            float(np.mean(horizons)),
            float(np.mean(sigmas)),
            np.mean(grads, axis=0),
            sigmas[0],
            float(np.mean(cell_horizons)) if cell_horizons else None,
        )
