"""The command line, run as a user runs it: in a subprocess."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from reference import reference_trace
from safetensors import safe_open

from rnnviz.core.model import ModelConfig


def run(*args, cwd=None, check_ok=True):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.run(
        [sys.executable, "-m", "rnnviz", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    if check_ok:
        assert p.returncode == 0, p.stderr
    return p


def one_line_error(p, pattern):
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnviz: error: "), p.stderr
    assert pattern in lines[0], lines[0]


def train_tiny(tmp_path, steps: int):
    """A small char LSTM on the toy words, trained through the CLI; returns its path."""
    out = tmp_path / "m.safetensors"
    run(
        "train",
        "--corpus",
        "builtin:words",
        "--hidden",
        8,
        "--steps",
        steps,
        "--seq-len",
        8,
        "--batch",
        2,
        "--out",
        out,
    )
    return out


def independent_load(path):
    """Read the checkpoint without rnnviz's loader: safetensors + the documented metadata."""
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["rnnviz"])
        state = {k: f.get_tensor(k) for k in f.keys()}
    cfg = ModelConfig(
        vocab_size=len(meta["vocab"]),
        arch=meta["arch"],
        layers=meta["layers"],
        hidden=meta["hidden"],
        input=meta["input"],
        embed_dim=meta["embed_dim"],
        nonlinearity=meta["nonlinearity"],
    )
    return cfg, meta, state


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
def test_train_then_trace_agrees_with_independent_recomputation(tmp_path, arch):
    out = tmp_path / f"{arch}.safetensors"
    p = run(
        "train",
        "--corpus",
        "builtin:story",
        "--arch",
        arch,
        "--layers",
        2,
        "--hidden",
        32,
        "--steps",
        12,
        "--seq-len",
        32,
        "--batch",
        8,
        "--out",
        out,
        "--json",
    )
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert doc["steps"] == 12 and doc["out"] == str(out) and doc["val_loss"] > 0
    assert "step 12/12" in p.stderr and "tok/s" in p.stderr and "ETA" not in p.stderr  # too short for one
    cfg, meta, state = independent_load(out)
    assert meta["steps"] == 12 and meta["level"] == "char" and meta["train"]["seq_len"] == 32

    text = "The keeper counted ships."
    tr = json.loads(run("trace", out, "--text", text, "--json").stdout)
    vocab = meta["vocab"]
    assert tr["vocab"] == vocab and tr["tokens"] == list(text)
    assert (tr["arch"], tr["layers"], tr["hidden"], tr["level"]) == (arch, 2, 32, "char")
    ids = [vocab.index(ch) for ch in text]
    ref = reference_trace(cfg, state, ids)
    steps = tr["steps"]
    assert len(steps) == len(text)
    assert tr["grad_target"] == {"step": len(text) - 1, "token": vocab[ref["target_id"]]}
    np.testing.assert_allclose([s["h"] for s in steps], ref["h"].transpose(1, 0, 2), atol=1e-4)
    np.testing.assert_allclose([s["probs"] for s in steps], ref["probs"], atol=1e-4)
    np.testing.assert_allclose([s["grad_h"] for s in steps], ref["grad_h"].T, rtol=1e-3, atol=1e-12)
    for g, arr in ref["gates"].items():
        np.testing.assert_allclose([s["gates"][g] for s in steps], arr.transpose(1, 0, 2), atol=1e-4)
    if arch == "lstm":
        np.testing.assert_allclose([s["c"] for s in steps], ref["c"].transpose(1, 0, 2), atol=1e-4)
    else:
        assert "c" not in steps[0]

    # an explicit target and step: gradients are zero after that step
    tr2 = json.loads(run("trace", out, "--text", text, "--target", "s", "--target-step", 5, "--json").stdout)
    assert tr2["grad_target"] == {"step": 5, "token": "s"}
    assert all(g == 0 for s in tr2["steps"][6:] for g in s["grad_h"])
    ref2 = reference_trace(cfg, state, ids, target_step=5, target_id=vocab.index("s"))
    np.testing.assert_allclose([s["grad_h"] for s in tr2["steps"]], ref2["grad_h"].T, rtol=1e-3, atol=1e-12)
    assert "attribution" not in tr2

    # --attribution: ||d log p_s(target) / dx_t||^2 for each input token (autograd on the inputs)
    tr3 = run("trace", out, "--text", text, "--target", "s", "--target-step", 5, "--json", "--attribution")
    attribution = json.loads(tr3.stdout)["attribution"]
    assert len(attribution) == len(text) and all(a == 0 for a in attribution[6:])
    np.testing.assert_allclose(attribution, ref2["attribution"], rtol=1e-3, atol=1e-20)


