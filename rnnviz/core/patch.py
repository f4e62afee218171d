"""Activation patching: where, between two texts, is the difference in a prediction carried?

The clean text A and the corrupted text B are read by the same network (float64, core.cells). For
a target token (by default A's most likely next token after its last step), the patched run reads
B with one layer's state at one step replaced by A's (h, and for an LSTM c: both, or each alone),
every later computation redone: the later steps of that layer and every step of the layers above
from that step on. Its log p(target) after B's last step, normalised,

    effect[l][t] = (log p_patched - log p_B) / (log p_A - log p_B),

is 1 where that state alone turns B's prediction into A's and 0 where it changes nothing. Texts of
different lengths are aligned at their ends: B's step t faces A's step t - (len(B) - len(A)); a
step of B with no step of A facing it has no effect (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rnnviz.core.cells import FORWARD
from rnnviz.core.errors import ConfigError
from rnnviz.core.trace import Trace, TraceWeights, forward

STATES = ("h", "c", "both")
MAX_STEPS = 1000  # per text: the matrix costs layers x steps^2 cell steps (1000: about a minute)
SAME = 1e-9  # log-probabilities this close (relative) leave no difference to locate


@dataclass(frozen=True)
class Patching:
    """The patching matrix of two texts, and what it was normalised by."""

    target_id: int
    target: str
    clean_logp: float  # log p(target) after the clean text
    corrupt_logp: float  # ... after the corrupted text
    state: str  # "h", "c" or "both"
    effect: np.ndarray  # (L, T_corrupt): NaN where no clean step faces the corrupted one
    offset: int  # clean step = corrupted step - offset (aligned at their ends)
    clean_tokens: tuple[str, ...] = ()
    corrupt_tokens: tuple[str, ...] = ()

    def clean_step(self, t: int) -> int | None:
        """The clean text's step facing the corrupted text's step t (None: none)."""
        s = t - self.offset
        return s if 0 <= s < len(self.clean_tokens) else None

    def to_json(self) -> dict:
        """The `rnnviz patch --json` document (NaN as null)."""
        rows = [[None if np.isnan(v) else float(v) for v in row] for row in self.effect]
        return {
            "target": self.target,
            "clean_logp": self.clean_logp,
            "corrupt_logp": self.corrupt_logp,
            "state": self.state,
            "effect": rows,
            "offset": self.offset,
            "clean_tokens": list(self.clean_tokens),
            "corrupt_tokens": list(self.corrupt_tokens),
        }


def patch(
    w: TraceWeights,
    clean_ids,
    corrupt_ids,
    target_id: int | None = None,
    state: str = "both",
    vocab: tuple[str, ...] | None = None,
    clean_tokens=(),
    corrupt_tokens=(),
) -> Patching:
    """Patch every (layer, step) of the corrupted run with the clean run's state (see the module)."""
    a, b = _ids(w, clean_ids, "the clean text"), _ids(w, corrupt_ids, "the corrupted text")
    _check_state(w, state)
    fa, fb = forward(w, a), forward(w, b)
    la, lb = _log_probs(w, fa), _log_probs(w, fb)
    tid = int(np.argmax(la)) if target_id is None else int(target_id)
    if not 0 <= tid < len(la):
        raise ConfigError(f"target id {tid} is outside the vocabulary of {len(la)}")
    if abs(la[tid] - lb[tid]) <= SAME * max(1.0, abs(la[tid])):
        raise ConfigError(
            "the two texts give the target the same probability: there is no difference to locate"
        )
    offset = len(b) - len(a)
    effect = np.full((w.cfg.layers, len(b)), np.nan)
    for n in range(w.cfg.layers):
        for t in range(len(b)):
            s = t - offset
            if 0 <= s < len(a):
                h, c = _patched_state(fa, fb, n, s, t, state)
                lp = _rerun(w, b, fb, n, t, h, c)[tid]
                effect[n, t] = (lp - lb[tid]) / (la[tid] - lb[tid])
    name = vocab[tid] if vocab is not None else str(tid)
    return Patching(
        tid,
        name,
        float(la[tid]),
        float(lb[tid]),
        state,
        effect,
        offset,
        tuple(clean_tokens),
        tuple(corrupt_tokens),
    )


def unit_effects(w: TraceWeights, clean_ids, corrupt_ids, p: Patching, layer: int, t: int) -> np.ndarray:
    """(H,) the effect of patching one unit of layer `layer` at the corrupted step t alone (its h,
    c or both, as `p` was made), normalised as p's matrix is."""
    a, b = _ids(w, clean_ids, "the clean text"), _ids(w, corrupt_ids, "the corrupted text")
    if len(b) - len(a) != p.offset:
        raise ConfigError("these are not the texts the patching matrix was made from")
    if not 0 <= layer < w.cfg.layers or not 0 <= t < len(b):
        raise ConfigError(f"no layer {layer + 1}, step {t} in a {w.cfg.layers}-layer run of {len(b)} steps")
    s = t - p.offset
    if not 0 <= s < len(a):
        raise ConfigError(f"step {t} of the corrupted text faces no step of the clean one")
    fa, fb = forward(w, a), forward(w, b)
    h_a, c_a = _patched_state(fa, fb, layer, s, t, p.state)
    h_b, c_b = fb[layer]["h"][t], fb[layer]["c"][t] if "c" in fb[layer] else None
    out = np.empty(w.cfg.hidden)
    for j in range(w.cfg.hidden):
        h, c = h_b.copy(), None if c_b is None else c_b.copy()
        h[j] = h_a[j]
        if c is not None and c_a is not None:
            c[j] = c_a[j]
        lp = _rerun(w, b, fb, layer, t, h, c)[p.target_id]
        out[j] = (lp - p.corrupt_logp) / (p.clean_logp - p.corrupt_logp)
    return out


