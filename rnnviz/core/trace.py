"""Explicit recomputation of everything inside the network for one token sequence.

The fused torch modules train fast but hide their gates. Here the same weights are replayed
step by step in numpy (float64): h_t, c_t, the gates, the next-token probabilities, and a
hand-written backward pass for ||dL/dh^l_t||, where L = -log p_s(target) and dL/dh is the total
derivative through every path (later steps and upper layers). Initial states are zero.
Row order of the gates follows PyTorch: LSTM (i, f, g, o), GRU (r, z, n).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from rnnviz.core import cells_modern
from rnnviz.core.cells import BACKWARD, FORWARD
from rnnviz.core.config import GATES, ModelConfig
from rnnviz.core.errors import VocabError
from rnnviz.core.intervene import layer_edits


@dataclass(frozen=True)
class LayerWeights:
    w_ih: np.ndarray  # (G*H, D)
    w_hh: np.ndarray  # (G*H, H)
    b_ih: np.ndarray  # (G*H,)
    b_hh: np.ndarray  # (G*H,)


@dataclass(frozen=True)
class TraceWeights:
    """A model's weights as float64 numpy arrays, ready for `trace`. A modern cell's layers
    (cfg.modern) are dicts of its tensors by name without the "rnn.l{n}." prefix ("z.weight", ...)."""

    cfg: ModelConfig
    embedding: np.ndarray | None  # (V, E) or None for one-hot input
    layers: tuple[Any, ...]  # LayerWeights, or dict[str, np.ndarray] for a modern cell
    head_w: np.ndarray  # (V, H)
    head_b: np.ndarray  # (V,)

    @classmethod
    def from_state(cls, cfg: ModelConfig, state: dict[str, np.ndarray]) -> TraceWeights:
        def get(name: str) -> np.ndarray:
            return np.asarray(state[name], dtype=np.float64)

        layers: tuple[Any, ...]
        if cfg.modern:
            layers = tuple(
                {k[len(f"rnn.l{n}.") :]: get(k) for k in state if k.startswith(f"rnn.l{n}.")}
                for n in range(cfg.layers)
            )
        else:
            layers = tuple(
                LayerWeights(
                    *(get(f"rnn.{k}_l{n}") for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
                )
                for n in range(cfg.layers)
            )
        emb = get("embedding.weight") if cfg.input == "embedding" else None
        return cls(cfg, emb, layers, get("head.weight"), get("head.bias"))

    def layer_input(self, ids: np.ndarray) -> np.ndarray:
        """x_t of layer 0 for every step (T, D): one-hot rows, embedding rows, or the values read."""
        if self.cfg.input == "value":
            return np.asarray(ids, dtype=np.float64)[:, None]
        if self.embedding is None:
            return np.eye(self.cfg.vocab_size)[ids]
        return self.embedding[ids]

    def input_projection(self, ids: np.ndarray) -> np.ndarray:
        """W_ih x_t + b_ih of layer 0 for every step: (T, G*H). ids: token ids, or real values."""
        lw = self.layers[0]
        if self.cfg.input == "value":  # x_t is one number: it scales W_ih's only column
            return np.outer(np.asarray(ids, dtype=np.float64), lw.w_ih[:, 0]) + lw.b_ih
        if self.embedding is None:  # a one-hot x_t picks one column of W_ih
            return lw.w_ih[:, ids].T + lw.b_ih
        return self.embedding[ids] @ lw.w_ih.T + lw.b_ih


@dataclass(frozen=True)
class Trace:
    """Everything the views draw for one input sequence (arrays are (layer, step, unit))."""

    cfg: ModelConfig
    vocab: tuple[str, ...]
    level: str
    tokens: tuple[str, ...]  # the input as typed, one entry per step
    ids: np.ndarray  # (T,)  0 = <unk>
    h: np.ndarray  # (L, T, H)
    c: np.ndarray | None  # (L, T, H), LSTM only
    gates: dict[str, np.ndarray]  # name -> (L, T, H)
    probs: np.ndarray  # (T, V) after reading tokens 0..t
    grad_h: np.ndarray  # (L, T)  ||dL/dh^l_t||, 0 after target_step (the SSM: h_t is no state)
    grad_c: np.ndarray | None  # (L, T)  ||dL/dc^l_t||, LSTM only
    target_step: int
    target_id: int
    dh: np.ndarray | None = None  # (L, T, H)  dL/dh^l_t itself (the total derivative)
    dc: np.ndarray | None = None  # (L, T, H)  dL/dc^l_t, LSTM only
    grad_above: np.ndarray | None = None  # (L, T)  ||the part of dL/dh^l_t from the loss or the layer above||
    attribution: np.ndarray | None = None  # (T,)  ||dL/dx_t||^2: how much each input matters to L
    values: np.ndarray | None = None  # (T,) a value model's forecasts (probs is then (T, 0))
    target_value: float | None = None  # the value the gradient's squared error is taken against
    inputs: np.ndarray | None = None  # (T,) a value model's real inputs (ids are then zeros)
    state: np.ndarray | None = None  # (L, T, H, N) the selective SSM's state s_t, SSM only
    grad_state: np.ndarray | None = None  # (L, T)  ||dL/ds^l_t||, SSM only
    # False: the forward pass only (h, c, gates, probs); the gradient fields are not computed
    # (grad_h and grad_c are zeros, dh, dc, grad_above and attribution None): never draw them.
    gradients: bool = True

    @property
    def steps(self) -> int:
        return len(self.ids)

    @property
    def unknown(self) -> np.ndarray:
        """(T,) True where the input token is outside the vocabulary (never, for values)."""
        return self.ids == 0 if self.values is None else np.zeros(self.steps, dtype=bool)

    @property
    def loss_label(self) -> str:
        """The L that the gradients differentiate, as the views caption it."""
        if self.values is None:
            return f"-log p({self.vocab[self.target_id]!r})"
        if self.target_value is None:
            return "the forecast y"
        return f"(y - {self.target_value:.3g})\u00b2/2"

    def final_state(self) -> list[tuple]:
        """Per layer (h, c) after the last step (c None unless LSTM; the SSM: (s, h), its state
        (H, N) and its last output): where a continuation starts."""
        if self.state is not None:
            return [(self.state[n, -1], self.h[n, -1]) for n in range(self.cfg.layers)]
        return [(self.h[n, -1], None if self.c is None else self.c[n, -1]) for n in range(self.cfg.layers)]

    def to_npz(self, path) -> None:
        """Every array of the trace in one .npz file (read back with numpy.load, no pickle): h, c,
        gate_<name>, probs, grad_h, grad_c, dh, dc, attribution, ids, tokens, vocab."""
        arrays = {"h": self.h, "probs": self.probs, "grad_h": self.grad_h, "ids": self.ids}
        arrays |= {f"gate_{k}": v for k, v in self.gates.items()}
        for k in ("c", "grad_c", "dh", "dc", "attribution", "values", "inputs", "state", "grad_state"):
            if getattr(self, k) is not None:
                arrays[k] = getattr(self, k)
        arrays |= {"tokens": np.array(self.tokens, dtype=str), "vocab": np.array(self.vocab, dtype=str)}
        arrays |= {"target": np.array([self.target_step, self.target_id])}
        np.savez_compressed(path, **cast(dict[str, Any], arrays))

    def _repr_png_(self) -> bytes:
        """Jupyter's picture of the trace: the heatmaps with every token labelled (core.picture)."""
        from rnnviz.core.picture import trace_png

        return trace_png(self)

    def to_json(self, attribution: bool = False) -> dict:
        """The `rnnviz trace --json` document (see README, "Trace format"); attribution adds
        "attribution": ||d log p_s(target) / dx_t||^2 for each input token."""
        steps = []
        for t in range(self.steps):
            step = {"h": self.h[:, t].tolist()}
            if self.c is not None:
                step["c"] = self.c[:, t].tolist()
            step["gates"] = {g: a[:, t].tolist() for g, a in self.gates.items()}
            step["probs"] = self.probs[t].tolist()
            step["grad_h"] = self.grad_h[:, t].tolist()
            if self.grad_c is not None:
                step["grad_c"] = self.grad_c[:, t].tolist()
            if self.state is not None and self.grad_state is not None:
                step["state"] = self.state[:, t].tolist()
                step["grad_state"] = self.grad_state[:, t].tolist()
            steps.append(step)
        cfg = self.cfg
        if self.values is not None:
            for t, step in enumerate(steps):
                del step["probs"]
                step["value"] = float(self.values[t])
        return {
            "arch": cfg.arch,
            **({"state": cfg.state} if cfg.arch == "ssm" else {}),
            "nonlinearity": cfg.nonlinearity,
            "layers": cfg.layers,
            "hidden": cfg.hidden,
            "level": self.level,
            "vocab": list(self.vocab),
            "tokens": list(self.tokens),
            "ids": self.ids.tolist(),
            "grad_target": self._grad_target(),
            "steps": steps,
        } | (
            {"attribution": self.attribution.tolist()} if attribution and self.attribution is not None else {}
        )

    def _grad_target(self) -> dict:
        if self.values is None:
            return {"step": self.target_step, "token": self.vocab[self.target_id]}
        return {"step": self.target_step, "value": self.target_value}


