"""The model's and the training's settings: plain dataclasses with no torch, so that the app's
window (which never imports torch) can build and check them and send them to the training process.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from rnnviz.core.errors import ConfigError

OPTIMIZER_NAMES = ("sgd", "adam", "rmsprop", "adagrad")
SAMPLE_MODES = ("stream", "windows", "words", "lines")  # see core/samples.py
NONFINITE_LIMIT = 10  # skipped (non-finite) steps in a row before training stops by itself
CLASSIC_ARCHS = ("rnn", "lstm", "gru")  # fused torch modules, gates that read h_(t-1)
MODERN_ARCHS = ("mingru", "minlstm", "ssm")  # gates that read x_t only: trained as a parallel scan
ARCHS = CLASSIC_ARCHS + MODERN_ARCHS
ARCH_NAMES = {
    "rnn": "RNN",
    "lstm": "LSTM",
    "gru": "GRU",
    "mingru": "minGRU",
    "minlstm": "minLSTM",
    "ssm": "S6",
}
MAX_STATE = 256  # the selective SSM's state size N per channel
NONLINEARITIES = ("tanh", "relu")
INPUTS = ("onehot", "embedding", "value")  # "value": one real number per step (time series)
OUTPUTS = ("tokens", "value")  # next-token logits, or one real number (regression)
# Gate names per architecture, in PyTorch's row order inside weight_ih / weight_hh; minLSTM's f and
# i are the normalised f' and i'; the SSM's delta is (H) per step, its B and C (N) per step.
GATES = {
    "rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"),
    "mingru": ("z",), "minlstm": ("f", "i"), "ssm": ("delta", "B", "C"),
}  # fmt: skip
MAX_LAYERS = 3
MAX_HIDDEN = 4096


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    arch: str = "lstm"
    nonlinearity: str = "tanh"  # used by arch "rnn" only
    layers: int = 1
    hidden: int = 128
    input: str = "onehot"
    embed_dim: int = 32  # used by input "embedding" only
    output: str = "tokens"
    state: int = 16  # used by arch "ssm" only: the state size N of each channel

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown architecture {self.arch!r}: choose {', '.join(ARCHS)}")
        if self.nonlinearity not in NONLINEARITIES:
            raise ConfigError(f"unknown nonlinearity {self.nonlinearity!r}: choose tanh or relu")
        if self.input not in INPUTS:
            raise ConfigError(f"unknown input {self.input!r}: choose onehot, embedding or value")
        if self.output not in OUTPUTS:
            raise ConfigError(f"unknown output {self.output!r}: choose tokens or value")
        if (self.input == "value") != (self.output == "value"):
            raise ConfigError("a model reads and predicts real values together, or tokens together")
        _check_range("layers", self.layers, 1, MAX_LAYERS)
        _check_range("hidden size", self.hidden, 1, MAX_HIDDEN)
        _check_range("embedding size", self.embed_dim, 1, MAX_HIDDEN)
        _check_range("state size", self.state, 1, MAX_STATE)
        if self.output == "value":
            _check_range("vocabulary size of a value model", self.vocab_size, 0, 0)
        else:
            _check_range("vocabulary size", self.vocab_size, 2, 1_000_000)

    @property
    def regression(self) -> bool:
        """True for a model that reads and predicts real numbers (MSE loss), not tokens."""
        return self.output == "value"

    @property
    def out_size(self) -> int:
        return 1 if self.regression else self.vocab_size

    @property
    def input_size(self) -> int:
        return {"embedding": self.embed_dim, "value": 1}.get(self.input, self.vocab_size)

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES[self.arch]

    @property
    def modern(self) -> bool:
        """minGRU, minLSTM or the selective SSM: no recurrent weight matrix, gates read x_t only."""
        return self.arch in MODERN_ARCHS

    @property
    def name(self) -> str:
        """The architecture as people write it: "LSTM", "minGRU", "S6"."""
        return ARCH_NAMES[self.arch]

    def to_dict(self) -> dict:
        return asdict(self)


def _check_range(what: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{what} must be a whole number from {lo} to {hi}, not {value!r}")


LOSS_MODES = ("many-to-many", "many-to-one")


@dataclass(frozen=True)
class TrainConfig:
    seq_len: int = 64
    batch: int = 32
    optimizer: str = "adam"
    lr: float = 2e-3
    clip: float | None = 1.0  # max total gradient norm; None: no clipping
    seed: int = 0
    loss_mode: str = "many-to-many"
    val_fraction: float = 0.1
    samples: str = "stream"  # or "windows" / "words" / "lines": many-to-one samples (see core/samples.py)
    dropout: float = 0.0  # dropout on the non-recurrent connections: between layers, and before the head
    weight_decay: float = 0.0  # L2 penalty, the optimiser's weight_decay

    def __post_init__(self) -> None:
        for what, v, hi in (
            ("sequence length", self.seq_len, 100_000),
            ("batch size", self.batch, 65_536),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
                raise ConfigError(f"{what} must be a whole number from 1 to {hi}, not {v!r}")
        check_optimizer(self.optimizer)
        check_lr(self.lr)
        check_clip(self.clip)
        if self.loss_mode not in LOSS_MODES:
            raise ConfigError(f"unknown loss mode {self.loss_mode!r}: choose {' or '.join(LOSS_MODES)}")
        if self.samples not in SAMPLE_MODES:
            raise ConfigError(f"unknown sample mode {self.samples!r}: choose {', '.join(SAMPLE_MODES)}")
        if self.samples != "stream" and self.loss_mode != "many-to-one":
            raise ConfigError(f"{self.samples} samples have one target each: the loss mode is many-to-one")
        if not 0.0 <= self.val_fraction < 0.9:
            raise ConfigError(f"held-out fraction must be in [0, 0.9), not {self.val_fraction!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be a whole number >= 0, not {self.seed!r}")
        if not _number_in(self.dropout, 0.0, 0.9):
            raise ConfigError(f"dropout must be a number in [0, 0.9], not {self.dropout!r}")
        if not _number_in(self.weight_decay, 0.0, 1.0):
            raise ConfigError(f"weight decay must be a number in [0, 1], not {self.weight_decay!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def _number_in(v, lo: float, hi: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi


def check_optimizer(name: str) -> None:
    if name not in OPTIMIZER_NAMES:
        raise ConfigError(f"unknown optimizer {name!r}: choose {', '.join(OPTIMIZER_NAMES)}")


def check_lr(lr: float) -> None:
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 1e4:
        raise ConfigError(f"learning rate must be a number in (0, 10000], not {lr!r}")


def check_clip(clip: float | None) -> None:
    if clip is not None and (not isinstance(clip, (int, float)) or not math.isfinite(clip) or clip <= 0):
        raise ConfigError(f"clipping must be off or a positive max norm, not {clip!r}")
