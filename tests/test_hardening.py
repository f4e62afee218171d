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
