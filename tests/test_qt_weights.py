"""WeightView: the matrices offered, what is drawn, hover read-outs, and robustness to bad input."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.qt.views.common import configure_pyqtgraph, fmt
from rnnviz.qt.views.weights import WeightView, token_ticks

configure_pyqtgraph()  # before any pyqtgraph item exists

VOCAB = ("<unk>", " ", "\n", "a", "b", "c", "d", "e", "h", "l", "o", "r")
H = 4


def model_weights(arch="lstm", layers=1, input="onehot"):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=len(VOCAB), arch=arch, layers=layers, hidden=H, input=input, embed_dim=3)
    return cfg, state_arrays(CharRNN(cfg))


@pytest.fixture
def view(qtbot):
    v = WeightView()
    qtbot.addWidget(v)
    return v


def show(view, cfg, weights, key="rnn.weight_hh_l0"):
    view.set_model(cfg, VOCAB)
    view.set_weights(weights)
    select(view, key)


def select(view, key):
    index = view.combo.findData(key)
    assert index >= 0, f"{key} is not offered"
    view.combo.setCurrentIndex(index)


def combo_keys(view):
    return [view.combo.itemData(i) for i in range(view.combo.count())]


def stats(view):
    return view.stats.text().replace("\u00a0", " ")  # parts are kept whole with no-break spaces


def hover(view, col, row):
    view._on_hover(float(col), float(row))
    return view.readout.text()


@pytest.mark.parametrize(
    "arch, layers, input, expected",
    [
        ("lstm", 1, "onehot", ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "head.weight"]),
        ("gru", 2, "onehot", ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l1"]),
        ("rnn", 2, "embedding", ["embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0"]),
    ],
)
def test_combo_lists_exactly_the_models_tensors(view, arch, layers, input, expected):
    cfg, weights = model_weights(arch, layers, input)
    view.set_model(cfg, VOCAB)
    assert view.note.isHidden()  # a classic cell has its W_hh
    keys = combo_keys(view)
    assert sorted(keys) == sorted(weights)  # every parameter of the real model, nothing else
    assert keys[: len(expected)] == expected  # weight matrices first, in data-flow order
    assert view.combo.currentData() == "rnn.weight_hh_l0"
    labels = [view.combo.itemText(i) for i in range(view.combo.count())]
    assert "W_hh layer 1 (rnn.weight_hh_l0)" in labels  # layers counted from 1, as everywhere
    assert "head W_hy (head.weight)" in labels
    assert ("embedding (embedding.weight)" in labels) == (input == "embedding")
    assert ("W_ih layer 2 (rnn.weight_ih_l1)" in labels) == (layers == 2)


def test_selecting_a_matrix_draws_exactly_that_array_with_symmetric_levels(view):
    cfg, weights = model_weights("lstm", 2, "embedding")
    show(view, cfg, weights)
    for key in combo_keys(view):
        select(view, key)
        expected = weights[key].reshape(len(weights[key]), -1)  # a bias is drawn as one column
        np.testing.assert_array_equal(view.image.image, expected)
        lo, hi = view.image.getLevels()
        assert lo == -hi == pytest.approx(-np.abs(expected).max())
        assert tuple(view.colorbar.levels()) == pytest.approx((lo, hi))


def test_levels_stay_put_for_small_changes_and_refit_for_large_ones(view):
    cfg, weights = model_weights()
    show(view, cfg, weights)
    first = tuple(view.image.getLevels())
    view.set_weights({k: v * 1.1 for k, v in weights.items()})
    assert tuple(view.image.getLevels()) == first
    view.set_weights({k: v * 2 for k, v in weights.items()})
    assert view.image.getLevels()[1] == pytest.approx(2 * first[1])
    view.set_weights({k: v * 2.2 for k, v in weights.items()})
    assert view.image.getLevels()[1] == pytest.approx(2 * first[1])


def test_fit_levels_button_fits_the_current_maximum(view, qtbot):
    cfg, weights = model_weights()
    show(view, cfg, weights)
    view.set_weights({k: v * 1.2 for k, v in weights.items()})
    (button,) = [b for b in view.findChildren(QPushButton) if b.text() == "Fit levels"]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert view.image.getLevels()[1] == pytest.approx(1.2 * np.abs(weights["rnn.weight_hh_l0"]).max())


def test_hover_names_gate_unit_and_previous_unit(view):
    cfg, weights = model_weights("lstm")
    show(view, cfg, weights, "rnn.weight_hh_l0")
    value = fmt(float(weights["rnn.weight_hh_l0"][5, 2]))
    text = hover(view, 2, 5)
    assert text == f"W_hh layer 1  row 5 = gate f, unit 1  col 2 = h_{{t-1}} unit 2  value {value}"
    doubled = {k: 2 * v for k, v in weights.items()}
    view.set_weights(doubled)  # the mouse has not moved: the read-out follows the new weights
    assert view.readout.text().endswith(f"value {fmt(float(doubled['rnn.weight_hh_l0'][5, 2]))}")
    assert "gate o, unit 3" in hover(view, 0, 4 * H - 1)
    assert hover(view, -3, 0).strip() == ""  # outside the matrix: cleared
    assert hover(view, 0, 4 * H).strip() == ""


def test_hover_names_one_hot_input_tokens(view):
    cfg, weights = model_weights("gru")
    show(view, cfg, weights, "rnn.weight_ih_l0")
    assert "row 9 = gate n, unit 1" in hover(view, 7, 9)
    assert "col 7 = input token 'e'" in hover(view, 7, 9)
    assert "input token '\u2423'" in hover(view, 1, 0)  # a space is made visible


def test_hover_on_head_embedding_upper_layer_and_plain_rnn(view):
    cfg, weights = model_weights("rnn", 2, "embedding")
    show(view, cfg, weights, "head.weight")
    assert "head W_hy  row 4 = token 'b'  col 3 = unit 3" in hover(view, 3, 4)
    select(view, "embedding.weight")
    assert "row 2 = token '\u21b5'  col 1 = embedding dim 1" in hover(view, 1, 2)
    select(view, "rnn.weight_ih_l1")
    assert "row 3 = unit 3  col 2 = layer 1 unit 2" in hover(view, 2, 3)


def test_gate_axis_and_token_axis_and_separators(view):
    cfg, weights = model_weights("lstm")
    show(view, cfg, weights, "rnn.weight_ih_l0")
    left = view.plot.getAxis("left")._tickLevels
    assert left == [[(1.5, "i"), (5.5, "f"), (9.5, "g"), (13.5, "o")]]
    assert [line.value() for line in view._separators] == [3.5, 7.5, 11.5]
    bottom = sorted(t for level in view.plot.getAxis("bottom")._tickLevels for t in level)
    assert [s for _, s in bottom] == ["<unk>", "\u2423", "\u21b5", *VOCAB[3:]]
    select(view, "head.weight")
    assert view._separators == []


def test_token_ticks_are_sparse_first_and_cover_every_token_once():
    tokens = [f"word{i}" for i in range(200)]
    levels = token_ticks(tokens, 200)
    assert len(levels[0]) <= 10
    positions = [p for level in levels for p, _ in level]
    assert sorted(positions) == list(range(200))
    assert all(len(s) <= 8 for level in levels for _, s in level)


def test_spectral_radius_of_each_gate_block(view):
    cfg, weights = model_weights("gru")
    w_hh = np.concatenate([0.5 * np.eye(H), 2.0 * np.eye(H), -0.25 * np.eye(H)]).astype(np.float32)
    show(view, cfg, {**weights, "rnn.weight_hh_l0": w_hh})
    assert "spectral radius r 0.5 z 2 n 0.25" in stats(view)


def test_non_finite_weights_are_drawn_and_reported(view):
    cfg, weights = model_weights("lstm")
    bad = weights["rnn.weight_hh_l0"].copy()
    bad[0, 0], bad[1, 1] = np.nan, np.inf
    show(view, cfg, {**weights, "rnn.weight_hh_l0": bad})
    assert "non-finite values: 2 of 64" in stats(view)
    assert np.isnan(view.image.image[1, 1])  # inf is drawn as the neutral no-data colour too
    lo, hi = view.image.getLevels()
    assert np.isfinite(hi) and lo == -hi
    assert "value non-finite" in hover(view, 0, 0)
    view.set_weights({k: np.full_like(v, np.nan) for k, v in weights.items()})
    assert "non-finite values" in stats(view)


def test_weights_before_model_missing_keys_and_odd_shapes_do_not_raise(view):
    cfg, weights = model_weights("lstm")
    view.set_weights(weights)
    assert "no model" in stats(view)
    view.set_model(cfg, VOCAB)
    np.testing.assert_array_equal(view.image.image, weights["rnn.weight_hh_l0"])
    view.set_weights({k: v for k, v in weights.items() if k != "rnn.weight_hh_l0"})
    assert view.image.image is None
    assert "no array named rnn.weight_hh_l0" in stats(view)
    assert hover(view, 0, 0).strip() == ""
    view.set_weights({"rnn.weight_hh_l0": np.zeros((2, 2, 2))})
    assert "cannot draw" in stats(view)


def test_new_model_keeps_the_selection_when_it_still_exists(view):
    cfg, weights = model_weights("lstm", 2)
    show(view, cfg, weights, "rnn.weight_ih_l1")
    cfg2, weights2 = model_weights("gru", 2)
    view.set_model(cfg2, VOCAB)
    view.set_weights(weights2)
    assert view.combo.currentData() == "rnn.weight_ih_l1"
    np.testing.assert_array_equal(view.image.image, weights2["rnn.weight_ih_l1"])
    assert "gate z" in hover(view, 0, H)
    cfg1, weights1 = model_weights("gru", 1)
    view.set_model(cfg1, VOCAB)
    assert view.combo.currentData() == "rnn.weight_hh_l0"


@pytest.mark.parametrize(
    "arch, first, names",
    [
        ("mingru", "rnn.l0.z.weight", ["W_z layer 1", "W_h (candidate) layer 1", "b_z layer 1"]),
        ("minlstm", "rnn.l0.f.weight", ["W_f layer 1", "W_i layer 1", "W_h (candidate) layer 2"]),
        ("ssm", "rnn.l0.A_log", ["W_in layer 1", "W_gate layer 1", "W_\u0394 layer 1", "W_B layer 2",
                                 "W_C layer 1", "A = -exp(A_log) layer 2", "D (skip u \u2192 y) layer 1"]),
    ],
)  # fmt: skip
def test_a_modern_cell_lists_its_own_matrices_and_no_w_hh(view, arch, first, names):
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=len(VOCAB), arch=arch, layers=2, hidden=H, state=3)
    weights = state_arrays(CharRNN(cfg))
    view.set_model(cfg, VOCAB)
    view.set_weights(weights)
    keys = combo_keys(view)
    assert sorted(keys) == sorted(weights) and view.combo.currentData() == first
    labels = [view.combo.itemText(i).split(" (rnn.")[0] for i in range(view.combo.count())]
    assert set(names) <= set(labels) and not any("W_hh" in s for s in labels)
    assert view.note.text().startswith(f"A {cfg.name} has no recurrent matrix W_hh (so no spectral radius)")
    assert not view.note.isHidden() and "spectral" not in stats(view)
    assert view.plot.getAxis("left")._tickLevels is None  # units or states, not gate blocks
    for key in keys:
        select(view, key)
        a = weights[key].reshape(len(weights[key]), -1)
        np.testing.assert_array_equal(view.image.image, -np.exp(a) if key.endswith("A_log") else a)
    if arch == "ssm":
        select(view, "rnn.l1.A_log")  # H units x N states, the decay rates
        assert view.plot.getAxis("left").labelText == "unit" and view.plot.getAxis("bottom").labelText == (
            "state index n")  # fmt: skip
        value = fmt(float(-np.exp(weights["rnn.l1.A_log"][1, 2])))
        assert (
            hover(view, 2, 1) == f"A = -exp(A_log) layer 2  row 1 = unit 1  col 2 = state n 2  value {value}"
        )
        select(view, "rnn.l0.B.weight")  # N x H: read from u
        assert view.image.image.shape == (3, H) and "row 2 = state n 2  col 1 = u unit 1" in hover(view, 1, 2)
        select(view, "rnn.l0.D")
        assert view.plot.getAxis("bottom")._tickLevels == [[(0, "D")]]
