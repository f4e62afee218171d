"""Training throughput: rnnviz's Trainer (all per-step metrics on) vs a bare fused loop.

Both train a 1-layer LSTM, H=128, one-hot input, seq 64, batch 32 on the built-in story, with
Adam. They run in alternating rounds in the same process so machine noise hits both alike.
Target: Trainer / bare >= 0.85.   Run: python benchmarks/train_throughput.py [--rounds N]

--archs mingru,minlstm,ssm: instead, rnnviz's Trainer on each of those architectures against the
same Trainer on the fused LSTM (same H, seq 64, batch 32, one-hot input, Adam, alternating
rounds), with the scan training uses on this device and, for comparison, the other one (and for
the S6 its torch loop, which runs where core/s6_scan.c cannot be compiled).
Targets (issue 20): ssm >= 0.5x, mingru >= 1x the LSTM.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from rnnviz.core import ckernel
from rnnviz.core.corpus import load_corpus
from rnnviz.core.model import ModelConfig
from rnnviz.core.train import TrainConfig, Trainer

H, T, B = 128, 64, 32


class Bare:
    """The floor: nn.LSTM + nn.Linear + Adam, nothing measured, no clipping."""

    def __init__(self, ids, vocab_size):
        torch.manual_seed(0)
        self.V = vocab_size
        self.lstm = torch.nn.LSTM(vocab_size, H, batch_first=True)
        self.head = torch.nn.Linear(H, vocab_size)
        self.opt = torch.optim.Adam([*self.lstm.parameters(), *self.head.parameters()], lr=2e-3)
        n = len(ids) // B
        self.data = torch.as_tensor(ids[: B * n]).view(B, n)
        self.pos, self.state = 0, None

    def step(self):
        if self.pos + T + 1 > self.data.shape[1]:
            self.pos, self.state = 0, None
        x = self.data[:, self.pos : self.pos + T]
        y = self.data[:, self.pos + 1 : self.pos + T + 1]
        self.pos += T
        state = None if self.state is None else tuple(s.detach() for s in self.state)
        out, self.state = self.lstm(F.one_hot(x, self.V).float(), state)
        loss = F.cross_entropy(self.head(out).reshape(-1, self.V), y.reshape(-1))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()


def rate(step, n):
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return n * B * T / (time.perf_counter() - t0)


def make_trainer(corpus, arch: str, solver: str = "auto") -> Trainer:
    t = Trainer(
        corpus,
        ModelConfig(vocab_size=len(corpus.vocab), arch=arch, hidden=H),
        TrainConfig(seq_len=T, batch=B),
        device="cpu",
    )
    if solver != "auto":
        t.model.rnn.solver = solver
    return t


def compare_archs(corpus, archs: list[str], rounds: int, steps: int) -> None:
    """Each architecture's Trainer against the LSTM's, alternating rounds."""
    runs = {"lstm": make_trainer(corpus, "lstm")}
    for arch in archs:
        runs[arch] = make_trainer(corpus, arch)
        if arch == "ssm":
            runs["ssm (torch loop, no C kernel)"] = make_trainer(corpus, arch, "loop")
        runs[f"{arch} (parallel scan)"] = make_trainer(corpus, arch, "parallel")
    for t in runs.values():
        rate(t.step, 3)  # warm up
    rates: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for k, t in runs.items():
            rates[k].append(rate(t.step, steps))
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, H={H} seq {T} batch {B}, one-hot input")
    if "ssm" in archs:
        lib = ckernel.load()
        print("S6 scan on the CPU:", f"C kernel {lib._name}" if lib else f"torch loop ({ckernel.why_not()})")
    lstm = rates["lstm"]
    print(f"{'lstm (fused nn.LSTM)':<28} {statistics.median(lstm) / 1000:7.1f} k tokens/s")
    for k, r in rates.items():
        if k == "lstm":
            continue
        ratios = [a / b for a, b in zip(r, lstm, strict=True)]
        target = {"ssm": "  target >= 0.5", "mingru": "  target >= 1"}.get(k, "")
        rounds = " ".join(f"{x:.2f}" for x in ratios)
        print(
            f"{k:<28} {statistics.median(r) / 1000:7.1f} k tokens/s  vs LSTM: median"
            f" {statistics.median(ratios):.2f}x  (rounds: {rounds}){target}"
        )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=30, help="steps per round")
    ap.add_argument("--archs", help="e.g. mingru,minlstm,ssm: each against the LSTM")
    ap.add_argument("--threads", type=int, help="torch threads (the training process uses 1)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    corpus = load_corpus("builtin:story")
    if a.archs:
        return compare_archs(corpus, a.archs.split(","), a.rounds, a.steps)
    train_ids = corpus.split(0.1)[0]
    trainer = make_trainer(corpus, "lstm")
    bare = Bare(train_ids, len(corpus.vocab))
    rate(trainer.step, 5), rate(bare.step, 5)  # warm up
    ours, theirs = [], []
    for _ in range(a.rounds):
        ours.append(rate(trainer.step, a.steps))
        theirs.append(rate(bare.step, a.steps))
    ratios = [o / t for o, t in zip(ours, theirs, strict=True)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, LSTM H={H} seq {T} batch {B}")
    print(f"bare fused loop : {statistics.median(theirs) / 1000:8.1f} k tokens/s (median of {a.rounds})")
    print(f"rnnviz Trainer  : {statistics.median(ours) / 1000:8.1f} k tokens/s (median of {a.rounds})")
    print(
        f"ratio Trainer/bare: median {statistics.median(ratios):.3f}  "
        f"(rounds: {' '.join(f'{r:.2f}' for r in ratios)})  target >= 0.85"
    )


if __name__ == "__main__":
    main()