def trace(
    w: TraceWeights,
    ids,
    tokens=None,
    vocab=None,
    level="char",
    target_step: int | None = None,
    target_id: int | None = None,
    interventions=(),
) -> Trace:
    """Replay the network on `ids`; gradients of -log p_s(target) (default: last step, argmax).
    interventions: core.intervene.Intervention, applied at every step (forward and backward)."""
    if w.cfg.regression:
        raise VocabError("this model forecasts numbers: trace it on values, not tokens")
    V = w.head_b.shape[0]
    ids, s = check_request(ids, V, target_step)
    fwd = forward(w, ids, interventions=interventions)
    probs = softmax(fwd[-1]["h"] @ w.head_w.T + w.head_b)  # (T, V)
    tid, dlogits = loss_gradient(probs, s, target_id)
    vocab = tuple(vocab) if vocab is not None else tuple(str(i) for i in range(V))
    tokens = tuple(tokens) if tokens is not None else tuple(vocab[i] for i in ids)
    return _assemble(
        w, fwd, dlogits, s, interventions, vocab=vocab, level=level, tokens=tokens, ids=ids, probs=probs,
        target_id=tid,
    )  # fmt: skip


def check_request(ids, V: int, target_step: int | None) -> tuple[np.ndarray, int]:
    """The token ids as an array and the target step (default: the last), or a VocabError."""
    ids = np.asarray(ids, dtype=np.int64)
    T = len(ids)
    if T == 0:
        raise VocabError("nothing to trace: the text is empty")
    if ids.min() < 0 or ids.max() >= V:
        raise VocabError(f"token ids must lie in 0..{V - 1}")
    s = T - 1 if target_step is None else int(target_step)
    if not 0 <= s < T:
        raise VocabError(f"target step {s} is outside 0..{T - 1}")
    return ids, s