def test_word_level_train_trace_generate(tmp_path):
    out = tmp_path / "w.safetensors"
    run(
        "train",
        "--corpus",
        "builtin:fable",
        "--level",
        "word",
        "--hidden",
        16,
        "--steps",
        5,
        "--seq-len",
        8,
        "--batch",
        4,
        "--out",
        out,
    )
    cfg, meta, _ = independent_load(out)
    assert meta["level"] == "word" and meta["input"] == "embedding"
    word = meta["vocab"][5]
    tr = json.loads(run("trace", out, "--text", f"{word} {word}", "--json").stdout)
    assert tr["tokens"] == [word, word] and len(tr["steps"][0]["gates"]["f"][0]) == 16
    g1 = run("generate", out, "--prompt", word, "--length", 10, "--seed", 3).stdout
    g2 = run("generate", out, "--prompt", word, "--length", 10, "--seed", 3).stdout
    assert g1 == g2 and g1.startswith(word) and len(g1.split()) >= 5
    p = run("generate", out, "--prompt", "zyzzyva", "--length", 3, check_ok=False)
    one_line_error(p, "not in the vocabulary: 'zyzzyva'")


def test_generate_and_readable_trace(tmp_path):
    out = train_tiny(tmp_path, steps=3)
    g = run("generate", out, "--prompt", "hel", "--length", 20, "--temperature", 0).stdout
    assert g.startswith("hel") and len(g.rstrip("\n")) == 23
    table = run("trace", out, "--text", "hello").stdout
    assert "||dL/dh||" in table and len(table.strip().splitlines()) == 2 + 5
    p = run("trace", out, "--text", "h\u2603", check_ok=False)
    one_line_error(p, "not in the vocabulary: '\u2603'")
    tr = json.loads(run("trace", out, "--text", "h\u2603", "--unknown", "unk", "--json").stdout)
    assert tr["tokens"] == ["h", "\u2603"] and tr["ids"][1] == 0