def _ids(w: TraceWeights, ids, what: str) -> np.ndarray:
    if w.cfg.regression:
        raise ConfigError("this model forecasts numbers: patching compares two texts")
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or len(ids) == 0:
        raise ConfigError(f"{what} has no tokens")
    if len(ids) > MAX_STEPS:
        raise ConfigError(f"{what} has {len(ids)} tokens: patching takes at most {MAX_STEPS} (use its end)")
    V = w.head_b.shape[0]
    if ids.min() < 0 or ids.max() >= V:
        raise ConfigError(f"{what} has token ids outside the vocabulary of {V}")
    return ids


def _check_state(w: TraceWeights, state: str) -> None:
    if state not in STATES:
        raise ConfigError(f"unknown state {state!r}: choose {', '.join(STATES)}")
    if state == "c" and w.cfg.arch != "lstm":
        raise ConfigError(f"a {w.cfg.arch.upper()} has no cell state c: patch h (its whole state)")


def _log_probs(w: TraceWeights, fwd: list[dict]) -> np.ndarray:
    """log p(next token) after the last step."""
    return log_softmax(fwd[-1]["h"][-1] @ w.head_w.T + w.head_b)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log p without underflow: a token of probability 1e-400 has log p -921, not -inf."""
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def _patched_state(fa, fb, n: int, s: int, t: int, state: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Layer n's state at the corrupted step t with the clean step s's put in: h and/or c."""
    has_c = "c" in fb[n]
    h = fa[n]["h"][s] if state in ("h", "both") else fb[n]["h"][t]
    if not has_c:
        return h.copy(), None
    c = fa[n]["c"][s] if state in ("c", "both") else fb[n]["c"][t]
    return h.copy(), c.copy()


def _rerun(w: TraceWeights, ids: np.ndarray, fb: list[dict], layer: int, t: int, h, c) -> np.ndarray:
    """log p(next token) after the corrupted text's last step, with layer `layer`'s state at step
    t set to (h, c): that layer's later steps and the layers above from step t on are recomputed
    (the rest is the corrupted run's, unchanged)."""
    cfg, T = w.cfg, len(ids)
    step = FORWARD[cfg.arch]
    out = fb[layer]["h"].copy()  # (T, H): this layer's outputs, patched
    out[t] = h
    if t + 1 < T:
        lw = w.layers[layer]
        x = (
            w.input_projection(ids[t + 1 :])
            if layer == 0
            else fb[layer - 1]["h"][t + 1 :] @ lw.w_ih.T + lw.b_ih
        )
        out[t + 1 :] = step(cfg, lw, x, h, c)["h"]
    for n in range(layer + 1, cfg.layers):
        lw = w.layers[n]
        x = out[t:] @ lw.w_ih.T + lw.b_ih
        h0 = fb[n]["h"][t - 1] if t else None
        c0 = fb[n]["c"][t - 1] if t and "c" in fb[n] else None
        above = fb[n]["h"].copy()
        above[t:] = step(cfg, lw, x, h0, c0)["h"]
        out = above
    return log_softmax(out[-1] @ w.head_w.T + w.head_b)


def aligned_labels(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """The last min(len) tokens of two texts aligned at their ends: "x" where they agree, "x|y"
    where A reads x and B reads y."""
    k = min(len(a), len(b))
    pairs = zip(a[len(a) - k :], b[len(b) - k :], strict=True)
    return tuple(x if x == y else f"{x}|{y}" for x, y in pairs)


def difference(a: Trace, b: Trace) -> Trace:
    """A - B over the steps the two texts share when aligned at their ends: h, c and every gate
    (probabilities too); the gradients are A's (a norm has no sign to subtract), its target step
    moved with the alignment."""
    k = min(a.steps, b.steps)

    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x[:, x.shape[1] - k :] - y[:, y.shape[1] - k :]

    tail = slice(a.steps - k, a.steps)
    c = None if a.c is None or b.c is None else d(a.c, b.c)
    grad_c = None if a.grad_c is None else a.grad_c[:, tail]
    return replace(
        a, tokens=aligned_labels(a.tokens, b.tokens), ids=a.ids[tail], h=d(a.h, b.h), c=c,
        gates={g: d(v, b.gates[g]) for g, v in a.gates.items()}, probs=a.probs[tail] - b.probs[b.steps - k :],
        grad_h=a.grad_h[:, tail], grad_c=grad_c, target_step=max(a.target_step - (a.steps - k), 0), dh=None,
        dc=None, grad_above=None, attribution=None,
    )  # fmt: skip
