import math

import numpy as np
import pytest
import torch

from rnnviz.core.corpus import Corpus
from rnnviz.core.errors import ConfigError
from rnnviz.core.model import ModelConfig
from rnnviz.core.train import TrainConfig, Trainer


def make(corpus, arch="lstm", **kw):
    mcfg = ModelConfig(vocab_size=len(corpus.vocab), arch=arch, hidden=32, layers=1)
    cfg = TrainConfig(**{"seq_len": 16, "batch": 4, "lr": 1e-2, **kw})
    return Trainer(corpus, mcfg, cfg, device="cpu")


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_loss_falls(corpus, arch):
    tr = make(corpus, arch)
    first = [tr.step().loss for _ in range(3)]
    for _ in range(60):
        m = tr.step()
    assert m.loss < 0.6 * np.mean(first)
    assert m.step == 63 and tr.updates == 63
    assert m.bits_per_token == pytest.approx(m.loss / math.log(2))
    assert 0 <= m.accuracy <= 1 and m.tokens_per_s > 0
    assert set(m.grad_norms) == {n for n, _ in tr.model.named_parameters()}
    assert m.total_norm == pytest.approx(math.sqrt(sum(v * v for v in m.grad_norms.values())))
    ev = tr.evaluate()
    assert ev is not None and ev.tokens > 0 and math.isfinite(ev.loss)


def test_same_seed_same_run(corpus):
    a, b = make(corpus, seed=7), make(corpus, seed=7)
    la = [a.step().loss for _ in range(5)]
    lb = [b.step().loss for _ in range(5)]
    assert la == lb
    c = make(corpus, seed=8)
    assert [c.step().loss for _ in range(5)] != la


def test_clipping_fires_and_bounds_the_update(corpus):
    tr = make(corpus, optimizer="sgd", lr=1.0, clip=1e-3)
    before = {k: v.detach().clone() for k, v in tr.model.named_parameters()}
    m = tr.step()
    assert m.clipped and m.total_norm > 1e-3
    delta = math.sqrt(
        sum(float((p.detach() - before[k]).pow(2).sum()) for k, p in tr.model.named_parameters())
    )
    assert delta == pytest.approx(1e-3, rel=1e-3)  # SGD step of lr 1 x clipped gradient
    tr.set_clip(None)
    assert not tr.step().clipped


def test_non_finite_step_is_skipped_and_weights_untouched(corpus):
    tr = make(corpus)
    tr.step()
    with torch.no_grad():
        tr.model.head.bias[1] = float("inf")
    before = {k: v.detach().clone() for k, v in tr.model.named_parameters()}
    m = tr.step()
    assert m.skipped and not math.isfinite(m.loss) and tr.updates == 1 and m.step == 2
    for k, p in tr.model.named_parameters():
        assert torch.equal(p.detach(), before[k]) or torch.equal(p.isnan(), before[k].isnan()), k
    with torch.no_grad():
        tr.model.head.bias[1] = 0.0
    m = tr.step()
    assert not m.skipped and math.isfinite(m.loss) and tr.updates == 2


def test_settings_change_between_steps_without_reset(corpus):
    tr = make(corpus)
    tr.step()
    tr.set_lr(0.5)
    assert tr.optimizer.param_groups[0]["lr"] == 0.5 and tr.step().lr == 0.5
    tr.set_optimizer("rmsprop")
    assert isinstance(tr.optimizer, torch.optim.RMSprop) and tr.optimizer.param_groups[0]["lr"] == 0.5
    tr.step()
    assert tr.updates == 3 and tr.cfg.optimizer == "rmsprop"
    with pytest.raises(ConfigError):
        tr.set_lr(float("nan"))
    with pytest.raises(ConfigError):
        tr.set_optimizer("lbfgs")


def test_many_to_one_counts_one_target_per_sequence(corpus):
    tr = make(corpus, loss_mode="many-to-one")
    m = tr.step()
    assert m.accuracy * 4 == pytest.approx(round(m.accuracy * 4))


