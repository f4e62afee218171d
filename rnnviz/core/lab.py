"""The gradient lab: why RNNs forget, in numbers.

- the gradient by distance: the geometric mean over held-out windows of the ratio
  ||dL/ds_(t-k)|| / ||dL/ds_t|| (t the target step, s the recurrent state), k = 0, 1, ...; the
  state is h_t for every cell but the selective SSM (S6), whose state is s_t (H x N) and whose h_t
  is only its output: its curve is that of ||dL/ds_t|| (Trace.grad_state);
- decay per 10 steps: decades of that ratio lost per 10 steps back, -10 x the least-squares slope
  of its log10 over k >= 10. It measures the long range: an LSTM's ratio drops fast over its first
  steps (the gradient passes o_t and tanh'(c_t) before the cell path carries it) and then holds;
- gradient horizon: how many steps back that curve stays above a fraction (1 %, and 1e-4);
- Jacobian spectrum: the largest singular value of the step's state map per step (below 1 the
  gradient shrinks, above 1 it grows), and of products over a window. The state is h_t, and for
  an LSTM (h_t, c_t): its map is d(h_t, c_t)/d(h_(t-1), c_(t-1)), 2H x 2H, since the memory is in
  c; along the cell-state path alone dc_t/dc_(t-1) = diag(f_t). minGRU, minLSTM and S6 have no
  W_hh: their gates read x_t only, so the map is diagonal, its entries the decays (1 - z_t; f'_t;
  exp(Delta_t A), one per entry of s_t), its largest singular value the largest decay;
- gate saturation (Karpathy, Johnson & Fei-Fei 2015): per unit, the fraction of steps a gate is
  below 0.1 (left-saturated) or above 0.9 (right-saturated).
Everything is computed from a Trace and the weights (numpy, no Qt); only Comparison, the models
side by side, imports torch (when it is made, in the training process).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

from rnnviz.core.config import ARCHS, CLASSIC_ARCHS, ModelConfig, TrainConfig
from rnnviz.core.corpus import Corpus
from rnnviz.core.errors import ConfigError
from rnnviz.core.snapshot import StepMetrics
from rnnviz.core.trace import Trace, TraceWeights, trace

HORIZON_FRACTION = 0.01
FAR_FRACTION = 1e-4  # the second horizon: far enough out to see long memory
DECAY_FROM = 10  # decay_per_10 fits distances [DECAY_FROM, window)
# ... and only over 10 distances or more (windows of 20+ tokens): over recall's lines (15 tokens) a
# fit of k = 10..14 ranked an LSTM whose ratio had fallen to 0.008 above an S6 still at 0.51 (its
# flat tail), the curves the other way round: too short a window has no long range to measure
DECAY_POINTS = 10
PROBE_SEED = 0  # the held-out windows are drawn with this fixed seed
TINY = 1e-300  # a zero gradient counts as this in the geometric mean
SATURATION = (0.1, 0.9)
SIGMOID_GATES = ("i", "f", "o", "r", "z")  # (minLSTM's f and i: its normalised f', i', in (0, 1) too)
DEFAULT_ARCHS = CLASSIC_ARCHS
MAX_ARCHS = 3


def check_archs(archs) -> tuple[str, ...]:
    """1 to MAX_ARCHS distinct architectures of config.ARCHS, in the order given; a ConfigError if not.
    A string is read as a comma-separated list ("lstm,mingru,ssm")."""
    names = [a.strip().lower() for a in archs.split(",")] if isinstance(archs, str) else list(archs)
    bad = [a for a in names if a not in ARCHS]
    if bad:
        raise ConfigError(f"unknown architecture {bad[0]!r}: choose from {', '.join(ARCHS)}")
    if not 1 <= len(names) <= MAX_ARCHS or len(set(names)) != len(names):
        raise ConfigError(
            f"choose 1 to {MAX_ARCHS} different architectures, not {', '.join(names) or 'none'}"
        )
    return tuple(names)


def has_w_hh(arch: str) -> bool:
    """RNN, LSTM and GRU have a recurrent weight matrix W_hh; minGRU, minLSTM and S6 do not."""
    return arch in CLASSIC_ARCHS


def recurrent_grad(tr: Trace) -> np.ndarray:
    """(L, T) the norm of dL/d(state)_t: ||dL/ds_t|| for the S6 (its h_t is no state), else ||dL/dh_t||."""
    if tr.cfg.arch == "ssm":
        assert tr.grad_state is not None, "an SSM's trace has dL/ds"
        return tr.grad_state
    return tr.grad_h


def gradient_horizon(grad: np.ndarray, target_step: int, fraction: float = HORIZON_FRACTION) -> int:
    """Steps back from target_step over which ||dL/dh_t|| stays >= fraction x its value at the target.

    grad: (T,) norms of one layer. Counts consecutive steps; target_step itself is distance 0.
    """
    back = np.asarray(grad[: target_step + 1], dtype=np.float64)[::-1]  # distance 0, 1, ...
    if back.size == 0 or not back[0] > 0:
        return 0
    below = np.flatnonzero(~(back >= fraction * back[0]))
    return int(below[0] - 1) if below.size else int(target_step)


def positions_in(n_tokens: int, window: int, count: int, seed: int = PROBE_SEED) -> np.ndarray:
    """`count` distinct window ends drawn at random (with `seed`) from a text of n_tokens, sorted;
    each window lies inside the text and has a next token."""
    lo, hi = window - 1, n_tokens - 2
    if hi < lo:
        return np.zeros(0, dtype=np.int64)
    ends = np.random.default_rng(seed).choice(hi - lo + 1, size=min(count, hi - lo + 1), replace=False)
    return np.sort(ends + lo).astype(np.int64)


# ---- the gradient by distance, over many windows ---------------------------------------------


def distance_ratios(grads) -> np.ndarray:
    """Geometric mean over windows of ||dL/dh_(t-k)|| / ||dL/dh_t||, k = 0, 1, ...

    grads: (windows, T) norms per window, each window's target at its last step. Windows whose
    gradient at the target is 0 carry no ratio and are left out.
    """
    g = np.asarray(grads, dtype=np.float64)[:, ::-1]  # distance 0, 1, ...
    g = g[g[:, 0] > 0]
    if not len(g):
        return np.zeros(np.shape(grads)[-1] if np.ndim(grads) == 2 else 0)
    return 10 ** np.mean(np.log10(np.maximum(g / g[:, :1], TINY)), axis=0)


def decay_per_10(curve: np.ndarray, start: int = DECAY_FROM, least: int = 2) -> float:
    """Decades lost per 10 steps back: -10 x the least-squares slope of log10(curve[k]) over
    k in [start, len(curve)); NaN when fewer than `least` (at least 2) distances are there."""
    k = np.arange(start, len(curve))
    if len(k) < max(2, least) or not np.all(curve[k] > 0):
        return float("nan")
    return float(-10.0 * np.polyfit(k, np.log10(curve[k]), 1)[0])


def curve_horizon(curve: np.ndarray, fraction: float = HORIZON_FRACTION) -> int:
    """Distances k >= 1 over which curve[k] stays >= fraction x curve[0], counted consecutively
    (len(curve) - 1 when it never drops below: the horizon is at least the window)."""
    return gradient_horizon(np.asarray(curve)[::-1], len(curve) - 1, fraction) if len(curve) else 0


# ---- Jacobians of one step ------------------------------------------------------------------


def state_decays(w: TraceWeights, tr: Trace, layer: int = 0) -> np.ndarray:
    """minGRU, minLSTM, S6: the diagonal of the step's state map, holding the input fixed: (T, D).
    minGRU 1 - z_t, minLSTM f'_t (D = H); S6 exp(Delta_t[j] A[j, n]) for entry (j, n) of s_t, in
    row-major order (D = H x N)."""
    arch = w.cfg.arch
    if arch == "mingru":
        return 1.0 - tr.gates["z"][layer]
    if arch == "minlstm":
        return tr.gates["f"][layer]
    if arch == "ssm":
        A = -np.exp(np.asarray(w.layers[layer]["A_log"], dtype=np.float64))  # (H, N)
        delta = tr.gates["delta"][layer]  # (T, H)
        return np.exp(delta[:, :, None] * A[None]).reshape(len(delta), -1)
    raise ConfigError(f"not applicable: a {w.cfg.name}'s state map is not diagonal (it has W_hh)")


def step_jacobians(w: TraceWeights, tr: Trace, layer: int = 0) -> np.ndarray:
    """dh_t/dh_(t-1) of one layer, holding its input fixed: (T, H, H); h_(-1) = 0 (and c_(-1)).
    minGRU, minLSTM, S6: the map of their state (state_jacobians), diagonal."""
    lw, H, arch = w.layers[layer], w.cfg.hidden, w.cfg.arch
    if w.cfg.modern:
        return state_jacobians(w, tr, layer)
    hs = tr.h[layer]
    h_prev = np.vstack([np.zeros((1, H)), hs[:-1]])
    if arch == "rnn":
        d = 1.0 - hs**2 if w.cfg.nonlinearity == "tanh" else (hs > 0).astype(float)
        return d[:, :, None] * lw.w_hh[None]
    if arch == "lstm":
        return _lstm_blocks(w, tr, layer)[0]
    g = {k: v[layer] for k, v in tr.gates.items()}
    wr, wz, wn = (lw.w_hh[k * H : (k + 1) * H] for k in range(3))
    hn = h_prev @ wn.T + lw.b_hh[2 * H :]
    r, z, n = g["r"], g["z"], g["n"]
    dn = (1 - n**2)[:, :, None] * (r[:, :, None] * wn + (hn * r * (1 - r))[:, :, None] * wr)
    dz = (z * (1 - z))[:, :, None] * wz
    eye = np.eye(H)[None]
    return z[:, :, None] * eye + (1 - z)[:, :, None] * dn + (h_prev - n)[:, :, None] * dz


def _lstm_blocks(w: TraceWeights, tr: Trace, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """An LSTM step's (dh_t/dh_(t-1), dc_t/dh_(t-1)), (T, H, H) each, holding its input fixed."""
    lw, H = w.layers[layer], w.cfg.hidden
    assert tr.c is not None, "an LSTM's trace has its cell state"
    c = tr.c[layer]
    c_prev = np.vstack([np.zeros((1, H)), c[:-1]])
    wi, wf, wg, wo = (lw.w_hh[k * H : (k + 1) * H] for k in range(4))
    i, f, gg, o = (tr.gates[k][layer] for k in "ifgo")
    dc = (
        (c_prev * f * (1 - f))[:, :, None] * wf
        + (gg * i * (1 - i))[:, :, None] * wi
        + (i * (1 - gg**2))[:, :, None] * wg
    )
    tc = np.tanh(c)
    return (o * (1 - tc**2))[:, :, None] * dc + (tc * o * (1 - o))[:, :, None] * wo, dc


