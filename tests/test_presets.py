"""The three presets: data, value models, traces of numbers, and `rnnviz train --preset`, each
checked against direct computations (plain torch on the saved weights, numpy on the data)."""

import json
from collections import Counter, defaultdict

import numpy as np
import pytest
import torch
from reference import reference_trace
from safetensors.torch import load_file
from test_cli import one_line_error, run

from rnnviz.core.checkpoint import load_checkpoint, parse_checkpoint
from rnnviz.core.corpus import Corpus, load_corpus, tokenize
from rnnviz.core.errors import ConfigError, CorpusError
from rnnviz.core.generate import sample
from rnnviz.core.model import CharRNN, ModelConfig
from rnnviz.core.presets import PRESETS, load_source, preset_trainer
from rnnviz.core.probe import TextProbe
from rnnviz.core.samples import predict, window_samples, word_samples
from rnnviz.core.scoring import Scorer, report
from rnnviz.core.series import load_series, noisy_sine, parse_values
from rnnviz.core.trace import TraceWeights, forward, trace, trace_series
from rnnviz.core.train import TrainConfig, Trainer


def fused(arch, d_in, hidden, layers=1):
    return {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[arch](
        d_in, hidden, layers, batch_first=True
    ).double()


def load_fused(path, arch, d_in, hidden, layers=1):
    """A saved model read with plain safetensors into plain torch modules (no rnnviz code)."""
    w = load_file(str(path))
    rnn = fused(arch, d_in, hidden, layers)
    rnn.load_state_dict({k[4:]: v.double() for k, v in w.items() if k.startswith("rnn.")})
    head = torch.nn.Linear(hidden, w["head.weight"].shape[0]).double()
    head.load_state_dict({k[5:]: v.double() for k, v in w.items() if k.startswith("head.")})
    return w, rnn, head


# ---- data -------------------------------------------------------------------------------


def test_noisy_sine_is_the_issue_formula():
    s = noisy_sine()
    t = np.arange(1000)
    u = np.random.default_rng(0).random(1000)
    assert np.allclose(s.values, np.sin(0.02 * t) + 2 * u)
    assert s.split == 800 and s.noise_floor == pytest.approx(1 / 3)


def test_window_samples_split_by_target_position():
    s = noisy_sine()
    train, test = window_samples(s, 4, 0.2)
    assert len(train) == 800 - 4 and len(test) == 200
    (idx, x, y) = train.groups[4]
    k = 10  # sample k: inputs x[k..k+3], target x[k+4]
    assert np.allclose(x[k].numpy(), s.values[k : k + 4], atol=1e-6)
    assert y[k].item() == pytest.approx(s.values[k + 4], abs=1e-6)
    assert test.positions.min() == 800 and train.positions.max() == 799


def test_word_samples_read_all_letters_but_the_last():
    c = Corpus.from_text("welcome please welcome a hello", "char", "t")
    train, held = word_samples(c, 0.0)
    assert train.labels == ("welcome", "please", "hello") and len(held) == 0
    idx, x, y = train.groups[6]  # "welcom" and "hello" have 6 and 4 inputs
    assert c.vocab.decode(x[0].tolist()) == "welcom" and c.vocab.tokens[int(y[0])] == "e"
    with pytest.raises(ConfigError, match="characters"):
        word_samples(Corpus.from_text("a b", "word", "t"), 0.0)


def test_parse_values_refuses_what_is_not_a_number(tmp_path):
    assert parse_values("1, 2;3\n4.5e1", "f").tolist() == [1, 2, 3, 45]
    with pytest.raises(CorpusError, match="value 3 is not a number: 'x'"):
        parse_values("1 2 x", "f")
    with pytest.raises(CorpusError, match="not finite"):
        parse_values("1 nan", "f")
    short = tmp_path / "s.txt"
    short.write_text("1 2 3")
    with pytest.raises(CorpusError, match="at least 10"):
        load_series(str(short))


def test_the_fable_allows_95_percent_from_three_words():
    """The target needs text where 3 words nearly always fix the next: count it directly."""
    tokens = tokenize(load_corpus("builtin:fable", "word").text, "word")
    assert 200 <= len(load_corpus("builtin:fable", "word").text.split()) <= 400
    seen = defaultdict(Counter)
    for i in range(len(tokens) - 3):
        seen[tuple(tokens[i : i + 3])][tokens[i + 3]] += 1
    best = sum(c.most_common(1)[0][1] for c in seen.values()) / (len(tokens) - 3)
    assert best >= 0.97
    trainer = preset_trainer(PRESETS["fable"], load_source(PRESETS["fable"]), device="cpu")
    assert Scorer(PRESETS["fable"], trainer.corpus, trainer.cfg).references[
        "best_possible_accuracy"
    ] == pytest.approx(best)


# ---- value models -----------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_trace_series_matches_autograd(arch):
    torch.manual_seed(1)
    cfg = ModelConfig(0, arch=arch, layers=2, hidden=6, input="value", output="value")
    model = CharRNN(cfg).double()
    xs = np.random.default_rng(0).normal(size=7)
    target = 0.3
    w = TraceWeights.from_state(cfg, {k: v.detach().numpy() for k, v in model.state_dict().items()})
    tr = trace_series(w, xs, target=target)
    # the fused module gives the same forecasts and top-layer states
    rnn = fused(arch, 1, 6, 2)
    rnn.load_state_dict(model.rnn.state_dict())
    out, _ = rnn(torch.tensor(xs)[None, :, None])
    assert np.allclose(tr.values, model.head(out[0]).squeeze(-1).detach().numpy(), atol=1e-10)
    assert np.allclose(tr.h[-1], out[0].detach().numpy(), atol=1e-10)
    # explicit cells with autograd: the total dL/dh^l_t through every path, every layer
    ref = reference_trace(cfg, model.state_dict(), xs, target_value=target)
    assert np.allclose(tr.h, ref["h"], atol=1e-10)
    assert np.allclose(tr.values, ref["probs"], atol=1e-10)
    assert np.allclose(tr.grad_h, ref["grad_h"], rtol=1e-6, atol=1e-12)  # the reference rounds to float32
    assert tr.grad_h[0, 0] > 0
    assert "(y - 0.3)" in tr.loss_label and not tr.unknown.any()


def test_value_model_checkpoint_round_trip(tmp_path):
    trainer = preset_trainer(PRESETS["sine"], noisy_sine(), device="cpu")
    for _ in range(3):
        trainer.step()
    from rnnviz.cli.presets import save_preset_model

    path = tmp_path / "s.safetensors"
    save_preset_model(path, trainer, "sine")
    ck = load_checkpoint(path)
    assert ck.vocab is None and ck.model_cfg == trainer.model_cfg and ck.meta["preset"] == "sine"
    assert ck.weights["head.weight"].shape == (1, 32)
    with pytest.raises(ConfigError):
        ModelConfig(5, input="value", output="value")
    with pytest.raises(ConfigError, match="together"):
        ModelConfig(5, input="onehot", output="value")
    assert parse_checkpoint(path.read_bytes()).model_cfg.regression


def test_trainer_refuses_mismatched_data():
    with pytest.raises(ConfigError, match="numbers"):
        Trainer(noisy_sine(), ModelConfig(5), TrainConfig(samples="windows", loss_mode="many-to-one"))
    with pytest.raises(ConfigError, match="many-to-one"):
        TrainConfig(samples="windows")


# ---- reading typed text as the model was trained -----------------------------------------


def test_windowed_sampling_reads_only_the_window():
    torch.manual_seed(0)
    cfg = ModelConfig(9, arch="gru", hidden=5)
    w = TraceWeights.from_state(cfg, {k: v.numpy() for k, v in CharRNN(cfg).state_dict().items()})
    prompt = np.array([3, 1, 4, 1, 5])
    got = sample(w, prompt, 4, temperature=0, window=3)
    ids = list(prompt)
    for _ in range(4):  # by hand: the last 3 tokens from a zero state, most likely next
        logits = forward(w, np.array(ids[-3:]))[-1]["h"][-1] @ w.head_w.T + w.head_b
        logits[0] = -np.inf
        ids.append(int(np.argmax(logits)))
    assert got.tolist() == ids[5:]


def test_probe_reads_the_last_word_or_window():
    c = load_corpus("builtin:words", "char")
    torch.manual_seed(0)
    cfg = ModelConfig(len(c.vocab), arch="rnn", hidden=4)
    probe = TextProbe()
    probe.set_weights(cfg, c.vocab, {k: v.numpy() for k, v in CharRNN(cfg).state_dict().items()})
    probe.window = "word"
    p = probe.run("hello welcom")
    assert "".join(p.trace.tokens) == "welcom" and p.window == "word"
    assert len(probe.continuation(p, 32, 0.0)) == 1  # a last-letter model adds one letter
    probe.window = 3
    p = probe.run("hello welcom")
    assert "".join(p.trace.tokens) == "com"
    direct = trace(probe.weights, c.vocab.encode("com"))
    assert np.allclose(p.trace.probs, direct.probs)


# ---- the presets from the command line ---------------------------------------------------


def test_preset_words_cli(tmp_path):
    out = tmp_path / "w.safetensors"
    p = run("train", "--preset", "words", "--steps", 200, "--out", out, "--json")
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert doc["preset"] == "words" and doc["steps"] == 200
    assert "reference: always the most frequent target" in p.stderr
    ck = load_checkpoint(out)
    w, rnn, head = load_fused(out, "rnn", len(ck.vocab), 64)
    right = 0
    for row in doc["words"]:  # each reported guess, recomputed from the saved weights
        x = torch.nn.functional.one_hot(torch.as_tensor(ck.vocab.encode(row["word"][:-1])), len(ck.vocab))
        out_h, _ = rnn(x.double()[None])
        probs = torch.softmax(head(out_h[0, -1]), -1).detach()
        assert ck.vocab.tokens[int(probs.argmax())] == row["predicted"]
        assert float(probs.max()) == pytest.approx(row["p"], abs=1e-4)
        right += row["predicted"] == row["word"][-1]
    assert doc["accuracy"] == pytest.approx(right / len(doc["words"])) and doc["accuracy"] >= 0.9
    counts = Counter(r["word"][-1] for r in doc["words"])
    assert doc["majority_accuracy"] == pytest.approx(max(counts.values()) / len(doc["words"]))


def test_preset_sine_cli_against_direct_computation(tmp_path):
    out = tmp_path / "s.safetensors"
    p = run("train", "--preset", "sine", "--steps", 1500, "--out", out, "--json")
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    s = noisy_sine()
    test_t = np.arange(800, 1000)
    assert doc["prev_value_mse"] == pytest.approx(np.mean((s.values[test_t] - s.values[test_t - 1]) ** 2))
    assert doc["noise_floor"] == pytest.approx(1 / 3)
    assert doc["perfect_test_mse"] == pytest.approx(np.mean((s.values[test_t] - s.signal[test_t]) ** 2))
    _, rnn, head = load_fused(out, "rnn", 1, 32)
    x = torch.as_tensor(np.stack([s.values[t - 8 : t] for t in test_t]))[..., None]
    with torch.no_grad():
        forecast = head(rnn(x)[0][:, -1]).squeeze(-1).numpy()
    assert doc["test_mse"] == pytest.approx(np.mean((forecast - s.values[test_t]) ** 2), rel=1e-4)
    assert doc["test_mse"] < doc["prev_value_mse"]  # learnt something, on a short budget
    assert "reference: noise floor" in p.stderr


def test_preset_fable_meets_its_target(tmp_path):
    """The default budget (300 steps, seconds on these CPUs) reaches the 95% target."""
    p = run("train", "--preset", "fable", "--out", tmp_path / "f.safetensors", "--json")
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert doc["accuracy"] >= 0.95 and doc["seconds"] < 60
    assert doc["accuracy"] <= doc["best_possible_accuracy"] + 1e-9


def test_preset_fable_story_and_corpus_swap(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat . the dog sat on the log . " * 12)
    p = run("train", "--preset", "fable-story", "--steps", 60, "--corpus", text, "--hidden", 32, "--json",
            "--out", tmp_path / "f.safetensors")  # fmt: skip
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert doc["accuracy"] > doc["majority_accuracy"]
    assert load_checkpoint(tmp_path / "f.safetensors").meta["corpus"] == str(text)


def test_preset_errors_are_one_line(tmp_path):
    one_line_error(run("train", "--preset", "nope", check_ok=False), "no preset 'nope'")
    bad = tmp_path / "n.txt"
    bad.write_text("1 2 3 4 5 6 7 8 9 10 eleven")
    one_line_error(
        run(
            "train", "--preset", "sine", "--corpus", bad, "--out", tmp_path / "x.safetensors", check_ok=False
        ),
        "value 11 is not a number",
    )
    out = tmp_path / "s.safetensors"
    run("train", "--preset", "sine", "--steps", 2, "--out", out)
    one_line_error(run("trace", out, "--text", "1 2", check_ok=False), "forecasts numbers")


def test_report_matches_predict():
    preset = PRESETS["words"]
    trainer = preset_trainer(preset, load_source(preset), device="cpu")
    for _ in range(40):
        trainer.step()
    doc = report(preset, trainer)
    probs = predict(trainer.model, trainer.samples)
    assert [r["predicted"] for r in doc["words"]] == [trainer.corpus.vocab.tokens[i] for i in probs.argmax(1)]
