"""Who listens to whom: alpha[t, s], how much the token read at step s makes of a layer's output h_t
at step t, for every pair s <= t of a text: a T x T lower-triangular matrix (numpy).

minGRU, minLSTM and the S6 (PARTS, exact). Once its gates are known, each layer is linear in its
input: minGRU h_t = (1 - z_t) h_(t-1) + z_t h~_t, minLSTM h_t = f'_t h_(t-1) + i'_t h~_t, with
h~_t = W_h x_t + b_h; the SSM s_t = exp(Delta_t A) s_(t-1) + (Delta_t u_t) B_t, y_t = s_t C_t + D u_t,
h_t = y_t silu(gate_t), with u_t = W_in x_t + b_in. So h_t splits into one part per token:
in layer 0, part(t, s) = (prod_(k=s+1..t) a_k) * b_s (a = 1 - z, b = z h~; a = f', b = i' h~), and
for the SSM, part(t, s)[c] = gate_t[c] (alpha_(t,s)[c] u_s[c] + [s = t] D[c] u_t[c]) with Mamba's
hidden attention alpha_(t,s)[c] = sum_n C_t[n] prod_(k=s+1..t) exp(Delta_k[c] A[c,n]) Delta_s[c] B_s[n]
(Ali et al. 2024). A layer above reads the parts of the layer below's h_t, carried through the same
linear maps with its own gates as computed (the gates read x_t whole: they are not split); a bias
is the part of the token at whose step it is added. Every layer's parts add up to its h_t exactly.
alpha = ||part|| ("norm"), or its component along h_t ("along": signed, a row sums to ||h_t||).
An intervention that clamps h (or an SSM state row) sets it at its step: the value is that step's
token's part. With `channel`, the SSM shows Ali et al.'s alpha_(t,s)[c] itself (ATTENTION): one
channel of one layer, s being that layer's input at step s (the layer below's output there).

RNN, LSTM and GRU (JACOBIAN, not an attention): alpha(t, s) = ||dh_t / dx_s||_F, the Frobenius norm
of the H x D Jacobian of the layer's h_t with respect to the model's input x_s (one-hot or
embedding row), through every path (the layers below included). It is computed forward-mode: the
tangents dh_t/dx_s of every s <= t are carried from step to step together (one matrix product a
step), so a text that grows by a token costs one step (Listener keeps them). Forced gates and
clamped units are constants, as the backward pass of core.cells treats them.

Texts start from a zero state, as the typed text does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnnviz.core.config import ARCH_NAMES
from rnnviz.core.errors import ConfigError, VocabError
from rnnviz.core.intervene import layer_edits
from rnnviz.core.listen_steps import PartsRun, TangentRun, hidden_attention
from rnnviz.core.trace import TraceWeights, forward

PARTS, ATTENTION, JACOBIAN = "parts", "attention", "jacobian"
MEASURES = {PARTS: ("norm", "along"), JACOBIAN: ("norm",)}
MAX_STEPS = 1000  # a T x T matrix; the app reads at most 200 tokens


@dataclass(frozen=True, eq=False)
class Listening:
    """alpha[t, s] of one layer on one text (NaN above the diagonal, where s > t)."""

    alpha: np.ndarray  # (T, T)
    arch: str
    layer: int  # from 0
    kind: str  # PARTS, ATTENTION or JACOBIAN
    measure: str  # "norm" or "along" (PARTS), "norm" (JACOBIAN), "alpha" (ATTENTION)
    channel: int | None  # the SSM channel of ATTENTION
    tokens: tuple[str, ...]

    @property
    def steps(self) -> int:
        return len(self.alpha)

    @property
    def signed(self) -> bool:
        """Values of either sign (a diverging colour map), else >= 0."""
        return self.kind == ATTENTION or self.measure == "along"

    @property
    def symbol(self) -> str:
        """What a read-out calls a value."""
        return "\u2016\u2202h_t/\u2202x_s\u2016" if self.kind == JACOBIAN else "\u03b1"

    @property
    def label(self) -> str:
        """What alpha is, in one line (the view's caption, the table's heading)."""
        name, layer = ARCH_NAMES.get(self.arch, self.arch), f"layer {self.layer + 1}"
        if self.kind == JACOBIAN:
            return (
                f"{name} {layer}: Jacobian norm \u2016\u2202h_t/\u2202x_s\u2016 of h_t with respect to the "
                "input token x_s, through every path (not an attention)"
            )
        if self.kind == ATTENTION:
            return (
                f"{name} {layer}, channel {self.channel}: hidden attention \u03b1(t,s) (Ali et al. 2024), "
                f"y_t = \u03a3_s \u03b1(t,s) u_s + D u_t; s is {layer}'s input at step s (exact)"
            )
        what = (
            "\u2016part of h_t from token s\u2016"
            if self.measure == "norm"
            else "part of h_t from token s, along h_t (a row adds up to \u2016h_t\u2016)"
        )
        below = ", carried up through the layers below with their gates as computed" if self.layer else ""
        return f"{name} {layer}: \u03b1(t,s) = {what}{below}: the parts add up to h_t exactly"

    def to_json(self) -> dict:
        """The `rnnviz listen --json` document: alpha as rows, row t holding s = 0..t."""
        return {
            "arch": self.arch,
            "layer": self.layer + 1,
            "kind": self.kind,
            "measure": self.measure,
            **({"channel": self.channel} if self.channel is not None else {}),
            "label": self.label,
            "tokens": list(self.tokens),
            "alpha": [self.alpha[t, : t + 1].tolist() for t in range(self.steps)],
        }


def kind_of(arch: str, channel: int | None = None) -> str:
    if arch in ("rnn", "lstm", "gru"):
        return JACOBIAN
    return ATTENTION if channel is not None else PARTS


def check(w: TraceWeights, layer: int, measure: str, channel: int | None) -> str:
    """The kind of alpha asked for, or a ConfigError in the user's terms (layers from 1)."""
    cfg = w.cfg
    if cfg.regression:
        raise ConfigError("this model forecasts numbers: who listens to whom is shown for token models")
    if not 0 <= layer < cfg.layers:
        raise ConfigError(f"layer must be 1 to {cfg.layers}, not {layer + 1}")
    if channel is not None:
        if cfg.arch != "ssm":
            raise ConfigError(f"channels are chosen in S6 models only (this model: {cfg.name})")
        if not 0 <= channel < cfg.hidden:
            raise ConfigError(f"channel must lie in 0..{cfg.hidden - 1}, not {channel}")
        return ATTENTION
    kind = kind_of(cfg.arch)
    if measure not in MEASURES[kind]:
        raise ConfigError(f"{cfg.name}: alpha is measured as {' or '.join(MEASURES[kind])}, not {measure!r}")
    return kind