def state_jacobians(w: TraceWeights, tr: Trace, layer: int = 0) -> np.ndarray:
    """The step's map of the layer's whole recurrent state, holding its input fixed.

    RNN, GRU: the state is h, the map dh_t/dh_(t-1): (T, H, H). LSTM: the state is (h, c), the map
    d(h_t, c_t)/d(h_(t-1), c_(t-1)): (T, 2H, 2H) in blocks [[dh/dh, dh/dc], [dc/dh, dc/dc]], where
    dc_t/dc_(t-1) = diag(f_t) and dh_t/dc_(t-1) = diag(o_t tanh'(c_t) f_t). minGRU, minLSTM: the
    state is h, S6: s (H x N, flattened row-major); their maps are diagonal (state_decays): (T, D, D).
    """
    if w.cfg.modern:
        d = state_decays(w, tr, layer)
        jac = np.zeros((*d.shape, d.shape[1]))
        idx = np.arange(d.shape[1])
        jac[:, idx, idx] = d
        return jac
    if w.cfg.arch != "lstm":
        return step_jacobians(w, tr, layer)
    hh, ch = _lstm_blocks(w, tr, layer)
    assert tr.c is not None
    f, o, tc = tr.gates["f"][layer], tr.gates["o"][layer], np.tanh(tr.c[layer])
    T, H = f.shape
    jac = np.zeros((T, 2 * H, 2 * H))
    diag = np.arange(H)
    jac[:, :H, :H], jac[:, H:, :H] = hh, ch
    jac[:, diag, H + diag] = o * (1 - tc**2) * f
    jac[:, H + diag, H + diag] = f
    return jac


