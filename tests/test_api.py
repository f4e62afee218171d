"""The Python API (rnnviz.api) as a user drives it: the README's example run as it stands, numpy
alone for loading and tracing, the same numbers as the core, the picture for notebooks, sessions."""

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnviz
from rnnviz.core.corpus import assets_dir
from rnnviz.core.errors import RnnvizError
from rnnviz.core.picture import CELL_W, LABEL_W, labels
from rnnviz.core.session import DEFAULT_MODEL
from rnnviz.core.trace import TraceWeights, trace

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = assets_dir() / DEFAULT_MODEL


def readme_python() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs_as_it_stands(tmp_path):
    cmd = [sys.executable, "-c", readme_python()]
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "(1, 18, 64) (1, 18, 64) (1, 18, 64)"
    assert lines[1].startswith("(18, ") and lines[1].endswith(") (1, 18) (18,)")
    assert lines[2].startswith("The keeper") and len(lines[2]) > len("The keeper")
    assert lines[3].endswith("(1, 18)")
    assert (tmp_path / "story.safetensors").is_file() and (tmp_path / "trace.png").stat().st_size > 1000
    with np.load(tmp_path / "trace.npz", allow_pickle=False) as z:
        assert z["h"].shape == (1, 18, 64) and list(z["tokens"][:3]) == ["T", "h", "e"]


def test_loading_tracing_and_patching_need_numpy_alone():
    code = f"""
import sys
import rnnviz
m = rnnviz.load({str(DEFAULT)!r})
m.trace("The keeper counted", target="s")
m.generate("The keeper", length=20, seed=0)
m.patch(clean="The keeper counted", corrupt="The sailor counted")
m.trace("abc")._repr_png_()
bad = sorted(k for k in sys.modules if k.split(".")[0] in ("torch", "PySide6", "pyqtgraph"))
assert not bad, bad[:5]
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def rnnviz_cli(*args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "rnnviz", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_the_api_gives_the_cores_numbers_and_the_clis():
    m = rnnviz.load(DEFAULT)
    tr = m.trace("The keeper counted", target="s")
    w = TraceWeights.from_state(m.cfg, m.weights)
    ref = trace(w, m.vocab.ids(list("The keeper counted")), target_id=m.vocab.stoi["s"])
    np.testing.assert_array_equal(tr.h, ref.h)
    np.testing.assert_array_equal(tr.grad_h, ref.grad_h)
    cli = rnnviz_cli("trace", str(DEFAULT), "--text", "The keeper counted", "--target", "s", "--json")
    doc = json.loads(cli.stdout)
    np.testing.assert_allclose([s["h"] for s in doc["steps"]], tr.h.transpose(1, 0, 2), rtol=1e-12)
    gen = rnnviz_cli("generate", str(DEFAULT), "--prompt", "The keeper", "--length", "40", "--seed", "3")
    assert gen.stdout.strip() == m.generate("The keeper", length=40, seed=3)


def test_the_picture_labels_every_token_in_its_own_column():
    from PIL import Image

    m = rnnviz.load(DEFAULT)
    tr = m.trace("The keeper, counted")
    img = Image.open(io.BytesIO(tr._repr_png_()))
    step = (img.width - LABEL_W - 8) / tr.steps
    assert step >= CELL_W and step == int(step)  # every step as wide as its widest label
    assert labels(tr)[3] == "\u00b7" and len(labels(tr)) == tr.steps
    blocks = 2 + 4  # h and c of the layer, its four gates
    assert img.height > blocks * 96


def test_open_session_gives_the_model_settings_and_history(tmp_path):
    from rnnviz.core.checkpoint import load_checkpoint
    from rnnviz.core.corpus import load_corpus
    from rnnviz.core.session_file import save_session

    ck = load_checkpoint(DEFAULT)
    state = {"model_cfg": ck.model_cfg, "vocab": ck.vocab, "corpus": load_corpus("builtin:story"),
             "train": ck.train, "preset": None}  # fmt: skip
    history = {"train/loss": np.array([np.arange(1.0, 6.0), np.linspace(2, 1, 5)])}  # (step, value) rows
    path = save_session(tmp_path / "run.rnnviz", state, ck.weights, ck.steps, "The keeper", {}, history)
    s = rnnviz.open_session(path)
    assert s.text == "The keeper" and s.corpus == "builtin:story" and s.settings["lr"] == ck.train["lr"]
    np.testing.assert_array_equal(s.history["train/loss"], history["train/loss"])
    assert s.model.steps == ck.steps and s.model.trace("The").h.shape == (1, 3, ck.model_cfg.hidden)


def test_bad_input_is_one_line(tmp_path):
    m = rnnviz.load(DEFAULT)
    with pytest.raises(RnnvizError, match="unknown='unk'"):
        m.trace("\u00a7\u00a7")
    assert m.trace("\u00a7a", unknown="unk").unknown.tolist() == [True, False]
    with pytest.raises(RnnvizError, match="not in the vocabulary"):
        m.trace("abc", target="\u00a7")
    with pytest.raises(RnnvizError, match="unknown settings: colour"):
        rnnviz.train(steps=0, colour="red")
    with pytest.raises(RnnvizError, match="steps must be"):
        rnnviz.train(steps=-1)
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(RnnvizError):
        rnnviz.load(bad)
    copy = tmp_path / "copy.safetensors"
    shutil.copy(DEFAULT, copy)
    m2 = rnnviz.load(copy)
    m2.save(tmp_path / "again.safetensors")
    assert rnnviz.load(tmp_path / "again.safetensors").trace("ab").h.tolist() == m2.trace("ab").h.tolist()
