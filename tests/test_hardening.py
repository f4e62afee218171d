"""Hostile files and paths (issue 22): what a model file names is not read behind the user's back,
saves never replace special files, FIFOs and endless devices are refused, odd metadata is one line."""

import pytest
from conftest import make_model

from rnnviz.core.checkpoint import load_checkpoint, save_checkpoint
from rnnviz.core.corpus import load_corpus
from rnnviz.core.model import state_arrays
from rnnviz.core.session import corpus_meta, spec_from


def _model_on(tmp_path, corpus, meta=None):
    m = make_model(vocab=len(corpus.vocab), hidden=6)
    path = tmp_path / "m.safetensors"
    save_checkpoint(
        path, m.cfg, corpus.vocab, state_arrays(m), {"lr": 0.01}, 3, {**corpus_meta(corpus), **(meta or {})}
    )
    return path


def test_a_model_trained_on_a_file_goes_on_with_it(tmp_path):
    text = tmp_path / "mine.txt"
    text.write_text("my own corpus, the one I trained on. " * 40)
    corpus = load_corpus(str(text))
    spec = spec_from(load_checkpoint(_model_on(tmp_path, corpus)), "builtin:story")
    assert spec.corpus.text == corpus.text and spec.notes == ()
    text.write_text("the same file, edited since. " * 40)  # changed: not read, said
    spec = spec_from(load_checkpoint(_model_on(tmp_path, corpus)), "builtin:story")
    assert spec.corpus.name == "builtin:story" and "has changed" in spec.notes[0]


@pytest.mark.parametrize("digest", [None, "0" * 64, 5])
def test_a_model_naming_another_file_does_not_read_it(tmp_path, digest):
    """A shared model's metadata names a file of the receiver's: without the hash of the text the
    model was trained on, it is never read (the built-in corpus is used, and the user told)."""
    secret = tmp_path / "secret.txt"
    secret.write_text("a private key, not a corpus " * 10)
    corpus = load_corpus("builtin:words")
    meta = {"corpus": str(secret)} | ({} if digest is None else {"corpus_sha256": digest})
    path = _model_on(tmp_path, corpus, meta)
    if digest is None:  # a checkpoint of an older rnnviz: no hash at all
        ck = load_checkpoint(path)
        ck.meta.pop("corpus_sha256")
    else:
        ck = load_checkpoint(path)
    spec = spec_from(ck, "builtin:story")
    assert spec.corpus.name == "builtin:story" and "private" not in spec.corpus.text
    assert str(secret) in spec.notes[0] and "\n" not in spec.notes[0]
    assert ("not used" if isinstance(digest, str) else "records no hash") in spec.notes[0]


def test_a_value_model_naming_a_file_without_its_hash_gets_the_sine(tmp_path):
    from rnnviz.core.config import ModelConfig
    from rnnviz.core.series import SINE, load_series

    numbers = tmp_path / "numbers.txt"
    numbers.write_text("\n".join(str(i % 7) for i in range(200)))
    series = load_series(str(numbers))
    cfg = ModelConfig(vocab_size=0, arch="gru", hidden=4, input="value", output="value")
    from rnnviz.core.model import CharRNN

    path = tmp_path / "v.safetensors"
    save_checkpoint(path, cfg, None, state_arrays(CharRNN(cfg)), {}, 0, corpus_meta(series))
    assert spec_from(load_checkpoint(path), "builtin:story").corpus.name == str(numbers.resolve())
    doc = load_checkpoint(path)
    doc.meta.pop("corpus_sha256")
    spec = spec_from(doc, "builtin:story")
    assert spec.corpus.name == SINE and "records no hash" in spec.notes[0]


# ---- saves never replace special files; a symlink is written through ---------------------------


def test_saving_over_a_fifo_or_a_folder_is_refused(tmp_path):
    import os

    from rnnviz.core.checkpoint import write_atomic
    from rnnviz.core.errors import CheckpointError

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path):
        with pytest.raises(CheckpointError, match="cannot save .*(not a regular file|a folder)") as err:
            write_atomic(target, b"data")
        assert "\n" not in str(err.value)
    link = tmp_path / "to-fifo"
    link.symlink_to(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        write_atomic(link, b"data")
    assert os.path.exists(fifo) and not os.path.isfile(fifo) and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "to-fifo"]  # no temp file left


def test_saving_through_a_symlink_replaces_its_target_atomically(tmp_path):
    from rnnviz.core.checkpoint import write_atomic

    real = tmp_path / "store" / "m.safetensors"
    real.parent.mkdir()
    real.write_bytes(b"old")
    real.chmod(0o640)
    link = tmp_path / "m.safetensors"
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new" and (real.stat().st_mode & 0o777) == 0o640
    dangling = tmp_path / "d.safetensors"
    dangling.symlink_to(tmp_path / "store" / "fresh.safetensors")
    write_atomic(dangling, b"fresh")  # a link to a file not yet there: the file is made
    assert dangling.is_symlink() and (tmp_path / "store" / "fresh.safetensors").read_bytes() == b"fresh"


