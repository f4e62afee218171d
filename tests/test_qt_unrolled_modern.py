"""The step-through of the modern cells as the app and `rnnviz animate` show it: the panel widget
stepping through an S6 (with an intervention), the GIF's frames for a minGRU, the command for an S6,
and the Patching tab's choices per architecture."""

import numpy as np
import torch
from PIL import Image
from qt_helpers import VOCAB
from test_cli import run
from test_qt_unrolled_layout import overlaps

from rnnviz.core.model import CharRNN, ModelConfig, state_arrays
from rnnviz.core.trace import TraceWeights, trace
from rnnviz.core.unroll import frame_detail, frames


def weights(arch: str, layers: int, hidden: int = 9) -> TraceWeights:
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=len(VOCAB), arch=arch, layers=layers, hidden=hidden, state=4)
    return TraceWeights.from_state(cfg, state_arrays(CharRNN(cfg)))


def test_the_panel_steps_through_an_s6_with_its_interventions(qtbot):
    """The widget itself: the frames, the keys, the cell panel's numbers (replayed with the trace's
    interventions), the caption's ||dL/ds_t||, and a drawing tall enough for its two layers."""
    from PySide6.QtCore import Qt

    from rnnviz.core.intervene import Intervention
    from rnnviz.qt.views.unrolled import UnrolledPanel
    from rnnviz.qt.views.unrolled_paint import needed_height

    w = weights("ssm", 2)
    ivs = (Intervention(1, "delta", 0.0, (3,)),)  # channel 3 of layer 2 holds its state
    tokens = list("welcome")
    tr = trace(w, VOCAB.ids(tokens), tokens=tokens, vocab=VOCAB.tokens, interventions=ivs)
    panel = UnrolledPanel()
    qtbot.addWidget(panel)
    panel.resize(640, 420)
    panel.show()
    panel.unit.setValue(3)
    panel.layer.setValue(2)
    panel.set_trace(tr, w, "many-to-many", ivs)
    assert len(panel.anim.frames) == 7 + 7
    panel.canvas.setFocus()
    for _ in range(len(panel.anim.frames)):
        f = panel.anim.frame
        assert panel.canvas.view.detail == frame_detail(w, tr, f, 1, 3, ivs)
        if f.phase == "forward":
            assert panel.canvas.view.detail["delta"] == 0.0 and panel.canvas.view.detail["a_max"] == 1.0
        else:
            assert f"||dL/ds_t|| = {tr.grad_state[0, f.t]:.2e}" in panel.caption.text()
        qtbot.keyClick(panel.canvas, Qt.Key.Key_Right)
    assert panel.canvas.minimumHeight() >= needed_height(tr, True)
    from PySide6.QtCore import QRectF

    from rnnviz.qt.views.common import fmt
    from rnnviz.qt.views.unrolled_paint import unit_at

    c = panel.canvas
    hits = [(x, y, unit_at(QRectF(c.rect()), tr, c.view, x, y)) for x in range(0, c.width(), 7)
            for y in range(0, c.height(), 7)]  # fmt: skip
    x, y, (t, n, u) = next(h for h in hits if h[2] is not None)
    assert c.hover_text(x, y).endswith(f"|s| = {fmt(float(np.linalg.norm(tr.state[n, t, u])))} (N = 4)")
    panel.canvas.repaint()
    assert overlaps(panel.canvas.view.drawn) == []


def test_the_gif_frames_of_a_mingru(qapp):
    from rnnviz.qt.animate import frame_size, gif_bytes, render_frames

    w = weights("mingru", 2)
    tokens = list("welcome")
    tr = trace(w, VOCAB.ids(tokens), tokens=tokens, vocab=VOCAB.tokens)
    images = render_frames(tr, w, detail=True, width=800, unit=2, layer=1)
    assert len(images) == len(frames(tr, detail=True)) == 7 * 3 + 7
    assert (images[0].width(), images[0].height()) == frame_size(tr, 800)
    pixels = [bytes(img.constBits()) for img in images]
    assert len(set(pixels)) == len(pixels)  # every frame shows something new
    assert gif_bytes(images[:3]) == gif_bytes(
        render_frames(tr, w, detail=True, width=800, unit=2, layer=1)[:3]
    )


def test_cli_animate_an_s6(tmp_path):
    from rnnviz.core.checkpoint import save_checkpoint
    from rnnviz.core.corpus import Corpus

    corpus = Corpus.from_text("welcome a cool mole came low " * 4, "char")
    torch.manual_seed(1)
    model = CharRNN(ModelConfig(vocab_size=len(corpus.vocab), arch="ssm", layers=2, hidden=8, state=4))
    path = tmp_path / "s6.safetensors"
    save_checkpoint(path, model.cfg, corpus.vocab, state_arrays(model))
    out = tmp_path / "s6.gif"
    p = run("animate", path, "--text", "mole", "--out", out, "--width", 900, "--layer", 2, "--unit", 7)
    assert "8 frames, 900x" in p.stderr
    with Image.open(out) as gif:
        assert gif.n_frames == 8 and gif.size[0] == 900
        orange = []
        for k in (3, 5):  # the last forward frame, a backward one
            gif.seek(k)
            rgb = np.asarray(gif.convert("RGB"), dtype=int)
            orange.append(((rgb[..., 0] > 200) & (rgb[..., 1] < 140) & (rgb[..., 2] < 60)).sum())
    assert orange[1] > orange[0] + 200  # backward: the gradient's arrows along the state's belt


def test_the_patching_tab_offers_what_each_cell_can_patch(qtbot):
    from rnnviz.core.patch import states
    from rnnviz.qt.views.patching import PatchingView

    view = PatchingView()
    qtbot.addWidget(view)
    said = []
    view.state_changed.connect(said.append)
    view.state.setCurrentIndex(2)  # an LSTM's c only
    for arch, now in (("ssm", "both"), ("lstm", "both"), ("mingru", "both"), ("gru", "both")):
        view.set_arch(arch)
        offered = [view.state.itemData(k) for k in range(view.state.count())]
        whole = states(arch) if arch in ("lstm", "ssm") else ("both",)  # h alone: one choice, h
        assert sorted(offered) == sorted(whole) and view.state.currentData() == now
    assert said == ["c", "both"]  # c is gone in the S6: "both" announced once
    view.set_arch("ssm")
    view.state.setCurrentIndex(1)
    assert said[-1] == "s" and view.state.currentText() == "s only (the state)"
    view.set_arch("lstm")  # no s in an LSTM: back to the whole state
    assert said[-1] == "both" and view.units.getAxis("bottom").labelText == "unit"
