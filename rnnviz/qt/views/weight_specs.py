"""What the Weights tab offers: every weight tensor of a model, named as the equations name it,
with what its rows and columns index. A classic cell has W_ih and W_hh (gate blocks x units); a
modern one has no recurrent matrix: minGRU's W_z and W_h, minLSTM's W_f, W_i and W_h, and the
selective SSM's W_in, W_gate, W_Delta, W_B, W_C, A = -exp(A_log) and D (core.modern)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.core.config import ModelConfig

DELTA = "\u0394"
COL_TITLES = {
    "tokens": "input token (one-hot)",
    "embed": "embedding dim",
    "below": "unit of layer below",
    "hprev": "unit (h<sub>t-1</sub>)",
    "units": "unit of the top layer",
    "u": "unit of u = W<sub>in</sub> x",
    "states": "state index n",
    "bias": "",
}
ROW_TITLES = {"tokens": "token", "units": "unit", "states": "state index n"}  # "gates": gate blocks


@dataclass(frozen=True)
class MatrixSpec:
    """One weight tensor: its state_dict key, its name, and what its rows and columns index.
    `derive` "-exp": the tensor drawn is -exp(the stored one) (the SSM's A from A_log)."""

    key: str
    name: str
    rows: str  # "gates" (gate blocks x units) | "tokens" | "units" (H) | "states" (N)
    cols: str  # a key of COL_TITLES
    layer: int = 0
    derive: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.key})"

    def shown(self, a: np.ndarray) -> np.ndarray:
        """The array as drawn."""
        return -np.exp(a) if self.derive == "-exp" else a


def matrix_specs(cfg: ModelConfig) -> list[MatrixSpec]:
    """The matrices of a CharRNN in data-flow order, then its bias vectors."""
    first = "embed" if cfg.input == "embedding" else "tokens"
    specs = [MatrixSpec("embedding.weight", "embedding", "tokens", "embed")] if first == "embed" else []
    if cfg.modern:
        mats, vectors = _modern_specs(cfg, first)
        return specs + mats + [MatrixSpec("head.weight", "head W_hy", "tokens", "units", cfg.layers - 1)] + (
            vectors + [MatrixSpec("head.bias", "head b_y", "tokens", "bias", cfg.layers - 1)]
        )  # fmt: skip
    for n in range(cfg.layers):
        cols = first if n == 0 else "below"
        specs.append(MatrixSpec(f"rnn.weight_ih_l{n}", f"W_ih layer {n + 1}", "gates", cols, n))
        specs.append(MatrixSpec(f"rnn.weight_hh_l{n}", f"W_hh layer {n + 1}", "gates", "hprev", n))
    specs.append(MatrixSpec("head.weight", "head W_hy", "tokens", "units", cfg.layers - 1))
    for n in range(cfg.layers):
        specs.append(MatrixSpec(f"rnn.bias_ih_l{n}", f"b_ih layer {n + 1}", "gates", "bias", n))
        specs.append(MatrixSpec(f"rnn.bias_hh_l{n}", f"b_hh layer {n + 1}", "gates", "bias", n))
    specs.append(MatrixSpec("head.bias", "head b_y", "tokens", "bias", cfg.layers - 1))
    return specs


# A modern layer's matrices: (name in the checkpoint, as the equations write it, rows, cols).
# "x": the layer's input (one-hot tokens, an embedding, or the layer below).
MODERN = {
    "mingru": (("z", "W_z", "units", "x"), ("h", "W_h (candidate)", "units", "x")),
    "minlstm": (
        ("f", "W_f", "units", "x"), ("i", "W_i", "units", "x"), ("h", "W_h (candidate)", "units", "x"),
    ),
    "ssm": (
        ("in_proj", "W_in", "units", "x"), ("gate", "W_gate", "units", "x"),
        ("delta", f"W_{DELTA}", "units", "u"), ("B", "W_B", "states", "u"), ("C", "W_C", "states", "u"),
    ),
}  # fmt: skip
MODERN_BIASES = {"mingru": ("z", "h"), "minlstm": ("f", "i", "h"), "ssm": ("in_proj", "gate", "delta")}


def _modern_specs(cfg: ModelConfig, first: str) -> tuple[list[MatrixSpec], list[MatrixSpec]]:
    mats, vectors = [], []
    for n in range(cfg.layers):
        p, x = f"rnn.l{n}.", first if n == 0 else "below"
        for key, name, rows, cols in MODERN[cfg.arch]:
            mats.append(
                MatrixSpec(f"{p}{key}.weight", f"{name} layer {n + 1}", rows, x if cols == "x" else cols, n)
            )
        if cfg.arch == "ssm":
            mats.append(
                MatrixSpec(f"{p}A_log", f"A = -exp(A_log) layer {n + 1}", "units", "states", n, "-exp")
            )
            vectors.append(MatrixSpec(f"{p}D", f"D (skip u \u2192 y) layer {n + 1}", "units", "bias", n))
        for key in MODERN_BIASES[cfg.arch]:
            name = {"in_proj": "b_in", "delta": f"b_{DELTA}"}.get(key, f"b_{key}")
            vectors.append(MatrixSpec(f"{p}{key}.bias", f"{name} layer {n + 1}", "units", "bias", n))
    return mats, vectors


def default_key(cfg: ModelConfig) -> str:
    """What the tab shows first: the recurrent matrix W_hh; a modern cell has none: its first
    gate's matrix (the SSM: A, the state's decay)."""
    return {"mingru": "rnn.l0.z.weight", "minlstm": "rnn.l0.f.weight", "ssm": "rnn.l0.A_log"}.get(
        cfg.arch, "rnn.weight_hh_l0"
    )


def no_recurrent_matrix(cfg: ModelConfig) -> str:
    """What the tab says of W_hh and its spectral radius for a modern cell ("" for a classic one)."""
    if not cfg.modern:
        return ""
    decay = "exp(\u0394_t A), elementwise" if cfg.arch == "ssm" else "its gate, elementwise"
    return (
        f"A {cfg.name} has no recurrent matrix W_hh (so no spectral radius): its gates read x_t only, "
        f"and its state decays by {decay}."
    )
