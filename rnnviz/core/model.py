"""CharRNN: one-hot or embedded tokens -> fused nn.RNN / nn.LSTM / nn.GRU (or a modern cell of
core.modern: minGRU, minLSTM, the selective SSM) -> linear head.

The submodule names (`embedding`, `rnn`, `head`) make the state_dict keys, which are the
checkpoint format: a plain `nn.LSTM` and `nn.Linear` load them directly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rnnviz.core.config import (
    ARCHS,
    GATES,
    INPUTS,
    MAX_HIDDEN,
    MAX_LAYERS,
    NONLINEARITIES,
    OUTPUTS,
    ModelConfig,
)

__all__ = ["ARCHS", "GATES", "INPUTS", "MAX_HIDDEN", "MAX_LAYERS", "NONLINEARITIES", "OUTPUTS", "ModelConfig",
           "CharRNN", "pick_device", "state_arrays"]  # fmt: skip


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
        self.rnn: nn.Module
        if cfg.modern:
            from rnnviz.core.modern import ModernStack

            self.rnn = ModernStack(cfg)
        elif cfg.arch == "rnn":
            self.rnn = nn.RNN(nonlinearity=cfg.nonlinearity, **kw)
        else:
            self.rnn = (nn.LSTM if cfg.arch == "lstm" else nn.GRU)(**kw)
        self.head = nn.Linear(cfg.hidden, cfg.out_size)
        self.dropout = 0.0  # on the non-recurrent connections, while training (set_dropout)
        if cfg.arch == "lstm":
            self._open_forget_gates()

    def set_dropout(self, p: float) -> None:
        """Dropout p (Zaremba et al. 2014: on the non-recurrent connections only) between stacked
        layers and between the top layer and the head, while training; none in evaluation or traces."""
        self.dropout = float(p)
        setattr(self.rnn, "dropout", self.dropout if self.cfg.layers > 1 else 0.0)  # noqa: B010 (typed as a module)

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
        if self.dropout > 0:
            out = F.dropout(out, self.dropout, self.training)
        return self.head(out), state


def pick_device(prefer: str = "auto") -> torch.device:
    """CUDA when present (and asked for or 'auto'), else the CPU."""
    if prefer == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def state_arrays(model: nn.Module) -> dict:
    """Copies of the weights as numpy arrays (never views: the optimiser changes the tensors)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