def test_state_is_carried_and_streams_wrap(corpus):
    tr = make(corpus, seq_len=16, batch=4)
    width = tr.data.shape[1]
    for _ in range(width // 16 + 1):
        tr.step()
    assert tr.pos <= width


def test_short_texts():
    short = Corpus.from_text("abcdefghij" * 5, "char")
    tr = Trainer(
        short,
        ModelConfig(vocab_size=len(short.vocab), hidden=4),
        TrainConfig(seq_len=8, batch=32, val_fraction=0.0),
        device="cpu",
    )
    assert tr.data.shape[0] == 5 and "batch lowered" in tr.notes[0]
    with pytest.raises(ConfigError, match="fewer than one training sequence"):
        Trainer(
            short,
            ModelConfig(vocab_size=len(short.vocab), hidden=4),
            TrainConfig(seq_len=64),
            device="cpu",
        )


@pytest.mark.parametrize(
    "kw",
    [
        {"seq_len": 0},
        {"batch": -1},
        {"lr": 0.0},
        {"lr": 1e5},
        {"clip": -1.0},
        {"optimizer": "lbfgs"},
        {"loss_mode": "one-to-one"},
        {"seed": -3},
        {"dropout": 1.0},
        {"dropout": -0.1},
        {"weight_decay": math.nan},
        {"weight_decay": -1e-4},
    ],
)
def test_bad_train_config(kw):
    with pytest.raises(ConfigError):
        TrainConfig(**kw)


@pytest.mark.parametrize(
    "kw",
    [
        {"hidden": 0},
        {"layers": 4},
        {"layers": 0},
        {"arch": "transformer"},
        {"nonlinearity": "sigmoid"},
        {"input": "bytes"},
        {"hidden": 2.5},
    ],
)
def test_bad_model_config(kw):
    with pytest.raises(ConfigError):
        ModelConfig(vocab_size=10, **kw)


def test_snapshot_is_a_copy(corpus):
    tr = make(corpus)
    snap = tr.snapshot()
    w = snap.weights["head.bias"].copy()
    tr.step()
    assert np.array_equal(snap.weights["head.bias"], w)
    assert not np.array_equal(tr.snapshot().weights["head.bias"], w)


def test_dropout_is_on_the_non_recurrent_connections_while_training_only(corpus):
    mcfg = ModelConfig(vocab_size=len(corpus.vocab), arch="lstm", hidden=16, layers=2)
    tr = Trainer(corpus, mcfg, TrainConfig(seq_len=16, batch=4, dropout=0.5), device="cpu")
    m = tr.model
    assert m.rnn.dropout == 0.5 and m.dropout == 0.5  # between the layers, and before the head
    x = torch.as_tensor(corpus.ids[:20]).view(1, 20)
    m.eval()
    plain = torch.nn.LSTM(len(corpus.vocab), 16, num_layers=2, batch_first=True)
    plain.load_state_dict({k[4:]: v for k, v in m.state_dict().items() if k.startswith("rnn.")})
    expected = m.head(plain(m.embed(x))[0])
    torch.testing.assert_close(m(x)[0], expected)  # evaluation (and every trace): no dropout
    m.train()
    assert not torch.allclose(m(x)[0], expected)
    one = make(corpus, dropout=0.3)
    assert one.model.rnn.dropout == 0.0 and one.model.dropout == 0.3  # one layer: before the head only
    one.model.train()
    y = torch.as_tensor(corpus.ids[:20]).view(1, 20)
    out, _ = one.model.rnn(one.model.embed(y))
    torch.manual_seed(3)
    expected = one.model.head(torch.nn.functional.dropout(out, 0.3))
    torch.manual_seed(3)  # the same draw: the head reads the top layer's output with dropout
    torch.testing.assert_close(one.model(y)[0], expected)


def test_weight_decay_is_the_optimisers_l2_penalty(corpus):
    tr = make(corpus, optimizer="sgd", lr=0.1, weight_decay=0.01, clip=None)
    before = {k: v.detach().clone() for k, v in tr.model.named_parameters()}
    tr.step()
    grads = {k: p.grad.detach().clone() for k, p in tr.model.named_parameters()}
    for k, p in tr.model.named_parameters():  # SGD: w <- w - lr (grad + wd w)
        torch.testing.assert_close(p.detach(), before[k] - 0.1 * (grads[k] + 0.01 * before[k]))
    assert tr.optimizer.param_groups[0]["weight_decay"] == 0.01
    assert make(corpus).optimizer.param_groups[0]["weight_decay"] == 0.0  # off by default


def test_held_out_trend_by_hand():
    from rnnviz.core.overfit import held_out_trend

    assert held_out_trend([], []) is None and held_out_trend([5], [math.nan]) is None
    t = held_out_trend([50, 100, 150, 200, 250], [2.0, 1.7, 1.71, 1.72, 1.8])
    assert (t.best_step, t.best_loss, t.rising_since) == (100, 1.7, 100)
    assert t.message() == "held-out loss rising since step 100: the model is memorising the training text"
    assert held_out_trend([50, 100, 150, 200], [2.0, 1.7, 1.71, 1.8]).rising_since is None  # 2 evaluations
    assert held_out_trend([1, 2, 3, 4, 5], [2.0, 1.7, 1.71, 1.69, 1.8]).rising_since is None  # a new best
    assert held_out_trend([1, 2, 3, 4, 5], [2.0, 1.7, 1.71, 1.705, 1.71]).rising_since is None  # < 2 % up
    assert held_out_trend([1, 2, 3], [3.0, 2.0, 1.0]).message() == ""


def test_a_blow_up_goes_back_to_the_last_weights_whose_loss_was_finite(corpus):
    """Seven finite updates, then weights that make every loss non-finite: run_steps stops at the
    divergence rule, and restore_good gives back the weights of update 6 exactly (the last whose
    loss was measured finite, at step 7), not an older periodic copy."""
    from rnnviz.core.loop import NONFINITE_LIMIT, run_steps
    from rnnviz.core.model import state_arrays

    tr = make(corpus, "rnn")
    seen = []
    for _ in range(7):
        seen.append(state_arrays(tr.model))  # W0 .. W6: the weights each step's loss was measured at
        assert math.isfinite(tr.step().loss)
    with torch.no_grad():
        tr.model.rnn.weight_hh_l0.fill_(math.inf)
    ran = run_steps(tr, 50)
    assert ran.diverged and ran.metrics.step == 7 + NONFINITE_LIMIT
    assert tr.restore_good(lr_factor=1.0) and tr.updates == 6
    for name, array in state_arrays(tr.model).items():
        np.testing.assert_array_equal(array, seen[6][name])
    assert math.isfinite(tr.step().loss)  # training goes on from there
