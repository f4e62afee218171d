"""Session files (.rnnviz): the model, its corpus, settings, history, typed text and view round-trip;
anything else is refused in one line."""

import json
import re
import zipfile

import numpy as np
import pytest
from conftest import make_model

from rnnviz.core.config import TrainConfig
from rnnviz.core.corpus import load_corpus
from rnnviz.core.errors import RnnvizError
from rnnviz.core.model import state_arrays
from rnnviz.core.session_file import FORMAT, SessionError, load_session, save_session, session_spec


def _save(tmp_path, corpus, name="s.rnnviz", **view):
    model = make_model(vocab=len(corpus.vocab), hidden=6)
    weights = state_arrays(model)
    state = {"model_cfg": model.cfg, "vocab": corpus.vocab, "corpus": corpus,
             "train": TrainConfig(seed=7, lr=0.01).to_dict(), "preset": None}  # fmt: skip
    history = {
        "curves/train/loss": np.array([[1.0, 2.0, 3.0], [2.5, 2.1, 1.9]]),
        "curves/skipped/steps": np.array([2]),
        "curves/skipped/texts": np.array(["step 2 skipped"], dtype=str),
        "gradnorms/rnn.weight_hh_l0": np.array([[1.0, 2.0], [0.3, 0.2]]),
    }
    path = save_session(tmp_path / name, state, weights, 42, "hello wor", view, history)
    return path, weights, model.cfg


def test_round_trip(tmp_path):
    corpus = load_corpus("builtin:fable")
    path, weights, cfg = _save(tmp_path, corpus, selected=3, tab=2)
    s = load_session(path)
    assert s.checkpoint.model_cfg == cfg and s.checkpoint.steps == 42
    for k, v in weights.items():
        np.testing.assert_array_equal(s.checkpoint.weights[k], v)
    assert s.typed_text == "hello wor" and s.view == {"selected": 3, "tab": 2}
    assert s.doc["format"] == FORMAT and s.doc["seed"] == 7 and s.doc["train"]["lr"] == 0.01
    assert s.doc["corpus"]["spec"] == "builtin:fable" and s.doc["corpus"]["builtin"]
    assert len(s.doc["corpus"]["sha256"]) == 64
    np.testing.assert_array_equal(s.history["curves/train/loss"][1], [2.5, 2.1, 1.9])
    assert s.history["curves/skipped/texts"].tolist() == ["step 2 skipped"]
    spec = session_spec(s, "builtin:story")
    assert spec.corpus.name == "builtin:fable" and spec.updates == 42 and spec.cfg.seed == 7
    assert spec.notes == ()


def test_dropout_and_weight_decay_travel_in_the_session(tmp_path):
    corpus = load_corpus("builtin:words")
    model = make_model(vocab=len(corpus.vocab), hidden=6)
    state = {"model_cfg": model.cfg, "vocab": corpus.vocab, "corpus": corpus, "preset": None,
             "train": TrainConfig(dropout=0.2, weight_decay=1e-4).to_dict()}  # fmt: skip
    path = save_session(tmp_path / "d.rnnviz", state, state_arrays(model), 5, "", {}, {})
    cfg = session_spec(load_session(path), "builtin:story").cfg
    assert (cfg.dropout, cfg.weight_decay) == (0.2, 1e-4)


def test_suffix_added_and_members_plain(tmp_path):
    path, _, _ = _save(tmp_path, load_corpus("builtin:words"), name="plain")
    assert path.name == "plain.rnnviz"
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["corpus.txt", "history.npz", "model.safetensors", "session.json"]
        assert z.read("corpus.txt").decode() == load_corpus("builtin:words").text  # a built-in's text too
        np.load(z.open("history.npz"), allow_pickle=False)  # no pickled objects inside


def test_a_builtin_whose_text_differs_here_opens_with_the_saved_copy(tmp_path, monkeypatch):
    """builtin:python is this Python's standard library: another Python has another text."""
    corpus = load_corpus("builtin:python")
    path, _, _ = _save(tmp_path, corpus)
    spec = session_spec(load_session(path), "builtin:story")
    assert spec.corpus.name == "builtin:python" and spec.corpus.text == corpus.text and spec.notes == ()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "other.py").write_text("import os\n")
    monkeypatch.setattr("rnnviz.core.corpus.sysconfig.get_paths", lambda: {"stdlib": str(tmp_path / "lib")})
    assert load_corpus("builtin:python").text == "import os\n"  # "another Python"
    spec = session_spec(load_session(path), "builtin:story")
    assert spec.corpus.name == "builtin:python" and spec.corpus.text == corpus.text
    assert "saved copy" in spec.notes[0]


