"""`rnnviz import` and rnnviz.import_model: a model trained in plain torch, saved both ways
(safetensors and torch.save), imported, and traced: the trace equals the original module's."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import rnnviz
from rnnviz.core.errors import RnnvizError

TEXT = "the quick brown fox jumps over the lazy dog. " * 20


class CharLSTM(nn.Module):
    """A user's model, the usual way: embedding, LSTM (batch_first=False), linear decoder."""

    def __init__(self, vocab: int, arch=nn.LSTM, embed: bool = True, layers: int = 2, hidden: int = 16):
        super().__init__()
        self.vocab, self.embed_on = vocab, embed
        if embed:
            self.encoder = nn.Embedding(vocab, 10)
        self.rnn = arch(10 if embed else vocab, hidden, num_layers=layers)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, ids):  # (T,) -> (T, V) logits, (T, layers... ) outputs
        x = self.encoder(ids) if self.embed_on else nn.functional.one_hot(ids, self.vocab).float()
        out, _ = self.rnn(x[:, None])
        return self.decoder(out[:, 0]), out[:, 0]


def trained(arch=nn.LSTM, embed=True) -> tuple[CharLSTM, list[str]]:
    chars = sorted(set(TEXT))
    ids = torch.tensor([chars.index(c) for c in TEXT])
    torch.manual_seed(0)
    model = CharLSTM(len(chars), arch, embed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        logits, _ = model(ids[:-1])
        loss = nn.functional.cross_entropy(logits, ids[1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval(), chars


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rnnviz", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(("arch", "embed"), [(nn.LSTM, True), (nn.GRU, False), (nn.RNN, True)])
def test_a_torch_model_saved_both_ways_imports_and_traces_as_the_original(tmp_path, arch, embed):
    model, chars = trained(arch, embed)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "m.safetensors")
    torch.save(model.state_dict(), tmp_path / "m.pt")
    (tmp_path / "vocab.json").write_text(json.dumps(chars))
    text = "the lazy fox"
    with torch.no_grad():
        logits, out = model(torch.tensor([chars.index(c) for c in text]))
    for source in ("m.safetensors", "m.pt"):
        r = cli("import", "--state-dict", str(tmp_path / source), "--vocab", str(tmp_path / "vocab.json"),
                "--out", str(tmp_path / "ours.safetensors"))  # fmt: skip
        assert r.returncode == 0, r.stderr
        m = rnnviz.load(tmp_path / "ours.safetensors")
        assert m.vocab.tokens[0] == "<unk>" and m.vocab.tokens[1:] == tuple(chars)
        tr = m.trace(text)
        np.testing.assert_allclose(tr.h[-1], out.numpy(), atol=2e-6)  # the top layer's h
        want = torch.softmax(logits, -1).numpy()
        np.testing.assert_allclose(tr.probs[:, 1:], want, atol=2e-6)
        assert (tr.probs[:, 0] == 0).all()  # the <unk> rnnviz adds is never predicted


def test_a_vocabulary_from_lines_or_from_a_corpus(tmp_path):
    model, chars = trained()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "m.safetensors")
    (tmp_path / "vocab.txt").write_text("\n".join(chars) + "\n")
    (tmp_path / "corpus.txt").write_text(TEXT)
    a = rnnviz.import_model(tmp_path / "m.safetensors", tmp_path / "vocab.txt")
    b = rnnviz.import_model(tmp_path / "m.safetensors", tmp_path / "corpus.txt", from_corpus=True)
    assert a.vocab.tokens == b.vocab.tokens and a.cfg == b.cfg and a.cfg.layers == 2


def test_every_mismatch_is_one_line(tmp_path):
    model, chars = trained()
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(sd, tmp_path / "m.safetensors")
    (tmp_path / "vocab.json").write_text(json.dumps(chars))
    (tmp_path / "short.json").write_text(json.dumps(chars[:-1]))
    save_file(
        {"layer.weight": torch.zeros(4, 4), "attn.in_proj_weight": torch.zeros(12, 4)}, tmp_path / "tf.st"
    )
    renamed = {k.replace("rnn.", "my_lstm."): v for k, v in sd.items()}
    save_file(renamed, tmp_path / "renamed.safetensors")

    class Evil:
        def __reduce__(self):
            return (print, ("this ran",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"rnn.weight_ih_l0": Evil()}))
    out, n = str(tmp_path / "o.safetensors"), len(chars)

    def args(state: str, vocab: str = "vocab.json", *more: str) -> tuple:
        return ("--state-dict", str(tmp_path / state), "--vocab", str(tmp_path / vocab), *more)

    for given, said in (
        (args("m.safetensors", "short.json"), f"the head has {n} outputs but the vocabulary has {n - 1}"),
        (args("tf.st"), "no recurrent layer"),
        (args("evil.pt"), "was refused"),
        (args("renamed.safetensors"), "no recurrent layer"),
        (args("m.safetensors", "vocab.json", "--map", "x"), "--map takes OLD=NEW"),
        (args("nope.pt"), "no such"),
    ):
        r = cli("import", *given, "--out", out)
        assert r.returncode == 2, (given, r.stderr)
        assert said in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "this ran" not in r.stdout
    r = cli("import", *args("renamed.safetensors", "vocab.json", "--map", "my_lstm.=rnn."), "--out", out)
    assert r.returncode == 0, r.stderr
    with pytest.raises(RnnvizError, match="bidirectional"):
        bi = nn.LSTM(4, 3, bidirectional=True)
        save_file({**{f"rnn.{k}": v.contiguous() for k, v in bi.state_dict().items()},
                   "fc.weight": torch.zeros(5, 3)}, tmp_path / "bi.st")  # fmt: skip
        (tmp_path / "v5.json").write_text(json.dumps(list("abcde")))
        rnnviz.import_model(tmp_path / "bi.st", tmp_path / "v5.json")