def largest_singular_values(jac: np.ndarray) -> np.ndarray:
    """(T, H, H) -> (T,) spectral norms."""
    return np.linalg.norm(jac, ord=2, axis=(1, 2))


def state_sigmas(w: TraceWeights, tr: Trace, layer: int = 0) -> np.ndarray:
    """(T,) the largest singular value of the step's state map: of the Jacobian (RNN, LSTM, GRU),
    the largest |decay| of the diagonal map (minGRU, minLSTM, S6; no H x N x H x N matrix is made)."""
    if w.cfg.modern:
        return np.abs(state_decays(w, tr, layer)).max(axis=1)
    return largest_singular_values(state_jacobians(w, tr, layer))


def window_gain(w: TraceWeights, tr: Trace, layer: int = 0) -> float:
    """||J_T ... J_1|| of the state maps over the whole trace (of the diagonal maps: the largest
    |product of an entry's decays|)."""
    if w.cfg.modern:
        return float(np.abs(np.prod(state_decays(w, tr, layer), axis=0)).max())
    jac = state_jacobians(w, tr, layer)
    return product_norm(jac, 0, len(jac) - 1)


def product_norm(jac: np.ndarray, start: int, end: int) -> float:
    """||dh_end/dh_(start-1)|| = ||J_end ... J_start||, the gradient's gain over that window."""
    prod = np.eye(jac.shape[1])
    for t in range(start, end + 1):
        prod = jac[t] @ prod
    return float(np.linalg.norm(prod, ord=2))