def test_a_corpus_file_is_read_only_if_it_is_the_one_saved(tmp_path):
    text = tmp_path / "c.txt"
    text.write_text("the cat sat on the mat. " * 20)
    corpus = load_corpus(str(text))
    path, _, _ = _save(tmp_path, corpus)
    with zipfile.ZipFile(path) as z:
        assert z.read("corpus.txt").decode() == corpus.text  # the session carries its corpus
    spec = session_spec(load_session(path), "builtin:story")
    assert spec.corpus.name == str(text.resolve()) and spec.corpus.text == corpus.text and spec.notes == ()
    text.write_text("the mat sat on the cat. " * 20)  # changed: the saved copy, said
    spec = session_spec(load_session(path), "builtin:story")
    assert spec.corpus.text == corpus.text and spec.updates == 42
    assert len(spec.notes) == 1 and "has changed since this session was saved" in spec.notes[0]
    text.unlink()  # gone: the saved copy too (the session opens on another machine)
    spec = session_spec(load_session(path), "builtin:story")
    assert spec.corpus.text == corpus.text and "was not found" in spec.notes[0]
    _rewrite(path, "corpus.txt", None)  # no copy, no file: the fallback, said
    spec = session_spec(load_session(path), "builtin:story")
    assert spec.corpus.name == "builtin:story" and "holds no copy" in spec.notes[0]
    assert "it now trains on builtin:story" in spec.notes[0]


def test_a_session_naming_another_file_does_not_read_it(tmp_path):
    """A shared session names a path on the receiver's machine: its text is used only if it is
    the text saved (its hash), so no other file of theirs is ever read into the model."""
    corpus = load_corpus(str(_write(tmp_path / "mine.txt", "my corpus text. " * 30)))
    path, _, _ = _save(tmp_path, corpus)
    secret = _write(tmp_path / "secret.txt", "a private key, not a corpus " * 10)
    with zipfile.ZipFile(path) as z:
        doc = json.loads(z.read("session.json"))
    doc["corpus"]["spec"] = str(secret)
    _rewrite(path, "session.json", json.dumps(doc))
    _rewrite(path, "corpus.txt", None)
    spec = session_spec(load_session(path), "builtin:story")
    assert spec.corpus.name == "builtin:story" and "private" not in spec.corpus.text


def _write(path, text):
    path.write_text(text)
    return path


def _rewrite(path, member, data):
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[member] = data
    with zipfile.ZipFile(path, "w") as z:
        for n, d in members.items():
            if d is not None:
                z.writestr(n, d)


def _npz(**arrays) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _huge_npz() -> bytes:
    """An array whose header claims 10^12 points (a few bytes of data): refused before any allocation."""
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2, 10**12)}
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("curves/train/loss.npy", header.getvalue() + b"\0" * 64)
    return buf.getvalue()


