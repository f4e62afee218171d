"""The fast trace of the typing path against the reference trace (float64), for every architecture:
a whole text, typing and deleting and editing (the kept forward pass), new weights, vanishing and
exploding gradients past float32's range, and the continuation."""

import numpy as np
import pytest
import torch

from rnnviz.core.config import ModelConfig
from rnnviz.core.fasttrace import FastTracer
from rnnviz.core.generate import sample
from rnnviz.core.model import CharRNN, state_arrays
from rnnviz.core.trace import TraceWeights, trace

CASES = [
    (arch, layers, inp, nl)
    for arch in ("rnn", "lstm", "gru")
    for layers in (1, 3)
    for inp in ("onehot", "embedding")
    for nl in (("tanh", "relu") if arch == "rnn" else ("tanh",))
]


def weights(arch, layers=2, hidden=12, inp="embedding", nl="tanh", vocab=11, seed=0, gain=1.0):
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=vocab, arch=arch, layers=layers, hidden=hidden, input=inp, nonlinearity=nl)
    state = state_arrays(CharRNN(cfg))
    for k in state:
        if "weight_hh" in k:
            state[k] *= gain
    return TraceWeights.from_state(cfg, state)


def same(fast, ref, rtol=2e-4):
    """float32 against float64: states and probabilities to 1e-5, gradients relatively."""
    np.testing.assert_allclose(fast.h, ref.h, atol=2e-5)
    np.testing.assert_allclose(fast.probs, ref.probs, atol=2e-5)
    for g in ref.gates:
        np.testing.assert_allclose(fast.gates[g], ref.gates[g], atol=2e-5)
    if ref.c is not None:
        np.testing.assert_allclose(fast.c, ref.c, atol=5e-5)
        np.testing.assert_allclose(fast.grad_c, ref.grad_c, rtol=rtol, atol=1e-30)
    assert fast.target_id == ref.target_id and fast.target_step == ref.target_step
    np.testing.assert_allclose(fast.grad_h, ref.grad_h, rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(fast.grad_above, ref.grad_above, rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(fast.attribution, ref.attribution, rtol=2 * rtol, atol=1e-30)
    scale = np.abs(ref.dh).max(axis=-1, keepdims=True) + 1e-300  # each step's vector, to its size
    np.testing.assert_allclose(fast.dh / scale, ref.dh / scale, atol=rtol)


@pytest.mark.parametrize("arch,layers,inp,nl", CASES)
def test_a_whole_text_matches_the_reference(arch, layers, inp, nl):
    w = weights(arch, layers, inp=inp, nl=nl, seed=layers)
    ids = np.random.default_rng(1).integers(0, 11, 40)
    same(FastTracer(w).trace(ids), trace(w, ids))
    same(FastTracer(w).trace(ids, target_step=17, target_id=3), trace(w, ids, target_step=17, target_id=3))


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_typing_deleting_and_editing_keep_the_forward_pass(arch):
    w = weights(arch)
    rng = np.random.default_rng(2)
    fast, ids = FastTracer(w), rng.integers(0, 11, 5)
    for _ in range(60):  # type, delete, edit in the middle, paste, as a person would
        move = rng.integers(4)
        if move == 0:
            ids = np.append(ids, rng.integers(0, 11))
        elif move == 1 and len(ids) > 1:
            ids = ids[:-1]
        elif move == 2:
            ids = ids.copy()
            ids[rng.integers(len(ids))] = rng.integers(0, 11)
        else:
            ids = np.concatenate([ids, rng.integers(0, 11, 300)])[-280:]  # past the first capacity
        same(fast.trace(ids), trace(w, ids))
    assert np.array_equal(fast.ids, ids)


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_a_forward_only_trace_is_the_forward_half_of_the_whole_one(arch):
    """A keystroke's first half (gradients=False): the states, gates and predictions of the whole
    trace, bit for bit, and gradients marked absent, never drawn as numbers."""
    w = weights(arch, layers=2)
    ids = np.random.default_rng(3).integers(0, 11, 30)
    fast = FastTracer(w)
    first = fast.trace(ids[:-1])  # the text before the keystroke (the forward pass is kept)
    half = fast.trace(ids, gradients=False)
    whole = fast.trace(ids)
    ref = trace(w, ids)
    same(whole, ref)
    assert whole.gradients and not half.gradients and first.gradients
    assert half.dh is None and half.dc is None and half.attribution is None and half.grad_above is None
    assert not half.grad_h.any() and half.grad_h.shape == whole.grad_h.shape
    assert (half.grad_c is None) == (arch != "lstm")
    for name in ("h", "probs", "ids"):
        np.testing.assert_array_equal(getattr(half, name), getattr(whole, name))
    for g in whole.gates:
        np.testing.assert_array_equal(half.gates[g], whole.gates[g])
    for name in ("target_id", "target_step", "tokens"):
        assert getattr(half, name) == getattr(whole, name)


@pytest.mark.parametrize("arch,nl", [("rnn", "tanh"), ("rnn", "relu"), ("gru", "tanh"), ("lstm", "tanh")])
def test_vanishing_gradients_far_below_float32s_range(arch, nl):
    """A contracting network's gradient falls far below float32's 1e-38 over 400 steps: the
    rescaled float32 backward still gives the reference's float64 numbers."""
    ids = np.random.default_rng(3).integers(1, 11, 400)
    w = weights(arch, layers=2, hidden=16, nl=nl, gain=0.3, seed=5)
    ref = trace(w, ids)
    np.testing.assert_allclose(FastTracer(w).trace(ids).grad_h, ref.grad_h, rtol=1e-3, atol=1e-290)
    if arch == "rnn":
        g = ref.grad_h[ref.grad_h > 0]
        assert g.min() < 1e-60  # really past float32's range


def test_exploding_gradients_past_the_rescaling_threshold():
    """A ReLU RNN whose W_hh is 1.5 I (and positive inputs): dL/dh grows 1.5x a step back, ~1e26
    over 150 steps, far past the rescaling threshold (2^40), and still matches the reference."""
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=11, arch="rnn", nonlinearity="relu", hidden=8, input="embedding")
    state = state_arrays(CharRNN(cfg))
    state["rnn.weight_hh_l0"] = 1.5 * np.eye(8, dtype=np.float32)
    state["rnn.bias_ih_l0"] = np.ones(8, dtype=np.float32)
    state["rnn.weight_ih_l0"] = np.abs(state["rnn.weight_ih_l0"])
    state["embedding.weight"] = np.abs(state["embedding.weight"])
    w = TraceWeights.from_state(cfg, state)
    ids = np.random.default_rng(6).integers(1, 11, 150)
    top = int(np.argmax(trace(w, ids).probs[-1]))
    ref = trace(w, ids, target_id=(top + 1) % 11)  # not the (certain) top prediction: a gradient
    assert ref.grad_h.max() / ref.grad_h[0, -1] > 2.0**80
    np.testing.assert_allclose(
        FastTracer(w).trace(ids, target_id=(top + 1) % 11).grad_h, ref.grad_h, rtol=1e-3
    )


def test_the_continuation_is_the_references_sample():
    w = weights("lstm", layers=2)
    ids = np.random.default_rng(4).integers(1, 11, 30)
    fast = FastTracer(w)
    ref = trace(w, ids)
    fast.trace(ids)
    for temperature in (0.0, 0.7):
        got = fast.sample(24, temperature, seed=3)
        want = sample(w, ids, 24, temperature, seed=3, state=ref.final_state())
        assert got.tolist() == want.tolist()
    same(fast.trace(ids), ref)  # sampling left the kept forward pass as it was
    assert FastTracer(w).trace(ids[:1]).steps == 1


def test_value_models_are_refused():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=0, arch="rnn", hidden=4, input="value", output="value")
    with pytest.raises(ValueError):
        FastTracer(TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg))))