def cell_path_singular_values(tr: Trace, layer: int = 0) -> np.ndarray:
    """LSTM: dc_t/dc_(t-1) along the cell-state path is diag(f_t); its largest singular value is max f_t."""
    if tr.cfg.arch != "lstm":
        raise ConfigError(f"not applicable: a {tr.cfg.name} has no cell state c (the LSTM's)")
    return np.abs(tr.gates["f"][layer]).max(axis=1)


def gate_saturation(tr: Trace, layer: int = 0, lo: float = SATURATION[0], hi: float = SATURATION[1]):
    """gate -> (left (H,), right (H,)): per unit, the fraction of steps below lo / above hi."""
    out = {}
    for name in SIGMOID_GATES:
        if name in tr.gates:
            a = tr.gates[name][layer]  # (T, H)
            out[name] = ((a < lo).mean(axis=0), (a > hi).mean(axis=0))
    return out


# ---- up to three architectures, side by side --------------------------------------------------


@dataclass(frozen=True)
class LabFigures:
    """One model's gradient figures on held-out text, at one training step."""

    arch: str
    step: int
    decay_per_10: (
        float  # decades of ||dL/ds|| lost per 10 steps back, over distances >= DECAY_FROM (NaN: too few)
    )
    horizon: float  # steps back that grad_by_distance stays above HORIZON_FRACTION
    horizon_far: float  # the same above FAR_FRACTION
    mean_sigma: float  # mean largest singular value of the state map (LSTM: of (h, c)) over the windows
    grad_by_distance: np.ndarray  # (window,) geometric mean of ||dL/ds_(t-k)|| / ||dL/ds_t||, k = 0, 1, ...
    sigma_by_step: np.ndarray  # (window,) largest singular value of the state map per step, first window
    cell_horizon: float | None = None  # LSTM: the 1 % horizon of the same curve for ||dL/dc||
    answer_accuracy: float | None = None  # line samples: held-out lines whose last character is the argmax


def _cell_grad(tr: Trace) -> np.ndarray:
    """||dL/dc_t|| per layer and step: an LSTM's trace has it."""
    assert tr.grad_c is not None
    return tr.grad_c


