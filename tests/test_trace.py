import numpy as np
import pytest
import torch
from conftest import make_model, rng_ids
from reference import reference_trace

from rnnviz.core.errors import VocabError
from rnnviz.core.model import state_arrays
from rnnviz.core.trace import TraceWeights, trace

CASES = [(a, i, L) for a in ("rnn", "lstm", "gru") for i in ("onehot", "embedding") for L in (1, 3)]


@pytest.mark.parametrize("arch,inp,layers", CASES)
def test_trace_matches_autograd_reference(arch, inp, layers):
    m = make_model(arch, layers=layers, hidden=9, vocab=13, input=inp, seed=layers)
    ids = rng_ids(17, 13, seed=3)
    tr = trace(TraceWeights.from_state(m.cfg, state_arrays(m)), ids, target_step=11)
    ref = reference_trace(m.cfg, m.state_dict(), ids, target_step=11)
    assert tr.h.shape == (layers, 17, 9)
    np.testing.assert_allclose(tr.h, ref["h"], atol=1e-6)
    np.testing.assert_allclose(tr.probs, ref["probs"], atol=1e-6)
    assert tr.target_id == ref["target_id"]
    np.testing.assert_allclose(tr.grad_h, ref["grad_h"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(tr.dh, ref["dh"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(tr.attribution, ref["attribution"], rtol=1e-6, atol=1e-24)
    assert (tr.attribution[12:] == 0).all() and (tr.attribution[:12] > 0).all()
    assert (tr.grad_h[:, 12:] == 0).all() and (tr.grad_h[:, :12] > 0).all()
    assert set(tr.gates) == set(ref["gates"])
    for g, a in tr.gates.items():
        np.testing.assert_allclose(a, ref["gates"][g], atol=1e-6)
    if arch == "lstm":
        np.testing.assert_allclose(tr.c, ref["c"], atol=1e-6)
        assert tr.grad_c.shape == (layers, 17)
    else:
        assert tr.c is None and tr.grad_c is None


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_trace_matches_fused_module(arch):
    """The last layer's h_t and the probabilities equal what the fused torch module computes."""
    m = make_model(arch, layers=2, hidden=16, vocab=10)
    ids = rng_ids(30, 10, seed=1)
    tr = trace(TraceWeights.from_state(m.cfg, state_arrays(m)), ids)
    with torch.no_grad():
        out, _ = m.rnn(m.embed(torch.as_tensor(ids)[None]))
        probs = torch.softmax(m.head(out), -1)
    np.testing.assert_allclose(tr.h[-1], out[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(tr.probs, probs[0].numpy(), atol=1e-5)


def test_relu_rnn_and_explicit_target():
    m = make_model("rnn", layers=2, hidden=6, vocab=7, nl="relu")
    ids = rng_ids(9, 7)
    tr = trace(TraceWeights.from_state(m.cfg, state_arrays(m)), ids, target_id=3)
    ref = reference_trace(m.cfg, m.state_dict(), ids, target_id=3)
    assert tr.target_id == 3 and tr.target_step == 8
    np.testing.assert_allclose(tr.h, ref["h"], atol=1e-6)
    np.testing.assert_allclose(tr.grad_h, ref["grad_h"], rtol=1e-6, atol=1e-12)


def test_trace_json_document():
    m = make_model("gru", layers=2, hidden=4, vocab=5)
    vocab = ("<unk>", "a", "b", "c", "d")
    tr = trace(
        TraceWeights.from_state(m.cfg, state_arrays(m)),
        [1, 2, 0],
        vocab=vocab,
        tokens=["a", "b", "é"],
    )
    doc = tr.to_json()
    assert doc["tokens"] == ["a", "b", "é"] and doc["ids"] == [1, 2, 0]
    assert doc["grad_target"] == {"step": 2, "token": vocab[tr.target_id]}
    assert len(doc["steps"]) == 3
    step = doc["steps"][0]
    assert set(step["gates"]) == {"r", "z", "n"} and "c" not in step
    assert len(step["h"]) == 2 and len(step["h"][0]) == 4 and len(step["probs"]) == 5
    assert abs(sum(step["probs"]) - 1) < 1e-9


@pytest.mark.parametrize(
    "kwargs,msg",
    [
        ({"ids": []}, "empty"),
        ({"ids": [9]}, "0..4"),
        ({"ids": [1, 2], "target_step": 2}, "outside"),
        ({"ids": [1], "target_id": 7}, "outside"),
    ],
)
def test_trace_rejects_bad_requests(kwargs, msg):
    m = make_model("rnn", layers=1, hidden=3, vocab=5)
    with pytest.raises(VocabError, match=msg):
        trace(TraceWeights.from_state(m.cfg, state_arrays(m)), **kwargs)


def test_rnn_gradient_vanishes_further_than_lstm_cell_path():
    """A contracting tanh RNN's ||dL/dh_t|| falls geometrically with distance from the target."""
    m = make_model("rnn", layers=1, hidden=32, vocab=6)
    with torch.no_grad():
        m.rnn.weight_hh_l0.mul_(0.2)
    tr = trace(TraceWeights.from_state(m.cfg, state_arrays(m)), rng_ids(40, 6))
    g = tr.grad_h[0]
    assert g[0] < 1e-10 * g[-1]
    assert np.all(np.diff(g[20:]) > 0)


def test_sampling_from_a_traces_final_state_equals_reading_the_prompt_again():
    from rnnviz.core.generate import sample

    for arch in ("lstm", "gru"):
        m = make_model(arch, layers=2, hidden=6, vocab=7)
        w = TraceWeights.from_state(m.cfg, state_arrays(m))
        ids = rng_ids(12, 7)
        tr = trace(w, ids)
        again = sample(w, ids, 20, 0.8, seed=5)
        assert np.array_equal(sample(w, ids, 20, 0.8, seed=5, state=tr.final_state()), again)