class Listener:
    """alpha for a text, keeping its running sums from call to call: a text that grows by tokens
    costs only the new steps, and a shorter text that the last one began with costs nothing.
    dtype: of the running sums (float64, or float32 at half the time: the app)."""

    def __init__(self, w: TraceWeights, dtype=np.float64):
        self.w, self.dtype = w, np.dtype(dtype)
        self.ids = np.zeros(0, dtype=np.int64)  # the tokens whose rows are in self.rows
        self.rows: dict[str, np.ndarray] = {}  # measure -> (cap, cap) alpha rows computed
        self._key: tuple | None = None
        self._run: PartsRun | TangentRun | None = None
        self._state: list | None = None  # core.trace.final_state after self.ids (to continue from)
        self._back: tuple | None = None  # (n, the running sums, the state) after the first n tokens

    def listen(
        self, ids, layer: int = 0, measure: str = "norm", channel: int | None = None, interventions=(),
        tokens=None, cancelled: Callable[[], bool] | None = None,
    ) -> Listening | None:  # fmt: skip
        """alpha of layer `layer` (from 0) on the token ids; None if `cancelled()` said so first
        (the steps done are kept). channel: an SSM channel's hidden attention."""
        kind = check(self.w, layer, measure, channel)
        ids = check_ids(ids, self.w.head_b.shape[0])
        tokens = tuple(tokens) if tokens is not None else tuple(str(i) for i in ids)
        interventions = tuple(interventions)
        if kind == ATTENTION:
            assert channel is not None
            fwd = forward(self.w, ids, interventions=interventions)
            alpha = hidden_attention(fwd[layer], channel, layer_edits(interventions, self.w.cfg)[layer])
            return Listening(alpha, self.w.cfg.arch, layer, kind, "alpha", channel, tokens)
        if not self._extend(ids, layer, interventions, cancelled):
            return None
        T = len(ids)
        alpha = self.rows[measure][:T, :T].astype(np.float64)
        alpha[np.triu_indices(T, 1)] = np.nan
        return Listening(alpha, self.w.cfg.arch, layer, kind, measure, None, tokens)

    def _extend(self, ids: np.ndarray, layer: int, interventions: tuple, cancelled) -> bool:
        """self.rows hold the rows of ids (False: cancelled first)."""
        n = min(len(ids), len(self.ids))
        differ = np.flatnonzero(ids[:n] != self.ids[:n])
        k = int(differ[0]) if differ.size else n
        key = (layer, interventions)
        if key == self._key and k < len(self.ids) and k < len(ids) and self._back and self._back[0] <= k:
            assert self._run is not None
            k, sums, self._state = self._back  # a changed last token: from the step before it
            self._run.restore(sums)
            self.ids = self.ids[:k]
        elif key != self._key or k < len(self.ids) and k < len(ids):
            self._start(key, len(ids))
            k = 0
        elif k == len(ids):  # the text the last one began with: its rows are there
            return True
        assert self._run is not None
        self._grow(len(ids))
        fwd = forward(self.w, ids[k:], state=self._state, interventions=interventions)
        for i, t in enumerate(range(k, len(ids))):
            if cancelled is not None and cancelled():
                self._keep(ids, fwd, k, i)
                return False
            if t == len(ids) - 1 and t:  # kept: typing over the last token costs one step
                self._back = (
                    t,
                    self._run.snapshot(t),
                    self._state if i == 0 else [_state_at(f, i - 1) for f in fwd],
                )
            for measure, row in self._run.step(fwd, i, t).items():
                self.rows[measure][t, : t + 1] = row
        self._keep(ids, fwd, k, len(ids) - k)
        return True

    def _start(self, key: tuple, T: int) -> None:
        layer, interventions = key
        edits = layer_edits(interventions, self.w.cfg)
        run = TangentRun if kind_of(self.w.cfg.arch) == JACOBIAN else PartsRun
        self._key, self._run = key, run(self.w, layer, edits, self.dtype)
        self.ids, self._state, self._back, self.rows = self.ids[:0], None, None, {}
        self._grow(T)

    def _grow(self, T: int) -> None:
        """Room for T steps in the rows and the running sums (kept)."""
        assert self._run is not None
        if self.rows and T <= self._run.cap:
            return
        cap = max(T, 2 * self._run.cap, 16)
        self._run.grow(cap)
        old, n = self.rows, len(self.ids)
        self.rows = {m: np.zeros((cap, cap), self.dtype) for m in self._run.measures}
        for m, a in old.items():
            self.rows[m][:n, :n] = a[:n, :n]

    def _keep(self, ids: np.ndarray, fwd: list[dict], k: int, done: int) -> None:
        """The first k + done tokens of ids are read: where a later text continues from."""
        self.ids = ids[: k + done].copy()
        if done:
            self._state = [_state_at(f, done - 1) for f in fwd]


def _state_at(f: dict, i: int) -> tuple:
    """core.trace.final_state of one layer after its chunk's step i."""
    if "s" in f:
        return f["s"][i], f["h"][i]
    return f["h"][i], f["c"][i] if "c" in f else None


def check_ids(ids, V: int) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) == 0:
        raise VocabError("nothing to read: the text is empty")
    if len(ids) > MAX_STEPS:
        raise VocabError(f"who listens to whom is a T x T matrix: at most {MAX_STEPS} tokens, not {len(ids)}")
    if ids.min() < 0 or ids.max() >= V:
        raise VocabError(f"token ids must lie in 0..{V - 1}")
    return ids


def listen(
    w: TraceWeights, ids, layer: int = 0, measure: str = "norm", channel: int | None = None, interventions=(),
    tokens=None,
) -> Listening:  # fmt: skip
    """alpha of layer `layer` (from 0) on the token ids, computed afresh (float64)."""
    out = Listener(w).listen(ids, layer, measure, channel, interventions, tokens)
    assert out is not None  # never cancelled
    return out
