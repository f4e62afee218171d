"""The step-through's frames and the inside-the-cell numbers, against the trace's own values."""

import numpy as np
import pytest
import torch

from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.core.trace import TraceWeights, trace, trace_series
from rnnviz.core.unroll import SUBSTEPS, Frame, cell_detail, frames, grad_shown, revealed


def model(arch, layers=2, hidden=5, nl="tanh", **kw):
    torch.manual_seed(3)
    cfg = ModelConfig(
        vocab_size=kw.pop("vocab", 7), arch=arch, layers=layers, hidden=hidden, nonlinearity=nl, **kw
    )
    return cfg, TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg)))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_frames_forward_then_backward(arch):
    _, w = model(arch)
    tr = trace(w, [1, 2, 3, 4, 5], target_step=3)
    fs = frames(tr)
    assert [f.t for f in fs] == [0, 1, 2, 3, 4, 3, 2, 1, 0]
    assert [f.phase for f in fs] == ["forward"] * 5 + ["backward"] * 4
    detailed = frames(tr, detail=True)
    n = len(SUBSTEPS[arch])
    assert len(detailed) == 5 * n + 4 and detailed[n] == Frame("forward", 1, 0)
    f = Frame("forward", 2)
    assert revealed(f, 2) and not revealed(f, 3) and not grad_shown(f, tr, 2)
    b = Frame("backward", 1)
    assert revealed(b, 4) and grad_shown(b, tr, 1) and grad_shown(b, tr, 3) and not grad_shown(b, tr, 4)
    assert "step 2 '3'" in Frame("forward", 2).caption(tr) and "backward from step 3" in b.caption(tr)


@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("t", [0, 3])
def test_cell_detail_adds_up_to_the_trace(layer, t):
    cfg, w = model("rnn")
    tr = trace(w, [1, 2, 3, 4, 5])
    for u in range(cfg.hidden):
        d = cell_detail(w, tr, layer, t, u)
        assert np.tanh(d["input"] + d["recurrent"]) == pytest.approx(d["h"], abs=1e-12)
        assert d["h"] == tr.h[layer, t, u] and d["pre"] == pytest.approx(d["input"] + d["recurrent"])
        assert d["h_prev"] == (tr.h[layer, t - 1, u] if t else 0.0)


@pytest.mark.parametrize("layer", [0, 1])
def test_cell_detail_lstm(layer):
    cfg, w = model("lstm", input="embedding", embed_dim=4)
    tr = trace(w, [1, 2, 3, 4])
    for t in range(4):
        for u in range(cfg.hidden):
            d = cell_detail(w, tr, layer, t, u)
            for g in "ifo":
                assert sigmoid(d[f"input_{g}"] + d[f"recurrent_{g}"]) == pytest.approx(d[g], abs=1e-12)
            assert np.tanh(d["input_g"] + d["recurrent_g"]) == pytest.approx(d["g"], abs=1e-12)
            assert d["f"] * d["c_prev"] + d["i"] * d["g"] == pytest.approx(d["c"], abs=1e-12)
            assert d["o"] * np.tanh(d["c"]) == pytest.approx(d["h"], abs=1e-12)


def test_cell_detail_gru_and_value_models():
    cfg, w = model("gru")
    tr = trace(w, [6, 1, 2])
    for t in range(3):
        for u in range(cfg.hidden):
            d = cell_detail(w, tr, 1, t, u)
            assert np.tanh(d["input_n"] + d["r"] * d["recurrent_n"]) == pytest.approx(d["n"], abs=1e-12)
            assert (1 - d["z"]) * d["n"] + d["z"] * d["h_prev"] == pytest.approx(d["h"], abs=1e-12)
    cfg, w = model("rnn", layers=1, vocab=0, input="value", output="value")
    tr = trace_series(w, [0.5, -1.0, 2.0], target=0.1)
    d = cell_detail(w, tr, 0, 2, 1)
    assert d["input"] == pytest.approx(2.0 * w.layers[0].w_ih[1, 0] + w.layers[0].b_ih[1])
    assert np.tanh(d["pre"]) == pytest.approx(d["h"])


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_backward_detail_adds_up_to_the_trace(arch):
    """Through time + from above = dL/dh_t of every unit, at every layer and step; for an LSTM the
    cell path f_(t+1) dL/dc_(t+1) + the part through h = dL/dc_t."""
    from rnnviz.core.unroll import backward_detail

    cfg, w = model(arch, layers=2, hidden=4, input="embedding", embed_dim=3)
    tr = trace(w, [1, 2, 3, 4, 5, 6], target_step=4)
    for layer in range(2):
        for t in range(5):
            for u in range(cfg.hidden):
                d = backward_detail(w, tr, layer, t, u)
                assert d["through_time"] + d["from_above"] == pytest.approx(d["dh"], abs=1e-12)
                assert d["dh"] == tr.dh[layer, t, u] and d["steps_back"] == 4 - t
                if arch == "lstm":
                    assert d["f_next"] * d["dc_next"] + d["dc_via_h"] == pytest.approx(d["dc"], abs=1e-12)
            assert (d["source"] == "the loss") == (layer == 1 and t == 4)
    assert backward_detail(w, tr, 1, 2, 0)["from_above"] == 0.0  # one loss, at step 4 only


def test_backward_detail_of_a_value_model():
    from rnnviz.core.unroll import backward_detail

    cfg, w = model("rnn", layers=1, vocab=0, input="value", output="value")
    tr = trace_series(w, [0.5, -1.0, 2.0], target=0.1)
    for t in range(3):
        for u in range(cfg.hidden):
            d = backward_detail(w, tr, 0, t, u)
            assert d["through_time"] + d["from_above"] == pytest.approx(d["dh"], abs=1e-12)
