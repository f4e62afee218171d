"""What "who listens to whom" (core.listen) costs: a whole text computed afresh, and one more typed
token (the Listener keeps its running sums), per architecture and size, one BLAS thread as in the
app, in the app's precision (float32 for the Jacobian of RNN/LSTM/GRU, float64 for the exact parts)
and in float64. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/listen_cost.py [--rounds 3] [--vocab 65]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from rnnviz.core.config import ModelConfig
from rnnviz.core.listen import JACOBIAN, Listener, kind_of
from rnnviz.core.model import CharRNN, state_arrays
from rnnviz.core.trace import TraceWeights

CASES = (  # arch, layers, hidden, tokens
    ("rnn", 1, 128, 60), ("gru", 1, 128, 60), ("lstm", 1, 128, 60), ("lstm", 2, 128, 60),
    ("mingru", 2, 128, 60), ("minlstm", 2, 128, 60), ("ssm", 1, 128, 60), ("ssm", 2, 128, 60),
    ("lstm", 2, 256, 200), ("ssm", 2, 256, 200),
)  # fmt: skip


def timed(lis: Listener, ids: np.ndarray, layer: int) -> float:
    t0 = time.perf_counter()
    lis.listen(ids, layer)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="the best of this many (default 3)")
    p.add_argument("--vocab", type=int, default=65, help="one-hot input size (default 65, the story's)")
    a = p.parse_args()
    threadpool_limits(1, user_api="blas")
    print(f"{'model':<18} {'tokens':>6} {'dtype':>8} {'whole (ms)':>11} {'+1 token (ms)':>14}")
    for arch, layers, hidden, T in CASES:
        cfg = ModelConfig(a.vocab, arch, layers=layers, hidden=hidden)
        w = TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg)))
        ids = np.random.default_rng(0).integers(1, a.vocab, T)
        app = np.float32 if kind_of(arch) == JACOBIAN else np.float64
        for dtype in dict.fromkeys((app, np.float64)):
            whole, more = [], []
            for _ in range(a.rounds):
                lis = Listener(w, dtype)
                whole.append(timed(lis, ids[:-1], layers - 1))
                more.append(timed(lis, ids, layers - 1))
            name, kind = f"{cfg.name} {layers}x{hidden}", np.dtype(dtype).name
            print(f"{name:<18} {T:>6} {kind:>8} {min(whole) * 1e3:>11.0f} {min(more) * 1e3:>14.1f}")


if __name__ == "__main__":
    main()