class Comparison:
    """Up to three architectures (default an RNN, an LSTM and a GRU) trained on the same corpus with
    the same seed, size and optimiser.

    The probe windows the figures are measured on: for a text read as a stream, `positions`
    held-out windows of `window` tokens drawn with a fixed seed, the loss that of the true next
    token; for line samples (TrainConfig.samples "lines", e.g. builtin:recall), held-out lines as
    the models read them, from a zero state: each line but its last character, the loss that of
    its last (the answer), drawn with the same seed among the lines of the most common length."""

    def __init__(
        self,
        corpus: Corpus,
        hidden: int,
        layers: int,
        cfg: TrainConfig,
        device: str = "auto",
        window: int = 48,
        positions: int = 32,
        archs=DEFAULT_ARCHS,
        state: int = 16,
    ):
        from rnnviz.core.train import Trainer  # torch: only where the models train

        self.archs = check_archs(archs)
        inp = "onehot" if corpus.level == "char" else "embedding"
        self.trainers = {
            a: Trainer(
                corpus,
                ModelConfig(len(corpus.vocab), a, hidden=hidden, layers=layers, input=inp, state=state),
                cfg,
                device=device,
            )
            for a in self.archs
        }
        self.lines = cfg.samples == "lines"
        if self.lines:
            self._probe_lines(corpus, cfg.val_fraction, positions)
        else:
            held_out = corpus.split(cfg.val_fraction)[1]
            self.probe_ids = held_out if len(held_out) >= window + 2 else corpus.ids
            self.window = min(window, len(self.probe_ids) - 2)
            self.positions = positions_in(len(self.probe_ids), self.window, positions)
            self.probes = [
                (self.probe_ids[p - self.window + 1 : p + 1], int(self.probe_ids[p + 1]))
                for p in self.positions
            ]

    def _probe_lines(self, corpus: Corpus, val_fraction: float, count: int) -> None:
        from rnnviz.core.samples import line_samples

        train, held = line_samples(corpus, val_fraction)
        samples = held if len(held) else train
        _, x, y = max(samples.groups.values(), key=lambda g: len(g[0]))  # the most common length
        pick = np.sort(
            np.random.default_rng(PROBE_SEED).choice(len(y), size=min(count, len(y)), replace=False)
        )
        xs, ys = x.cpu().numpy(), y.cpu().numpy()
        self.probe_ids, self.window, self.positions = np.zeros(0, dtype=np.int64), x.shape[1], pick
        self.probes = [(xs[i], int(ys[i])) for i in pick]

    def step(self) -> dict[str, StepMetrics]:
        return {a: tr.step() for a, tr in self.trainers.items()}

    def probe_traces(self, w: TraceWeights) -> list[Trace]:
        """One trace per probe window, the loss being that of the true next token."""
        return [trace(w, ids, target_id=target) for ids, target in self.probes]

    def answer_accuracy(self, arch: str) -> float | None:
        """Line samples: the fraction of held-out lines whose last character (the answer) the model
        ranks first after reading the rest of the line; None otherwise (or with no held-out lines)."""
        if not self.lines:
            return None
        ev = self.trainers[arch].evaluate()
        return None if ev is None else float(ev.accuracy)

    def measure(self, arch: str, weights: dict | None = None) -> LabFigures:
        """Decay, horizons, spectrum and gradient-by-distance on the held-out probe windows, and the
        answer accuracy (line samples), of the model as it is now. weights: its snapshot's weights,
        if one was taken already (they must be the model's own: the accuracy is the model's)."""
        tr = self.trainers[arch]
        w = TraceWeights.from_state(tr.model_cfg, weights if weights is not None else tr.snapshot().weights)
        with threadpool_limits(1, user_api="blas"):  # small matrices: more threads only contend
            fig = self._figures(arch, tr.steps, w)
        return replace(fig, answer_accuracy=self.answer_accuracy(arch))

    def _figures(self, arch: str, steps: int, w: TraceWeights) -> LabFigures:
        traces = self.probe_traces(w)
        if not traces:
            empty = np.zeros(0)
            return LabFigures(arch, steps, float("nan"), 0.0, 0.0, 0.0, empty, empty)
        top = w.cfg.layers - 1
        curve = distance_ratios([recurrent_grad(t)[top] for t in traces])
        sigmas = [state_sigmas(w, t, top) for t in traces]
        cell = distance_ratios([_cell_grad(t)[-1] for t in traces]) if arch == "lstm" else None
        return LabFigures(
            arch,
            steps,
            decay_per_10(curve, least=DECAY_POINTS),
            float(curve_horizon(curve)),
            float(curve_horizon(curve, FAR_FRACTION)),
            float(np.mean(sigmas)),
            curve,
            sigmas[0],
            float(curve_horizon(cell)) if cell is not None else None,
        )
