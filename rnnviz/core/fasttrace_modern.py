"""ModernTracer: FastTracer's interface (the typing path) for minGRU, minLSTM and the SSM.

Their gates read x_t only, so the reference replay (core.cells_modern) is already vectorised over
the steps: the tracer keeps that replay's forward pass, extends it from the first changed token,
and runs the reference backward. The same numbers as core.trace.trace (float64 throughout).
"""

from __future__ import annotations

import numpy as np

from rnnviz.core.fasttrace import FastTracer
from rnnviz.core.trace import (
    Trace,
    TraceWeights,
    _assemble_modern,
    check_request,
    final_state,
    forward,
    loss_gradient,
    softmax,
)

_TIME_KEYS = ("h", "cand", "s", "u", "dpre", "dA", "y", "gpre", "gate")  # (T, ...) arrays of a layer


def _cut(f: dict, k: int) -> dict:
    """A layer's forward pass (core.cells_modern) over its first k steps."""
    out = {key: (v[:k] if key in _TIME_KEYS else v) for key, v in f.items()}
    out["gates"] = {g: v[:k] for g, v in f["gates"].items()}
    if "raw" in f:
        out["raw"] = tuple(v[:k] for v in f["raw"])
    return out


def _join(a: dict, b: dict) -> dict:
    """Layer forward passes a (steps 0..k-1) and b (from step k, started from a's last state)."""
    out = {key: (np.concatenate([v, b[key]]) if key in _TIME_KEYS else v) for key, v in a.items()}
    out["gates"] = {g: np.concatenate([v, b["gates"][g]]) for g, v in a["gates"].items()}
    if "raw" in a:
        out["raw"] = tuple(np.concatenate([u, v]) for u, v in zip(a["raw"], b["raw"], strict=True))
    return out


class ModernTracer(FastTracer):
    """FastTracer's interface for the modern cells (see the module's docstring)."""

    def __init__(self, w: TraceWeights):
        if w.cfg.regression:
            raise ValueError("FastTracer traces token models; value models use core.trace.trace_series")
        self.w, self.cfg = w, w.cfg
        self.ids = np.zeros(0, dtype=np.int64)
        self.fwd: list[dict] = []
        self.logits = np.zeros((0, len(w.head_b)))

    def _forward(self, ids: np.ndarray) -> None:
        n = min(len(ids), len(self.ids))
        same = np.flatnonzero(ids[:n] != self.ids[:n])
        k = int(same[0]) if same.size else n
        if k == len(ids) == len(self.ids):
            return
        if k == 0:
            self.fwd = forward(self.w, ids)
        else:
            kept = [_cut(f, k) for f in self.fwd]
            new = forward(self.w, ids[k:], final_state(kept))
            self.fwd = [_join(a, b) for a, b in zip(kept, new, strict=True)]
        T = len(ids)
        logits = np.empty((T, len(self.w.head_b)))
        logits[:k] = self.logits[:k]
        logits[k:] = self.fwd[-1]["h"][k:] @ self.w.head_w.T + self.w.head_b
        self.ids, self.logits = ids.copy(), logits

    def _trace(self, ids, tokens, vocab, level, target_step, target_id, gradients=True) -> Trace:
        V = len(self.w.head_b)
        ids, s = check_request(ids, V, target_step)
        self._forward(ids)
        probs = softmax(self.logits)
        tid, d_out = loss_gradient(probs, s, target_id)
        vocab = tuple(vocab) if vocab is not None else tuple(str(i) for i in range(V))
        fields = dict(
            vocab=vocab, level=level, ids=ids, probs=probs, target_id=tid,
            tokens=tuple(tokens) if tokens is not None else tuple(vocab[i] for i in ids),
        )  # fmt: skip
        return _assemble_modern(self.w, self.fwd, d_out, s, gradients=gradients, **fields)

    def sample(self, length: int, temperature: float, seed: int | None = None) -> np.ndarray:
        """As FastTracer.sample: from the state after the kept text."""
        from rnnviz.core.generate import check_sampling, sample

        check_sampling(length, temperature, seed)
        if len(self.ids) == 0:
            from rnnviz.core.errors import VocabError

            raise VocabError("the prompt is empty: give at least one token to start from")
        return sample(self.w, self.ids, length, temperature, seed, state=final_state(self.fwd))
