import errno
import json
import os
import pickle

import numpy as np
import pytest
import torch
from conftest import make_model
from safetensors.numpy import save as st_save

from rnnviz.core import checkpoint as ckpt
from rnnviz.core.checkpoint import expected_shapes, load_checkpoint, save_checkpoint
from rnnviz.core.corpus import Vocab
from rnnviz.core.errors import CheckpointError
from rnnviz.core.model import state_arrays

VOCAB = Vocab(("<unk>", *"abcdefghijk"), "char")


def saved(tmp_path, arch="lstm", layers=2, input="onehot", name="m.safetensors"):
    m = make_model(arch, layers=layers, hidden=6, vocab=len(VOCAB), input=input)
    path = tmp_path / name
    save_checkpoint(path, m.cfg, VOCAB, state_arrays(m), train={"lr": 0.01}, steps=5)
    return m, path


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru", "mingru", "minlstm", "ssm"])
@pytest.mark.parametrize("input", ["onehot", "embedding"])
def test_roundtrip_and_shapes(tmp_path, arch, input):
    m, path = saved(tmp_path, arch, input=input)
    ck = load_checkpoint(path)
    assert ck.model_cfg == m.cfg and ck.vocab == VOCAB and ck.steps == 5 and ck.train == {"lr": 0.01}
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == expected_shapes(m.cfg)
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(ck.weights[k], v.numpy())
    meta = ck.meta
    assert meta["arch"] == arch and meta["input"] == input and meta["vocab"] == list(VOCAB.tokens)
    assert meta["level"] == "char" and meta["layers"] == 2 and meta["hidden"] == 6


def test_loads_into_plain_torch_modules(tmp_path):
    from safetensors.torch import load_file

    m, path = saved(tmp_path, "lstm", layers=2)
    tensors = load_file(path)
    lstm = torch.nn.LSTM(len(VOCAB), 6, num_layers=2, batch_first=True)
    head = torch.nn.Linear(6, len(VOCAB))
    lstm.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("rnn.")})
    head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
    x = torch.nn.functional.one_hot(torch.tensor([[1, 2, 3]]), len(VOCAB)).float()
    with torch.no_grad():
        assert torch.allclose(head(lstm(x)[0]), m(torch.tensor([[1, 2, 3]]))[0])