def loss_gradient(probs: np.ndarray, s: int, target_id: int | None) -> tuple[int, np.ndarray]:
    """The target token (default: the most likely at step s) and dL/dlogits_s of L = -log p_s(target)."""
    V = probs.shape[1]
    tid = int(np.argmax(probs[s])) if target_id is None else int(target_id)
    if not 0 <= tid < V:
        raise VocabError(f"target token id {tid} is outside 0..{V - 1}")
    d = probs[s].copy()
    d[tid] -= 1.0
    return tid, d


def trace_series(w: TraceWeights, xs, target_step: int | None = None, target: float | None = None) -> Trace:
    """Replay a value model on the real inputs `xs`. Gradients are of L = (y_s - target)^2 / 2, the
    squared error of the forecast y_s made after step s (default: the last), or of y_s itself
    when no target is given."""
    xs = np.asarray(xs, dtype=np.float64)
    T = len(xs)
    if not w.cfg.regression:
        raise VocabError("this model reads tokens, not numbers")
    if T == 0:
        raise VocabError("nothing to trace: no values")
    if not np.isfinite(xs).all():
        raise VocabError("the values must be finite numbers")
    s = T - 1 if target_step is None else int(target_step)
    if not 0 <= s < T:
        raise VocabError(f"target step {s} is outside 0..{T - 1}")
    fwd = forward(w, xs)
    values = fwd[-1]["h"] @ w.head_w[0] + w.head_b[0]  # (T,)
    d_out = np.array([1.0 if target is None else values[s] - float(target)])
    tokens = tuple(f"{x:.3g}" for x in xs)
    return _assemble(
        w, fwd, d_out, s, vocab=(), level="value", tokens=tokens, ids=np.zeros(T, dtype=np.int64),
        probs=np.zeros((T, 0)), target_id=0, values=values, target_value=target, inputs=xs,
    )  # fmt: skip


def _assemble(
    w: TraceWeights, fwd: list[dict], d_out: np.ndarray, s: int, interventions=(), **fields
) -> Trace:
    """Backward from dL/d(output at step s) = d_out, then the Trace of everything."""
    if w.cfg.modern:
        return _assemble_modern(w, fwd, d_out, s, interventions, **fields)
    arch, L, T, H = w.cfg.arch, w.cfg.layers, len(fwd[0]["h"]), w.cfg.hidden
    edits = layer_edits(interventions, w.cfg)
    # Backward, top layer first: each layer's input gradient is injected into the one below.
    dh, dc = np.zeros((L, T, H)), np.zeros((L, T, H)) if arch == "lstm" else None
    inject, above = np.zeros((T, H)), np.zeros((L, T))
    inject[s] = d_out @ w.head_w
    for n in range(L - 1, -1, -1):
        above[n] = np.linalg.norm(inject, axis=-1)
        inject = BACKWARD[arch](
            w.cfg, w.layers[n], fwd[n], inject, s, dh[n], None if dc is None else dc[n], edits[n]
        )
    # inject is now dL/dx_t: with respect to each one-hot vector, embedding row or value read
    gates = {g: np.stack([f["act"][:, k * H : (k + 1) * H] for f in fwd]) for k, g in enumerate(GATES[arch])}
    return Trace(
        cfg=w.cfg,
        h=np.stack([f["h"] for f in fwd]),
        c=np.stack([f["c"] for f in fwd]) if arch == "lstm" else None,
        gates=gates,
        grad_h=np.linalg.norm(dh, axis=-1),
        grad_c=None if dc is None else np.linalg.norm(dc, axis=-1),
        target_step=s,
        dh=dh,
        dc=dc,
        grad_above=above,
        attribution=(inject**2).sum(-1),
        **fields,
    )


