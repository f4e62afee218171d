"""Interventions: clamping, zeroing and forcing gates, forward and backward, against autograd on
the same edited network; the continuation drawn from it; bad requests refused."""

import numpy as np
import pytest
import torch
from reference import reference_trace

from rnnviz.core.config import ModelConfig
from rnnviz.core.errors import ConfigError
from rnnviz.core.generate import sample
from rnnviz.core.intervene import Intervention, layer_edits
from rnnviz.core.model import CharRNN, state_arrays
from rnnviz.core.trace import TraceWeights, trace

CASES = [
    ("rnn", Intervention(0, "h", 0.0, (1, 3))),
    ("rnn", Intervention(1, "h", 0.5)),
    ("lstm", Intervention(0, "f", 1.0)),
    ("lstm", Intervention(1, "h", -0.3, (2,))),
    ("lstm", Intervention(0, "g", -1.0, (0, 4))),
    ("lstm", Intervention(1, "o", 0.0, (5,))),
    ("gru", Intervention(0, "z", 1.0, (1,))),
    ("gru", Intervention(1, "n", 0.25)),
    ("gru", Intervention(0, "h", 0.0, (0,))),
]


def setup(arch, seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(vocab_size=9, arch=arch, layers=2, hidden=6, input="embedding", embed_dim=4)
    model = CharRNN(cfg)
    return cfg, model, TraceWeights.from_state(cfg, state_arrays(model))


@pytest.mark.parametrize("arch,iv", CASES)
def test_an_edited_network_matches_autograd_on_it(arch, iv):
    cfg, model, w = setup(arch)
    ids = np.random.default_rng(1).integers(0, 9, 12)
    tr = trace(w, ids, target_step=9, interventions=(iv,))
    edits = {
        n: {k: (torch.as_tensor(m), v) for k, (m, v) in e.items()}
        for n, e in enumerate(layer_edits([iv], cfg))
    }
    ref = reference_trace(cfg, model.state_dict(), ids, target_step=9, edits=edits)
    np.testing.assert_allclose(tr.h, ref["h"], atol=1e-10)
    np.testing.assert_allclose(tr.probs, ref["probs"], atol=1e-10)
    np.testing.assert_allclose(tr.dh, ref["dh"], rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(tr.attribution, ref["attribution"], rtol=1e-8, atol=1e-24)
    mask = layer_edits([iv], cfg)[iv.layer][iv.what][0]
    values = tr.h[iv.layer] if iv.what == "h" else tr.gates[iv.what][iv.layer]
    assert (values[:, mask] == iv.value).all()  # edited at every step
    assert not np.allclose(tr.probs, trace(w, ids).probs)  # and it changes what the model predicts


def test_forcing_the_forget_gate_open_keeps_the_cell_state():
    cfg, _, w = setup("lstm")
    ids = np.arange(10) % 9
    tr = trace(w, ids, interventions=(Intervention(0, "f", 1.0), Intervention(0, "i", 0.0)))
    np.testing.assert_allclose(tr.c[0], 0.0)  # nothing written, nothing forgotten: c stays at 0
    tr = trace(w, ids, interventions=(Intervention(0, "f", 1.0),))
    np.testing.assert_allclose(tr.c[0, 1:] - tr.c[0, :-1], (tr.gates["i"] * tr.gates["g"])[0, 1:], atol=1e-12)


def test_the_continuation_comes_from_the_edited_network():
    cfg, _, w = setup("lstm")
    iv = (Intervention(1, "h", 0.0),)
    prompt = np.array([1, 2, 3])
    a = sample(w, prompt, 20, 0.0, interventions=iv)
    state = trace(w, prompt, interventions=iv).final_state()
    assert sample(w, prompt, 20, 0.0, state=state, interventions=iv).tolist() == a.tolist()
    # every unit of the top layer zeroed: the head sees only its bias, so one token repeats
    assert len(set(a.tolist())) == 1


@pytest.mark.parametrize(
    "iv,msg",
    [
        (Intervention(2, "h", 0.0), "layer must be 1 to 2"),
        (Intervention(0, "f", 0.5), "has no 'f'"),
        (Intervention(0, "h", 0.0, (6,)), "units must lie in 0..5"),
        (Intervention(0, "h", 20.0), "h can be set to a value in"),
        (Intervention(0, "z", 1.5), "z can be set to a value in [0, 1]"),
    ],
)
def test_bad_interventions_are_refused(iv, msg):
    cfg, _, w = setup("gru")
    with pytest.raises(ConfigError, match=msg.replace("[", r"\[").replace("(", r"\(")):
        trace(w, [1, 2], interventions=(iv,))


def test_descriptions():
    assert Intervention(0, "h", 0.0, (3,)).describe() == "layer 1, unit 3: h zeroed"
    assert Intervention(1, "f", 1.0).describe() == "layer 2, every unit: f forced to 1"