def test_failed_save_leaves_previous_file(tmp_path, monkeypatch):
    m, path = saved(tmp_path)
    before = path.read_bytes()

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt.os, "replace", full_disk)
    with pytest.raises(CheckpointError, match="No space left on device"):
        save_checkpoint(path, m.cfg, VOCAB, {k: v * 0 for k, v in state_arrays(m).items()})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_save_into_missing_folder(tmp_path):
    m = make_model(vocab=len(VOCAB))
    with pytest.raises(CheckpointError, match="cannot save"):
        save_checkpoint(tmp_path / "no" / "m.safetensors", m.cfg, VOCAB, state_arrays(m))


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def _variants(tmp_path, good: bytes) -> dict:
    m = make_model(vocab=len(VOCAB), hidden=6)
    weights = {k: v.numpy() for k, v in m.state_dict().items()}
    header_len = int.from_bytes(good[:8], "little")
    meta = json.loads(json.loads(good[8 : 8 + header_len])["__metadata__"]["rnnviz"])
    wrong = dict(meta, hidden=7)
    nan_w = dict(weights, **{"head.bias": np.full(len(VOCAB), np.nan, np.float32)})
    return {
        "truncated": (good[: len(good) // 2], "truncated|corrupt"),
        "tiny": (good[:5], "too short"),
        "pickle": (pickle.dumps(Evil()), "pickle"),
        "zip": (b"PK\x03\x04" + b"\0" * 40, "zip"),
        "noise": (os.urandom(256), "not a safetensors|truncated"),
        "foreign": (st_save({"x": np.zeros(3, np.float32)}), "not an rnnviz model"),
        "badmeta": (st_save(weights, metadata={"rnnviz": "{not json"}), "invalid rnnviz metadata"),
        "shapes": (st_save(weights, metadata={"rnnviz": json.dumps(wrong)}), "does not match"),
        "nan": (st_save(nan_w, metadata={"rnnviz": json.dumps(meta)}), "non-finite"),
    }


def test_corrupt_and_foreign_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, path = saved(tmp_path)
    for name, (data, msg) in _variants(tmp_path, path.read_bytes()).items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(data)
        with pytest.raises(CheckpointError, match=msg) as err:
            load_checkpoint(p)
        assert "\n" not in str(err.value), name
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="directory"):
        load_checkpoint(tmp_path)


def test_a_header_length_that_starts_like_a_pickle_is_still_safetensors(tmp_path):
    """A header of 896 bytes is written 80 03 00 ...: the bytes of a pickle's protocol-3 magic."""
    m = make_model("rnn", layers=1, hidden=2, vocab=3)
    weights = {k: v.numpy() for k, v in m.state_dict().items()}
    for pad in range(1000):
        meta = {"format": "rnnviz-checkpoint/1", "arch": "rnn", "nonlinearity": "tanh", "layers": 1,
                "hidden": 2, "input": "onehot", "embed_dim": 5, "level": "char", "vocab": ["<unk>", "a", "b"],
                "train": {"note": "x" * pad}, "steps": 0}  # fmt: skip
        data = st_save(weights, metadata={"rnnviz": json.dumps(meta)})
        if data[:2] == b"\x80\x03":
            break
    assert data[:2] == b"\x80\x03"
    (tmp_path / "m.safetensors").write_bytes(data)
    assert load_checkpoint(tmp_path / "m.safetensors").model_cfg.hidden == 2


def _header_len(data: bytes) -> int:
    return int.from_bytes(data[:8], "little")


def _padded_to(target: int, build) -> bytes:
    """build(pad) -> checkpoint bytes whose header holds `pad` extra characters; the one with a
    header of exactly `target` bytes (safetensors pads headers to a multiple of 8)."""
    base = _header_len(build(""))
    for k in range(max(0, target - base - 16), target - base + 16):
        data = build("x" * k)
        if _header_len(data) == target:
            return data
    raise AssertionError(f"no padding gives a header of {target} bytes")


# 640, 896, 1152, 1408 (mod 65536) start 0x80 0x02..0x05, the first bytes of a pickle (the smallest
# rnnviz header is over 700 bytes, so 640 itself only as 65536 + 640); the others are ordinary
# lengths, one whose second byte is 0x80 and ones past 65536.
@pytest.mark.parametrize(
    "target",
    [896, 1152, 1408, *(65536 * k + n for k in (1, 2) for n in (640, 896, 1152, 1408)), 1024, 0x8008, 70000],
)
def test_every_header_length_class_loads(tmp_path, target):
    m = make_model("rnn", layers=1, vocab=len(VOCAB), hidden=6)

    def build(pad):
        return ckpt.checkpoint_bytes(m.cfg, VOCAB, state_arrays(m), {"lr": 0.01}, 5, {"note": pad})

    data = _padded_to(target, build)
    path = tmp_path / "m.safetensors"
    path.write_bytes(data)
    ck = load_checkpoint(path)
    assert _header_len(path.read_bytes()) == target and ck.model_cfg == m.cfg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(ck.weights[k], v.numpy())


def test_real_pickles_still_refused_whatever_their_protocol(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        p = tmp_path / f"p{protocol}.safetensors"
        p.write_bytes(pickle.dumps([Evil(), "x" * 1000], protocol=protocol))
        with pytest.raises(CheckpointError, match="is a Python pickle; rnnviz refuses it"):
            load_checkpoint(p)
    buf = tmp_path / "t.pt"
    torch.save({"w": torch.zeros(3)}, buf)
    with pytest.raises(CheckpointError, match="zip archive"):
        load_checkpoint(buf)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ((10**6).to_bytes(8, "little") + b'{"a": 1}', "truncated"),  # header longer than the file
        ((2**64 - 1).to_bytes(8, "little") + b"{}" * 8, "truncated"),
        ((8).to_bytes(8, "little") + b"[1, 2]  ", "unreadable header"),  # a JSON array
        ((8).to_bytes(8, "little") + b'"abcdef"', "unreadable header"),
        ((4).to_bytes(8, "little") + b"\xff\xfe{}", "unreadable header"),
        ((2000).to_bytes(8, "little") + b"[" * 1000 + b"]" * 1000, "unreadable header"),
        ((0x0280).to_bytes(8, "little") + b"x" * 700, "pickle"),  # the pickle's bytes, no safetensors
    ],
)
def test_hostile_headers_refused_in_one_line(tmp_path, data, message):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(data)
    with pytest.raises(CheckpointError, match=message) as err:
        load_checkpoint(p)
    assert "\n" not in str(err.value)


def _with_header(good: bytes, change) -> bytes:
    n = _header_len(good)
    header = json.loads(good[8 : 8 + n])
    change(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw + good[8 + n :]


def _set(key, field, value):
    return lambda h: h[key].__setitem__(field, value)


@pytest.mark.parametrize(
    "change",
    [
        _set("head.bias", "data_offsets", [0, 10**9]),  # out of range
        _set("head.bias", "data_offsets", [4, 52]),  # overlapping another tensor
        _set("head.bias", "data_offsets", [40, 8]),  # end before start
        _set("head.bias", "dtype", "BF16"),  # a dtype rnnviz does not read
        _set("head.bias", "dtype", "NOPE"),
        _set("head.bias", "shape", [-1]),
        _set("head.bias", "shape", [2**40, 2**40]),
        lambda h: h.__setitem__("__metadata__", {"rnnviz": 5}),  # metadata values must be strings
    ],
)
def test_hostile_tensor_tables_refused_in_one_line(tmp_path, change):
    _, path = saved(tmp_path)
    p = tmp_path / "bad.safetensors"
    p.write_bytes(_with_header(path.read_bytes(), change))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(p)
    assert "\n" not in str(err.value)