def _corrupt_deflate(path) -> None:
    data = bytearray(path.read_bytes())
    start = data.index(b"session.json") + len(b"session.json")  # the first member's compressed bytes
    for i in range(start + 2, start + 40):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p.write_bytes(b"not a zip"), "not a zip archive"),
        (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a zip archive"),
        (lambda p: _rewrite(p, "session.json", None), "no session.json inside"),
        (lambda p: _rewrite(p, "session.json", b"{oops"), "not valid JSON"),
        (lambda p: _rewrite(p, "session.json", json.dumps({"format": "x/9"})), "format 'x/9'"),
        (lambda p: _rewrite(p, "model.safetensors", b"\x80\x04junk"), "pickle"),
        (lambda p: _rewrite(p, "history.npz", b"garbage"), "history is damaged"),
        (
            lambda p: _rewrite(p, "history.npz", _npz(a=np.array([object()], dtype=object))),
            "history is damaged",
        ),
        (
            lambda p: _rewrite(p, "history.npz", _npz(**{"curves/train/loss": np.zeros((3, 4))})),
            "history is damaged",
        ),
        (lambda p: _rewrite(p, "history.npz", _huge_npz()), "history is damaged"),
        (lambda p: _rewrite(p, "session.json", b"[" * 100_000 + b"]" * 100_000), "not valid JSON"),
        (lambda p: _rewrite(p, "session.json", b"x" * (17 * 1024**2)), "too large"),
        (_corrupt_deflate, "damaged and cannot be opened"),
    ],
)
def test_damaged_files_are_refused_in_one_line(tmp_path, damage, message):
    path, _, _ = _save(tmp_path, load_corpus("builtin:words"))
    damage(path)
    with pytest.raises(SessionError) as err:
        load_session(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_and_unwritable(tmp_path):
    with pytest.raises(SessionError, match="no such file"):
        load_session(tmp_path / "nope.rnnviz")
    with pytest.raises(RnnvizError, match="cannot save the session"):
        _save(tmp_path / "missing-folder", load_corpus("builtin:words"))


def test_a_session_whose_model_header_looks_like_a_pickle_reopens(tmp_path):
    """A model header of 65536 + 896 bytes starts 0x80 0x03, as a pickle does: it still reopens."""
    corpus = load_corpus("builtin:words")
    model = make_model(vocab=len(corpus.vocab), hidden=6)
    train = TrainConfig(seed=7).to_dict()

    def model_header(preset):
        state = {"model_cfg": model.cfg, "vocab": corpus.vocab, "corpus": corpus, "train": train}
        state["preset"] = preset
        path = save_session(tmp_path / "s.rnnviz", state, state_arrays(model), 3, "", {}, {})
        with zipfile.ZipFile(path) as z:
            return path, z.read("model.safetensors")[:2]

    _, base = model_header("")
    start = 65536 + 896 - int.from_bytes(base, "little")
    for k in range(start - 8, start + 16):  # the preset's name pads the header
        path, head = model_header("x" * k)
        if head == b"\x80\x03":
            break
    assert head == b"\x80\x03"
    s = load_session(path)
    assert s.checkpoint.model_cfg == model.cfg and session_spec(s, "builtin:story").updates == 3


# ---- zip bombs and odd archives: refused from the central directory, memory bounded -----------


def _members_of(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(entries, method=zipfile.ZIP_DEFLATED) -> bytes:
    """entries: (name, data) pairs, names may repeat."""
    import io
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of a duplicate name: that is the point
        with zipfile.ZipFile(buf, "w", method) as z:
            for name, data in entries:
                z.writestr(name, data)
    return buf.getvalue()


def _lie(data: bytes, member: str, size: int) -> bytes:
    """The archive with `member`'s uncompressed size in its central directory (and local header)
    set to `size`: what a bomb declares, or a small size in front of a big stream."""
    import struct

    out = bytearray(data)
    name = member.encode()
    for sig, at in ((b"PK\x01\x02", 24), (b"PK\x03\x04", 22)):
        i = out.find(sig)
        while i >= 0:
            n_at = 46 if sig == b"PK\x01\x02" else 30
            n = struct.unpack_from("<H", out, i + (28 if sig == b"PK\x01\x02" else 26))[0]
            if bytes(out[i + n_at : i + n_at + n]) == name:
                struct.pack_into("<I", out, i + at, size)
            i = out.find(sig, i + 4)
    return bytes(out)


def _bombs(good: dict) -> dict:
    zeros = b"\0" * (8 * 1024**2)  # deflates to ~8 KB
    many_arrays = _zip([(f"curves/a{i}/loss.npy", b"") for i in range(3000)])
    nested = _zip([(f"curves/a{i}/loss.npy", zeros) for i in range(10)])  # 84 MB inside 80 KB
    no_corpus = [(k, v) for k, v in good.items() if k != "corpus.txt"]  # (built-in corpora have one now)
    return {
        "total": (_lie(_zip(good.items()), "model.safetensors", 2**31 - 1), "inflate|too large"),
        "ratio": (_zip([*good.items(), ("pad.bin", zeros * 12)]), "zip bomb"),
        "lying-size": (_lie(_zip([*no_corpus, ("corpus.txt", zeros)]), "corpus.txt", 1000), "truncated"),
        "bzip2": (_zip(good.items(), zipfile.ZIP_BZIP2), "compression method"),
        "lzma": (_zip(good.items(), zipfile.ZIP_LZMA), "compression method"),
        "members": (_zip([*good.items(), *((f"x{i}", b"") for i in range(5000))]), "members"),
        "duplicate": (_zip([*good.items(), ("session.json", b"{}")]), "same name"),
        "dotdot": (_zip([*good.items(), ("../../evil", b"x")]), "member named"),
        "absolute": (_zip([*good.items(), ("/etc/passwd", b"x")]), "member named"),
        "arrays": (_zip([*good.items(), ("history.npz", many_arrays)]), "members"),
        "nested": (_zip([*good.items(), ("history.npz", nested)]), "inflate"),
        "nested-lie": (_zip([*good.items(), ("history.npz", _lie(nested, "curves/a0/loss.npy", 10))]),
                       "inflate|damaged"),
    }  # fmt: skip


def test_bombs_and_odd_archives_are_refused_before_inflating(tmp_path):
    import tracemalloc

    path, _, _ = _save(tmp_path, load_corpus("builtin:words"))
    good = _members_of(path)
    for name, (data, message) in _bombs({k: v for k, v in good.items() if k != "history.npz"}).items():
        bomb = tmp_path / f"{name}.rnnviz"
        bomb.write_bytes(data)
        assert bomb.stat().st_size < 4 * 1024**2, name  # small files
        tracemalloc.start()
        with pytest.raises(SessionError) as err:
            load_session(bomb)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert re.search(message, str(err.value)) and "\n" not in str(err.value), (name, str(err.value))
        assert peak < 64 * 1024**2, (name, peak)  # never inflated


def test_opening_can_be_cancelled(tmp_path):
    from rnnviz.core.session_file import SessionCancelled

    path, _, _ = _save(tmp_path, load_corpus("builtin:words"))
    with pytest.raises(SessionCancelled, match="cancelled"):
        load_session(path, stop=lambda: True)