def _assemble_modern(
    w: TraceWeights,
    fwd: list[dict],
    d_out: np.ndarray,
    s: int,
    interventions=(),
    gradients: bool = True,
    **fields,
):
    """As `_assemble`, for minGRU, minLSTM and the SSM (core.cells_modern). gradients=False: the
    forward pass only (Trace.gradients False: zero norms, no dh, grad_above or attribution)."""
    arch, L, T, H = w.cfg.arch, w.cfg.layers, len(fwd[0]["h"]), w.cfg.hidden
    dh, inject, above, grad_state = np.zeros((L, T, H)), np.zeros((T, H)), np.zeros((L, T)), np.zeros((L, T))
    if gradients:
        edits = layer_edits(interventions, w.cfg)
        inject[s] = d_out @ w.head_w
        for n in range(L - 1, -1, -1):
            above[n] = np.linalg.norm(inject, axis=-1)
            inject, gs = cells_modern.BACKWARD[arch](w.cfg, w.layers[n], fwd[n], inject, s, dh[n], edits[n])
            if gs is not None:
                grad_state[n] = gs
    ssm = arch == "ssm"
    return Trace(
        cfg=w.cfg,
        h=np.stack([f["h"] for f in fwd]),
        c=None,
        gates={g: np.stack([f["gates"][g] for f in fwd]) for g in GATES[arch]},
        grad_h=np.linalg.norm(dh, axis=-1),
        grad_c=None,
        target_step=s,
        dh=dh if gradients else None,
        grad_above=above if gradients else None,
        attribution=(inject**2).sum(-1) if gradients else None,
        state=np.stack([f["s"] for f in fwd]) if ssm else None,
        grad_state=grad_state if ssm else None,
        gradients=gradients,
        **fields,
    )


def forward(w: TraceWeights, ids: np.ndarray, state=None, interventions=()) -> list[dict]:
    """Per layer: h (T, H), c (LSTM), activated gates `act` (T, G*H) and what backward needs
    (a modern cell: `gates` by name instead of `act`, the SSM its state `s` (T, H, N)).

    `state`: per layer (h0, c0) to start from (c0 None unless LSTM; the SSM: (s0, its last h), of
    which only s0 is read); default zeros.
    """
    edits = layer_edits(interventions, w.cfg)
    fwd: list[dict] = []
    if w.cfg.modern:
        x = w.layer_input(ids)
        for n, lw in enumerate(w.layers):
            s0 = state[n][0] if state is not None else None
            fwd.append(cells_modern.FORWARD[w.cfg.arch](w.cfg, lw, x, s0, edits[n]))
            x = fwd[-1]["h"]
        return fwd
    x_proj = w.input_projection(ids)
    for n, lw in enumerate(w.layers):
        if n:
            x_proj = fwd[-1]["h"] @ lw.w_ih.T + lw.b_ih
        h0, c0 = state[n] if state is not None else (None, None)
        fwd.append(FORWARD[w.cfg.arch](w.cfg, lw, x_proj, h0, c0, edits[n]))
    return fwd


def final_state(fwd: list[dict]) -> list[tuple]:
    """The state after the last step of `forward`, to continue from."""
    return [
        (f["s"][-1], f["h"][-1]) if "s" in f else (f["h"][-1], f["c"][-1] if "c" in f else None) for f in fwd
    ]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = (logits - logits.max(axis=-1, keepdims=True)) / temperature  # shift first: any T > 0 is safe
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def trace_text(
    w: TraceWeights, vocab, text: str, target: str | None = None, target_step: int | None = None
) -> Trace:
    """Tokenise `text` with the model's vocabulary (unknown tokens -> <unk>) and trace it."""
    from rnnviz.core.corpus import tokenize

    tokens = tokenize(text, vocab.level)
    target_id = None
    if target is not None:
        if target not in vocab.stoi:
            raise VocabError(f"target not in the vocabulary: {target!r}")
        target_id = vocab.stoi[target]
    return trace(
        w,
        vocab.ids(tokens),
        tokens=tokens,
        vocab=vocab.tokens,
        level=vocab.level,
        target_step=target_step,
        target_id=target_id,
    )
