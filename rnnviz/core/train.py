"""Trainer: truncated backpropagation through time on a fused RNN/LSTM/GRU, one step at a time.

Plain Python with no Qt, usable from any thread. The corpus is cut into `batch` parallel
streams; each step reads the next `seq_len` tokens of every stream, carrying the hidden state
across chunks (detached), so the network sees the text in order.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from rnnviz.core.config import (
    LOSS_MODES,
    NONFINITE_LIMIT,
    TrainConfig,
    check_clip,
    check_lr,
    check_optimizer,
)
from rnnviz.core.corpus import Corpus
from rnnviz.core.errors import ConfigError
from rnnviz.core.model import CharRNN, ModelConfig, pick_device, state_arrays
from rnnviz.core.samples import Samples, build_samples
from rnnviz.core.snapshot import EvalMetrics, Snapshot, StepMetrics

__all__ = ["LOSS_MODES", "NONFINITE_LIMIT", "OPTIMIZERS", "TrainConfig", "Trainer", "check_clip", "check_lr",
           "check_optimizer"]  # fmt: skip

OPTIMIZERS = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}
LN2 = math.log(2.0)


class Trainer:
    def __init__(
        self,
        corpus: Corpus,
        model_cfg: ModelConfig,
        cfg: TrainConfig,
        device: str = "auto",
        weights: dict | None = None,
        updates: int = 0,
    ):
        self.corpus, self.model_cfg, self.cfg = corpus, model_cfg, cfg
        self.device = pick_device(device)
        torch.manual_seed(cfg.seed)
        self.model = CharRNN(model_cfg)
        self.model.set_dropout(cfg.dropout)
        if weights is not None:
            self.model.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
        self.model.to(self.device)
        self.params = dict(self.model.named_parameters())
        self.samples: Samples | None = None  # many-to-one samples, or None: ordered streams
        self.val_samples: Samples | None = None
        self.notes: list[str] = []
        if model_cfg.regression and cfg.samples != "windows":
            raise ConfigError("a model of real values trains on windows of the series (samples: windows)")
        if (corpus.vocab is None) != model_cfg.regression:
            raise ConfigError(f"{corpus.name} does not suit this model: numbers need a value model")
        if cfg.samples == "stream":
            train_ids, val_ids = corpus.split(cfg.val_fraction)
            self.data, self.notes = self._streams(train_ids)  # (B, N)
            self.val_data = torch.as_tensor(val_ids, device=self.device)
        else:
            self.samples, self.val_samples = build_samples(
                corpus, cfg.samples, cfg.seq_len, cfg.val_fraction, self.device
            )
            self._rng = np.random.default_rng(cfg.seed)
            self._order, self._at = np.empty(0, dtype=np.int64), 0
        self._optimizer: torch.optim.Optimizer | None = None  # built on first use: see `optimizer`
        self.pos, self.state = 0, None
        self._good: dict[str, torch.Tensor] | None = None  # last weights with a finite loss
        self.good_updates = updates
        self.steps, self.updates = updates, updates
        self.preset: str | None = None  # the name of the preset this session started from, if any
        self._tps = 0.0

    # ---- data ----------------------------------------------------------------------------
    def _streams(self, ids) -> tuple[torch.Tensor, list[str]]:
        need = self.cfg.seq_len + 1
        b = min(self.cfg.batch, len(ids) // need)
        if b == 0:
            raise ConfigError(
                f"{self.corpus.name} has {len(ids)} training tokens, fewer than one training "
                f"sequence ({need}); use a shorter sequence length or a longer text"
            )
        notes = []
        if b < self.cfg.batch:
            notes.append(f"batch lowered from {self.cfg.batch} to {b}: the text is too short")
        n = len(ids) // b
        return torch.as_tensor(ids[: b * n], device=self.device).view(b, n), notes

    def _next_chunk(self):
        """The next seq_len tokens of every stream (fewer at the streams' end, so no tail is skipped)."""
        if self.pos + 2 > self.data.shape[1]:  # wrap around: start the streams afresh
            self.pos, self.state = 0, None
        end = min(self.pos + self.cfg.seq_len, self.data.shape[1] - 1)
        x = self.data[:, self.pos : end]
        y = self.data[:, self.pos + 1 : end + 1]
        self.pos = end
        return x, y

    @property
    def tokens_per_step(self) -> float:
        """Input tokens (or values) one step reads, on average."""
        if self.samples is None:
            return self.data.shape[0] * self.cfg.seq_len
        n = len(self.samples)
        return self.samples.tokens() * min(self.cfg.batch, n) / n

    # ---- settings that apply between steps, without a reset ------------------------------
    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """Built on first use: creating any torch optimizer first imports torch._dynamo (~2 s),
        which the app does on its worker thread rather than before its window appears."""
        if self._optimizer is None:
            self._optimizer = OPTIMIZERS[self.cfg.optimizer](
                self.model.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay
            )
        return self._optimizer

    def set_lr(self, lr: float) -> None:
        check_lr(lr)
        self.cfg = replace(self.cfg, lr=lr)
        if self._optimizer is not None:
            for group in self._optimizer.param_groups:
                group["lr"] = lr

    def set_clip(self, clip: float | None) -> None:
        check_clip(clip)
        self.cfg = replace(self.cfg, clip=clip)

    def set_optimizer(self, name: str) -> None:
        check_optimizer(name)
        if name != self.cfg.optimizer:
            self.cfg = replace(self.cfg, optimizer=name)
            self._optimizer = None

    # ---- training ------------------------------------------------------------------------
    def _pick(self) -> np.ndarray | None:
        """The next batch of sample indices (None: all of them), in a fresh seeded order each epoch."""
        assert self.samples is not None  # (window and word presets read samples; a stream does not)
        n = len(self.samples)
        if self.cfg.batch >= n:
            return None
        if self._at + self.cfg.batch > len(self._order):
            self._order, self._at = self._rng.permutation(n), 0
        self._at += self.cfg.batch
        return self._order[self._at - self.cfg.batch : self._at]

    def _sample_outputs(self, samples: Samples, pick=None):
        """Last-step outputs (n, V) or (n,) and targets for the picked samples; tokens read."""
        outs, ys, tokens = [], [], 0
        for x, y, _ in samples.batches(pick):
            out, _ = self.model(x)
            outs.append(out[:, -1, 0] if self.model_cfg.regression else out[:, -1])
            ys.append(y)
            tokens += x.numel()
        return torch.cat(outs), torch.cat(ys), tokens

    def _last_loss(self, out, y):
        if self.model_cfg.regression:
            return F.mse_loss(out, y), torch.zeros((), device=out.device), y.numel()
        return F.cross_entropy(out, y), (out.argmax(-1) == y).sum(), y.numel()

    def _loss(self, logits, y):
        if self.cfg.loss_mode == "many-to-one":
            logits, y = logits[:, -1], y[:, -1]
        else:
            logits, y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
        loss = F.cross_entropy(logits, y)
        return loss, (logits.argmax(-1) == y).sum(), y.numel()

    def step(self) -> StepMetrics:
        """One update. A non-finite loss or gradient is reported and never reaches the weights."""
        t0 = time.perf_counter()
        self.model.train()
        if self.samples is None:
            x, y = self._next_chunk()
            logits, state = self.model(x, _detach(self.state))
            loss, correct, count = self._loss(logits, y)
            tokens = x.numel()
        else:
            out, y, tokens = self._sample_outputs(self.samples, self._pick())
            loss, correct, count = self._last_loss(out, y)
            state = None
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        names = [n for n, p in self.params.items() if p.grad is not None]
        grads = [g for n in names if (g := self.params[n].grad) is not None]
        norms = torch._foreach_norm(grads)
        stats = torch.stack([loss.detach(), correct.to(loss.dtype), *norms]).tolist()  # one sync
        loss_v, correct_v, pnorms = stats[0], stats[1], stats[2:]
        total = math.sqrt(math.fsum(v * v for v in pnorms))
        skipped = not (math.isfinite(loss_v) and math.isfinite(total))
        clipped = False
        self.steps += 1
        if skipped:
            self.optimizer.zero_grad(set_to_none=True)
            self.state = None  # the carried state may hold the overflow
        else:
            clip = self.cfg.clip
            if clip is not None and total > clip:
                torch._foreach_mul_(grads, clip / (total + 1e-6))
                clipped = True
            self._keep_good()  # these weights' loss was finite: the ones a blow-up goes back to
            self.optimizer.step()
            self.state = state
            self.updates += 1
        dt = time.perf_counter() - t0
        tps = tokens / max(dt, 1e-9)
        self._tps = tps if self._tps == 0.0 else 0.9 * self._tps + 0.1 * tps
        return StepMetrics(
            step=self.steps,
            loss=loss_v,
            accuracy=math.nan if self.model_cfg.regression else correct_v / count,
            bits_per_token=math.nan if self.model_cfg.regression else loss_v / LN2,
            tokens_per_s=self._tps,
            grad_norms=dict(zip(names, pnorms, strict=True)),
            total_norm=total,
            clipped=clipped,
            skipped=skipped,
            lr=self.cfg.lr,
            seconds=dt,
        )

    @torch.no_grad()
    def scale_recurrent(self, factor: float) -> None:
        """Multiply every W_hh by `factor` (> 1 makes gradients explode, < 1 vanish); 1/factor undoes it."""
        if not math.isfinite(factor) or factor <= 0:
            raise ConfigError(f"scale factor must be a positive number, not {factor!r}")
        if self.model_cfg.modern:
            raise ConfigError(f"a {self.model_cfg.name} has no recurrent weight matrix W_hh to scale")
        for n in range(self.model_cfg.layers):
            getattr(self.model.rnn, f"weight_hh_l{n}").mul_(factor)

    def _keep_good(self) -> None:
        """Remember the weights (before this update: their loss was finite) to restore after a
        blow-up, copied in place into buffers made once."""
        state = self.model.state_dict()
        if self._good is None or self._good.keys() != state.keys():
            self._good = {k: v.detach().clone() for k, v in state.items()}
        else:
            torch._foreach_copy_(list(self._good.values()), [v.detach() for v in state.values()])
        self.good_updates = self.updates

    def restore_good(self, lr_factor: float = 0.1) -> bool:
        """Back to the last weights whose loss was finite, with a lower learning rate and a fresh
        optimiser state. False if none were kept yet."""
        if self._good is None:
            return False
        self.model.load_state_dict(self._good)
        self._optimizer, self.state = None, None
        self.set_lr(max(self.cfg.lr * lr_factor, 1e-12))
        self.updates = self.good_updates
        return True

    @torch.no_grad()
    def score(self, samples: Samples) -> EvalMetrics | None:
        """Loss (MSE for values) and accuracy over every sample of a set; None if it is empty."""
        if len(samples) == 0:
            return None
        self.model.eval()
        out, y, _ = self._sample_outputs(samples)
        loss, correct, count = self._last_loss(out, y)
        mean = float(loss)
        if self.model_cfg.regression:
            return EvalMetrics(self.steps, mean, math.nan, math.nan, count)
        return EvalMetrics(self.steps, mean, int(correct) / count, mean / LN2, count)

    @torch.no_grad()
    def evaluate(self, max_tokens: int = 8192) -> EvalMetrics | None:
        """Loss and accuracy on the held-out split (its first max_tokens), in the training mode."""
        if self.samples is not None and self.val_samples is not None:
            return self.score(self.val_samples)
        ids = self.val_data[:max_tokens]
        T = self.cfg.seq_len
        b = min(self.cfg.batch, (len(ids) - 1) // T)
        if b < 1:
            return None
        n = (len(ids) - 1) // b
        xs = ids[: b * n].view(b, n)
        ys = ids[1 : b * n + 1].view(b, n)
        self.model.eval()
        total, correct, count, state = 0.0, 0, 0, None
        for p in range(0, n - T + 1, T):
            logits, state = self.model(xs[:, p : p + T], state)
            loss, corr, cnt = self._loss(logits, ys[:, p : p + T])
            total += loss.item() * cnt
            correct += int(corr)
            count += cnt
        if count == 0:
            return None
        mean = total / count
        return EvalMetrics(self.steps, mean, correct / count, mean / LN2, count)

    def snapshot(
        self,
        metrics: StepMetrics | None = None,
        evaluation: EvalMetrics | None = None,
        recent: tuple[StepMetrics, ...] = (),
        weights_from: Snapshot | None = None,
    ) -> Snapshot:
        """The model now; `weights_from`: reuse that snapshot's weights instead of copying them."""
        if weights_from is None:
            weights, at = state_arrays(self.model), None
        else:
            weights, at = weights_from.weights, weights_from.weights_step
        return Snapshot(
            self.model_cfg, self.corpus.vocab, self.updates, weights, metrics, evaluation, recent, at
        )


def _detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
