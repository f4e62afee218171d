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


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
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
