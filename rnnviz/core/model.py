"""CharRNN: one-hot or embedded tokens -> fused nn.RNN / nn.LSTM / nn.GRU -> linear head.

The submodule names (`embedding`, `rnn`, `head`) make the state_dict keys, which are the
checkpoint format: a plain `nn.LSTM` and `nn.Linear` load them directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rnnviz.core.errors import ConfigError

ARCHS = ("rnn", "lstm", "gru")
NONLINEARITIES = ("tanh", "relu")
INPUTS = ("onehot", "embedding", "value")  # "value": one real number per step (time series)
OUTPUTS = ("tokens", "value")  # next-token logits, or one real number (regression)
# Gate names per architecture, in PyTorch's row order inside weight_ih / weight_hh.
GATES = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
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

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown architecture {self.arch!r}: choose rnn, lstm or gru")
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

    def to_dict(self) -> dict:
        return asdict(self)


def _check_range(what: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{what} must be a whole number from {lo} to {hi}, not {value!r}")


class CharRNN(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        if cfg.input == "embedding":
            self.embedding = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        kw = dict(
            input_size=cfg.input_size,
            hidden_size=cfg.hidden,
            num_layers=cfg.layers,
            batch_first=True,
        )
        if cfg.arch == "rnn":
            self.rnn = nn.RNN(nonlinearity=cfg.nonlinearity, **kw)
        else:
            self.rnn = (nn.LSTM if cfg.arch == "lstm" else nn.GRU)(**kw)
        self.head = nn.Linear(cfg.hidden, cfg.out_size)
        if cfg.arch == "lstm":
            self._open_forget_gates()

    @torch.no_grad()
    def _open_forget_gates(self) -> None:
        """Forget-gate bias 1 (Gers et al. 2000; Jozefowicz et al. 2015): f starts near 0.73, not 0.5,
        so the cell state carries information (and gradient) further from the first step."""
        H = self.cfg.hidden
        for n in range(self.cfg.layers):
            getattr(self.rnn, f"bias_ih_l{n}")[H : 2 * H] = 1.0
            getattr(self.rnn, f"bias_hh_l{n}")[H : 2 * H] = 0.0

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) int64 ids (or float values) -> (B, T, D) float inputs of the first recurrent layer."""
        if self.cfg.input == "value":
            return ids.unsqueeze(-1).to(self.head.weight.dtype)
        if self.cfg.input == "embedding":
            return self.embedding(ids)
        return F.one_hot(ids, self.cfg.vocab_size).to(self.head.weight.dtype)

    def forward(self, ids: torch.Tensor, state=None):
        """(B, T) ids -> logits (B, T, V) (or values (B, T, 1)) and the final state (h, or (h, c))."""
        out, state = self.rnn(self.embed(ids), state)  # (B, T, H)
        return self.head(out), state


def pick_device(prefer: str = "auto") -> torch.device:
    """CUDA when present (and asked for or 'auto'), else the CPU."""
    if prefer == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def state_arrays(model: nn.Module) -> dict:
    """Copies of the weights as numpy arrays (never views: the optimiser changes the tensors)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