def test_cli_out_onto_a_fifo_is_one_line_exit_2(tmp_path):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    args = ["train", "--corpus", "builtin:words", "--hidden", "8", "--steps", "2", "--out", str(fifo)]
    r = subprocess.run([sys.executable, "-m", "rnnviz", *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "not a regular file" in r.stderr.strip().splitlines()[-1]
    assert "Traceback" not in r.stderr and stat_is_fifo(fifo)


def stat_is_fifo(path) -> bool:
    import os
    import stat

    return stat.S_ISFIFO(os.stat(path).st_mode)


# ---- metadata and tensors that escaped the one-line rule -------------------------------------


def _bad_models(tmp_path) -> dict:
    import json

    import torch
    from safetensors.torch import save as torch_save
    from test_checkpoint import _with_header, saved

    _, path = saved(tmp_path)
    good = path.read_bytes()
    n = int.from_bytes(good[:8], "little")
    meta = json.loads(json.loads(good[8 : 8 + n])["__metadata__"]["rnnviz"])

    def with_meta(raw: str) -> bytes:
        return _with_header(good, lambda h: h["__metadata__"].__setitem__("rnnviz", raw))

    tensors = load_checkpoint(path).weights
    bf16 = {k: torch.from_numpy(v).to(torch.bfloat16) for k, v in tensors.items()}
    return {
        "array": (with_meta("[1, 2]"), "not a JSON object"),
        "string": (with_meta('"x"'), "not a JSON object"),
        "deep": (with_meta("[" * 50_000 + "]" * 50_000), "nested too deep|not a JSON object"),
        "deep-object": (with_meta('{"a":' * 50_000 + "1" + "}" * 50_000), "nested too deep"),
        "nan": (with_meta(json.dumps(dict(meta, hidden=float("nan")))), "NaN"),
        "inf-steps": (with_meta(json.dumps(dict(meta, steps=float("inf")))), "Infinity"),
        "huge-steps": (
            with_meta(json.dumps(meta).replace('"steps": 5', '"steps": 1e400')),
            "Infinity|invalid",
        ),
        "bfloat16": (torch_save(bf16, metadata={"rnnviz": json.dumps(meta)}), "BF16"),
    }


def test_bad_metadata_and_tensor_types_are_one_line(tmp_path):
    from rnnviz.core.errors import CheckpointError

    for name, (data, message) in _bad_models(tmp_path).items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(data)
        with pytest.raises(CheckpointError, match=message) as err:
            load_checkpoint(p)
        assert "\n" not in str(err.value), name


def test_cli_bad_models_and_encodings_exit_2_in_one_line(tmp_path):
    import subprocess
    import sys

    runs = [
        ["trace", str(tmp_path / f"{name}.safetensors"), "--text", "ab"]
        for name in ("array", "deep", "nan", "bfloat16")
    ]
    for name, (data, _) in _bad_models(tmp_path).items():
        (tmp_path / f"{name}.safetensors").write_bytes(data)
    text = tmp_path / "t.txt"
    text.write_text("some text to train on. " * 50)
    for enc in ("rot13", "base64", "no-such-codec", "idna"):
        runs.append(["train", "--corpus", str(text), "--encoding", enc, "--steps", "1", "--hidden", "4"])
    for args in runs:
        r = subprocess.run(
            [sys.executable, "-m", "rnnviz", *args], capture_output=True, text=True, timeout=120
        )
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and "internal error" not in r.stderr, (args, r.stderr)


def test_utf16_corpora_can_be_read(tmp_path):
    from rnnviz.core.corpus import load_corpus

    p = tmp_path / "u16.txt"
    p.write_text("the keeper counted the ships. " * 20, encoding="utf-16")
    assert load_corpus(str(p), encoding="utf-16").text.startswith("the keeper counted")


# ---- FIFOs and endless devices: refused at once, never read ------------------------------------


def test_a_fifo_or_a_device_is_refused_at_once(tmp_path):
    """Run in a subprocess with a timeout: a regression fails instead of hanging the tests."""
    import os
    import subprocess
    import sys

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code = (
        "import sys\n"
        "from rnnviz.core.checkpoint import load_checkpoint\n"
        "from rnnviz.core.corpus import load_corpus\n"
        "from rnnviz.core.errors import RnnvizError\n"
        "from rnnviz.core.session_file import load_session\n"
        "for load in (load_checkpoint, load_corpus, load_session):\n"
        "    for path in sys.argv[1:]:\n"
        "        try:\n"
        "            load(path)\n"
        "        except RnnvizError as exc:\n"
        "            print(exc)\n"
    )
    paths = [str(fifo), "/dev/zero", "/dev/urandom"]
    r = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True, timeout=60)
    lines = r.stdout.strip().splitlines()
    assert r.returncode == 0 and len(lines) == 9, r.stdout + r.stderr
    assert all("FIFO" in line or "device" in line or "not a file" in line for line in lines), lines


def test_cli_fifo_model_and_corpus_are_one_line_exit_2(tmp_path):
    import os
    import subprocess
    import sys

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for args in (["trace", str(fifo), "--text", "a"], ["train", "--corpus", str(fifo), "--steps", "1"]):
        r = subprocess.run(
            [sys.executable, "-m", "rnnviz", *args], capture_output=True, text=True, timeout=120
        )
        assert r.returncode == 2 and "FIFO" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
