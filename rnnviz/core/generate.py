"""Sampling continuations from a model's weights (numpy; usable from any thread)."""

from __future__ import annotations

import numpy as np

from rnnviz.core.errors import ConfigError, ModelError, VocabError
from rnnviz.core.trace import TraceWeights, final_state, forward, softmax

MAX_LENGTH = 100_000


def sample(
    w: TraceWeights,
    prompt_ids,
    length: int,
    temperature: float = 1.0,
    seed: int | None = None,
    state: list[tuple] | None = None,
    window: int | None = None,
    interventions=(),
) -> np.ndarray:
    """Read the prompt, then draw `length` tokens (temperature 0: always the most likely).

    state: per layer (h, c) after the prompt, when it was already read (a Trace's `final_state()`):
    the prompt is then not read again. <unk> (id 0) is never drawn: it only stands for input the
    model has not seen.
    window: for a model trained on windows of this many tokens (from a zero state): each token is
    drawn after reading only the last `window` tokens, as in training (`state` is then unused).
    interventions: core.intervene.Intervention, applied to the network at every step (`state`
    must then come from the same edited network).
    """
    prompt_ids = np.asarray(prompt_ids, dtype=np.int64)
    if len(prompt_ids) == 0:
        raise VocabError("the prompt is empty: give at least one token to start from")
    check_sampling(length, temperature, seed)
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise ConfigError(f"window must be a whole number >= 1, not {window!r}")
    rng = np.random.default_rng(seed)
    out = np.empty(length, dtype=np.int64)
    if window is not None:
        ids = np.concatenate([prompt_ids, out])
        for k in range(length):
            at = len(prompt_ids) + k
            h = forward(w, ids[max(at - window, 0) : at], interventions=interventions)[-1]["h"][-1]
            ids[at] = out[k] = _draw(h @ w.head_w.T + w.head_b, temperature, rng)
        return out
    if state is None:
        state = final_state(forward(w, prompt_ids, interventions=interventions))
    h = state[-1][1] if w.cfg.arch == "ssm" else state[-1][0]  # the SSM's state is (s, h)
    for k in range(length):
        out[k] = _draw(h @ w.head_w.T + w.head_b, temperature, rng)
        fwd = forward(w, out[k : k + 1], state, interventions)
        state, h = final_state(fwd), fwd[-1]["h"][-1]
    return out


def check_sampling(length, temperature, seed) -> None:
    if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= MAX_LENGTH:
        raise ConfigError(f"length must be a whole number from 0 to {MAX_LENGTH}, not {length!r}")
    if not np.isfinite(temperature) or not 0 <= temperature <= 100:
        raise ConfigError(f"temperature must be in [0, 100], not {temperature!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ConfigError(f"seed must be a whole number >= 0, not {seed!r}")


def _draw(logits: np.ndarray, temperature: float, rng) -> int:
    if not np.isfinite(logits).all():
        raise ModelError("the model's outputs are not finite (its weights have diverged): nothing to sample")
    logits[0] = -np.inf
    if temperature == 0:
        return int(np.argmax(logits))
    return int(rng.choice(len(logits), p=softmax(logits, temperature)))
