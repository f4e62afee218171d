"""Activation patching: where, between two texts, is the difference in a prediction carried?

The clean text A and the corrupted text B are read by the same network (float64, core.cells and
core.cells_modern). For a target token (by default A's most likely next token after its last step),
the patched run reads B with one layer's state at one step replaced by A's, every later computation
redone: the later steps of that layer and every step of the layers above from that step on.

What is replaced (`state`): "h"; an LSTM's cell state "c"; the S6's state "s" (every channel's row
of N numbers); or "both", all the layer passes on from that step (h and c, or s and h). For an RNN,
GRU, minGRU and minLSTM h is the whole state and "both" is h. The S6's h_t is its output, read by
the layer above and the head at that step only: its later steps read s_t, so patching h alone
changes step t's reading above, and patching s alone changes every later step of the layer.

Its log p(target) after B's last step, normalised,

    effect[l][t] = (log p_patched - log p_B) / (log p_A - log p_B),

is 1 where that state alone turns B's prediction into A's and 0 where it changes nothing. Texts of
different lengths are aligned at their ends: B's step t faces A's step t - (len(B) - len(A)); a
step of B with no step of A facing it has no effect (NaN).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rnnviz.core import cells_modern
from rnnviz.core.cells import FORWARD
from rnnviz.core.errors import ConfigError
from rnnviz.core.trace import Trace, TraceWeights, forward

STATES = ("h", "c", "s", "both")
MAX_STEPS = 1000  # per text: the matrix costs layers x steps^2 cell steps (1000: about a minute)
SAME = 1e-9  # log-probabilities this close (relative) leave no difference to locate


@dataclass(frozen=True)
class Patching:
    """The patching matrix of two texts, and what it was normalised by."""

    target_id: int
    target: str
    clean_logp: float  # log p(target) after the clean text
    corrupt_logp: float  # ... after the corrupted text
    state: str  # "h", "c" (LSTM), "s" (S6) or "both"
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
    c, the S6 channel's row of s, or both, as `p` was made), normalised as p's matrix is."""
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
    key = _second(fb[layer])
    h_b, c_b = fb[layer]["h"][t], fb[layer][key][t] if key else None
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


def states(arch: str) -> tuple[str, ...]:
    """What can be patched in this architecture ("both" is h for the cells whose state is h)."""
    return {"lstm": ("h", "c", "both"), "ssm": ("h", "s", "both")}.get(arch, ("h", "both"))


def _check_state(w: TraceWeights, state: str) -> None:
    if state not in STATES:
        raise ConfigError(f"unknown state {state!r}: choose {', '.join(STATES)}")
    cfg = w.cfg
    if state not in states(cfg.arch):
        whole = {"lstm": "h, c or both", "ssm": "s (its state), h (its output) or both"}
        article = "an" if cfg.name[0] in "AEIOULRS" else "a"  # an LSTM, an RNN, an S6; a GRU
        raise ConfigError(
            f"{article} {cfg.name} has no {'cell state c' if state == 'c' else 'state s'}: "
            f"patch {whole.get(cfg.arch, 'h (its whole state)')}"
        )


def _log_probs(w: TraceWeights, fwd: list[dict]) -> np.ndarray:
    """log p(next token) after the last step."""
    return log_softmax(fwd[-1]["h"][-1] @ w.head_w.T + w.head_b)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log p without underflow: a token of probability 1e-400 has log p -921, not -inf."""
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def _second(f: dict) -> str | None:
    """The state a layer keeps besides h: an LSTM's "c", the S6's "s", or None."""
    return "c" if "c" in f else "s" if "s" in f else None


def _patched_state(fa, fb, n: int, s: int, t: int, state: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Layer n's state at the corrupted step t with the clean step s's put in: h and/or c (the
    S6: s)."""
    key = _second(fb[n])
    h = fa[n]["h"][s] if state in ("h", "both") else fb[n]["h"][t]
    if key is None:
        return h.copy(), None
    c = fa[n][key][s] if state in ("c", "s", "both") else fb[n][key][t]
    return h.copy(), c.copy()


def _rerun(w: TraceWeights, ids: np.ndarray, fb: list[dict], layer: int, t: int, h, c) -> np.ndarray:
    """log p(next token) after the corrupted text's last step, with layer `layer`'s state at step
    t set to (h, c) (the S6: (h, s)): that layer's later steps and the layers above from step t on
    are recomputed (the rest is the corrupted run's, unchanged)."""
    cfg, T = w.cfg, len(ids)
    if cfg.modern:
        return _rerun_modern(w, ids, fb, layer, t, h, c)
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


def _rerun_modern(w: TraceWeights, ids: np.ndarray, fb: list[dict], layer: int, t: int, h, s) -> np.ndarray:
    """As `_rerun`, for minGRU, minLSTM (the state is h) and the S6 (the state is s; h its output)."""
    cfg, T = w.cfg, len(ids)
    step, ssm = cells_modern.FORWARD[cfg.arch], cfg.arch == "ssm"
    out = fb[layer]["h"].copy()  # (T, H): this layer's outputs, patched
    out[t] = h
    if t + 1 < T:
        x = w.layer_input(ids[t + 1 :]) if layer == 0 else fb[layer - 1]["h"][t + 1 :]
        out[t + 1 :] = step(cfg, w.layers[layer], x, s if ssm else h)["h"]
    for n in range(layer + 1, cfg.layers):
        start = (fb[n]["s"][t - 1] if ssm else fb[n]["h"][t - 1]) if t else None
        above = fb[n]["h"].copy()
        above[t:] = step(cfg, w.layers[n], out[t:], start)["h"]
        out = above
    return log_softmax(out[-1] @ w.head_w.T + w.head_b)


def aligned_labels(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """The last min(len) tokens of two texts aligned at their ends: "x" where they agree, "x|y"
    where A reads x and B reads y."""
    k = min(len(a), len(b))
    pairs = zip(a[len(a) - k :], b[len(b) - k :], strict=True)
    return tuple(x if x == y else f"{x}|{y}" for x, y in pairs)


def difference(a: Trace, b: Trace) -> Trace:
    """A - B over the steps the two texts share when aligned at their ends: h, c (the S6's s) and
    every gate (probabilities too); the gradients are A's (a norm has no sign to subtract), its target step
    moved with the alignment."""
    k = min(a.steps, b.steps)

    def d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x[:, x.shape[1] - k :] - y[:, y.shape[1] - k :]

    tail = slice(a.steps - k, a.steps)
    c = None if a.c is None or b.c is None else d(a.c, b.c)
    grad_c = None if a.grad_c is None else a.grad_c[:, tail]
    state = None if a.state is None or b.state is None else d(a.state, b.state)  # the S6's s
    grad_state = None if a.grad_state is None else a.grad_state[:, tail]
    return replace(
        a, tokens=aligned_labels(a.tokens, b.tokens), ids=a.ids[tail], h=d(a.h, b.h), c=c,
        gates={g: d(v, b.gates[g]) for g, v in a.gates.items()}, probs=a.probs[tail] - b.probs[b.steps - k :],
        grad_h=a.grad_h[:, tail], grad_c=grad_c, target_step=max(a.target_step - (a.steps - k), 0), dh=None,
        dc=None, grad_above=None, attribution=None, state=state, grad_state=grad_state,
    )  # fmt: skip