def _bad_files(tmp_path):
    files = {
        "empty.txt": b"",
        "binary.bin": b"\x89PNG\r\n\x1a\n\x00\x00",
        "latin1.txt": b"na\xefve text",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{broken")
    return tmp_path


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["train", "--corpus", "missing.txt"], "no such file: missing.txt"),
        (["train", "--corpus", "empty.txt"], "is empty"),
        (["train", "--corpus", "binary.bin"], "binary"),
        (["train", "--corpus", "latin1.txt"], "not UTF-8"),
        (["train", "--corpus", "."], "is a directory"),
        (["train", "--hidden", "0", "--steps", "1"], "hidden size must be"),
        (["train", "--lr", "-1", "--steps", "1"], "learning rate"),
        (["train", "--batch", "0", "--steps", "1"], "batch size"),
        (["train", "--out", "nowhere/m.safetensors"], "no such folder"),
        (["train", "--arch", "transformer"], "invalid choice"),
        (["trace", "corrupt.safetensors", "--text", "x"], "not a safetensors"),
        (["trace", "missing.safetensors", "--text", "x"], "no such file"),
        (["trace", "empty.txt", "--text", "x"], "too short"),
        (["generate", "binary.bin", "--prompt", "x"], "not a safetensors"),
        (["trace"], "required"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path, args, pattern):
    one_line_error(run(*args, cwd=_bad_files(tmp_path), check_ok=False), pattern)


def test_version_and_help():
    assert run("--version").stdout.strip().startswith("rnnviz ")
    assert "train" in run("--help").stdout


@pytest.mark.parametrize(
    "args,pattern",
    [
        (["missing.safetensors"], "no such model file"),
        (["missing.rnnviz"], "no such session file"),
        (["--corpus", "nothing.txt"], "no such corpus file"),
        (["--corpus", "builtin:poems"], "no built-in corpus 'poems'"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_app_launch_errors_are_one_line(tmp_path, args, pattern):
    one_line_error(run(*args, cwd=tmp_path, check_ok=False), pattern)


def test_divergence_stops_saves_the_last_good_weights_and_says_so(tmp_path):
    out = tmp_path / "m.safetensors"
    p = run(
        "train",
        "--corpus",
        "builtin:words",
        "--hidden",
        8,
        "--steps",
        300,
        "--seq-len",
        16,
        "--batch",
        2,
        "--optimizer",
        "adam",
        "--lr",
        10000,
        "--clip",
        0,
        "--arch",
        "rnn",
        "--nonlinearity",
        "relu",
        "--out",
        out,
        check_ok=False,
    )
    assert p.returncode == 2 and "Traceback" not in p.stderr
    last = p.stderr.strip().splitlines()[-1]  # after the progress lines
    assert (
        last.startswith("rnnviz: error: training diverged at step") and "saved the last good weights" in last
    )
    cfg, meta, state = independent_load(out)
    assert all(np.isfinite(v.numpy()).all() for v in state.values())


def test_latin1_corpus_with_an_encoding(tmp_path):
    (tmp_path / "latin.txt").write_bytes("na\xefve caf\xe9 soci\xe9t\xe9 ".encode("latin-1") * 100)
    one_line_error(run("train", "--corpus", "latin.txt", cwd=tmp_path, check_ok=False), "latin-1")
    run(
        "train",
        "--corpus",
        "latin.txt",
        "--encoding",
        "latin-1",
        "--hidden",
        8,
        "--steps",
        2,
        "--seq-len",
        8,
        "--batch",
        2,
        "--out",
        "m.safetensors",
        cwd=tmp_path,
    )
    _, meta, _ = independent_load(tmp_path / "m.safetensors")
    assert "\xef" in meta["vocab"] and "\xe9" in meta["vocab"]
    one_line_error(
        run("train", "--corpus", "latin.txt", "--encoding", "klingon", cwd=tmp_path, check_ok=False),
        "unknown text encoding",
    )


def test_tiny_and_repetitive_corpora(tmp_path):
    (tmp_path / "aaa.txt").write_text("a" * 500)
    (tmp_path / "short.txt").write_text("hello there")
    run(
        "train",
        "--corpus",
        "aaa.txt",
        "--hidden",
        4,
        "--steps",
        3,
        "--seq-len",
        8,
        "--batch",
        2,
        "--out",
        "a.safetensors",
        cwd=tmp_path,
    )
    one_line_error(
        run("train", "--corpus", "short.txt", cwd=tmp_path, check_ok=False),
        "fewer than one training sequence",
    )


def test_every_bad_checkpoint_is_one_line_exit_2(tmp_path):
    """Truncated, tiny, pickle, zip, noise, foreign, bad metadata, wrong shapes, NaN weights."""
    from test_checkpoint import _variants, saved

    _, good = saved(tmp_path)
    for name, (data, pattern) in _variants(tmp_path, good.read_bytes()).items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(data)
        p = run("trace", path, "--text", "abc", cwd=tmp_path, check_ok=False)
        assert p.returncode == 2 and "Traceback" not in p.stderr, (name, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and re.search(pattern, lines[0]), (name, lines)
    assert not (tmp_path / "pwned").exists()  # the pickle's payload never ran


def test_compare_prints_figures_and_saves_three_checkpoints(tmp_path):
    p = run(
        "compare",
        "--corpus",
        "builtin:fable",
        "--steps",
        4,
        "--hidden",
        8,
        "--seq-len",
        16,
        "--batch",
        4,
        "--window",
        20,  # the decay fits distances 10-19: 10 of them, the fewest it takes
        "--positions",
        3,
        "--save-dir",
        tmp_path / "new" / "dir",  # made
        "--json",
    )
    doc = json.loads(p.stdout)
    assert set(doc["models"]) == {"rnn", "lstm", "gru"} and doc["steps"] == 4 and doc["window"] == 20
    for arch, f in doc["models"].items():
        assert 0 <= f["horizon"] <= f["horizon_1e-4"] <= 19 and f["mean_sigma"] > 0 and f["loss"] > 0
        assert isinstance(f["decay_per_10"], float)  # its value is checked against autograd in test_lab
        cfg, meta, _ = independent_load(f["checkpoint"])
        assert meta["arch"] == arch and meta["steps"] == 4 and cfg.hidden == 8
    table = run(
        "compare",
        "--corpus",
        "builtin:words",
        "--steps",
        1,
        "--hidden",
        4,
        "--seq-len",
        8,
        "--batch",
        2,
        "--window",
        8,
        "--positions",
        2,
    ).stdout
    lines = table.strip().splitlines()
    assert lines[0].split()[:6] == ["model", "loss", "held-out", "decay/10", "horizon", "1e-4"]
    assert [line.split()[0] for line in lines[1:4]] == ["rnn", "lstm", "gru"] and "decades" in lines[4]
    assert (tmp_path / "new" / "dir" / "gru.safetensors").is_file()
    (tmp_path / "file").write_text("x")
    one_line_error(run("compare", "--save-dir", tmp_path / "file", check_ok=False), "cannot make the folder")


def test_sampling_extremes_and_bad_seeds(tmp_path):
    out = train_tiny(tmp_path, steps=2)
    tiny = run("generate", out, "--prompt", "he", "--length", 5, "--temperature", "1e-310").stdout
    greedy = run("generate", out, "--prompt", "he", "--length", 5, "--temperature", 0).stdout
    assert tiny == greedy  # a vanishing temperature is the most likely token, not a crash
    one_line_error(run("generate", out, "--prompt", "he", "--seed", -1, check_ok=False), "seed must be")


@pytest.mark.parametrize("field,value", [("steps", "many"), ("train", [1, 2]), ("steps", -4)])
def test_malformed_metadata_is_one_line(tmp_path, field, value):
    from test_checkpoint import saved

    _, path = saved(tmp_path)
    with safe_open(str(path), "np") as f:
        meta, tensors = json.loads(f.metadata()["rnnviz"]), {k: f.get_tensor(k) for k in f.keys()}
    meta[field] = value
    bad = tmp_path / "bad.safetensors"
    from safetensors.numpy import save_file

    save_file(tensors, str(bad), metadata={"rnnviz": json.dumps(meta)})
    one_line_error(run("trace", bad, "--text", "abc", check_ok=False), "invalid rnnviz metadata")


def test_a_closed_pipe_ends_quietly():
    """`rnnviz trace ... | head -1`: the reader goes away; rnnviz exits 0 and says nothing."""
    from rnnviz.core.corpus import assets_dir

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    model = assets_dir() / "models" / "default.safetensors"
    text = "the keeper counted " * 20  # a trace of several hundred KB: more than a pipe holds
    cmd = [sys.executable, "-m", "rnnviz", "trace", str(model), "--text", text, "--json"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert len(p.stdout.read(100)) == 100
    p.stdout.close()  # as `head -c 100` does once it has its bytes
    with p.stderr:
        err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0 and err == ""


def test_progress_shows_no_eta_until_it_means_something(monkeypatch, capsys):
    from types import SimpleNamespace

    from rnnviz.cli.common import Progress

    clock = iter([0.0, 30.0, 36.0, 37.0, 41.0, 80.0])  # the first step takes 30 s (start-up)
    monkeypatch.setattr("rnnviz.cli.common.time.perf_counter", lambda: next(clock))
    p = Progress(100)
    p.tty = False
    for step in (1, 5, 11, 21, 100):  # a line every 5 s when stderr is not a terminal
        p.show(SimpleNamespace(step=step, loss=2.0, skipped=False, tokens_per_s=1000.0), None)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4 and not any("ETA" in line for line in lines[:2])  # steps 1 and 5: too few
    assert lines[2].startswith("step 21/100") and lines[2].endswith("ETA 0:43")  # 11 s / 20 steps x 79
    assert lines[3].startswith("step 100/100") and "ETA" not in lines[3]
