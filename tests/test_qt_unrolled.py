"""The unrolled view on the last-letter words: step through "welcome" forward and backward with
the keyboard, scrub, edit the text mid-animation, and export the frames as a GIF."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from test_cli import run
from test_qt_presets import train

from rnnviz.core.checkpoint import load_checkpoint
from rnnviz.core.trace import TraceWeights, trace_text
from rnnviz.core.unroll import backward_detail, cell_detail, frames
from rnnviz.qt.animate import gif_bytes, render_frames
from rnnviz.qt.main_window import MainWindow
from rnnviz.qt.views.common import configure_pyqtgraph
from rnnviz.qt.views.unrolled_paint import backward_equations


@pytest.fixture
def window(qtbot, qapp):
    configure_pyqtgraph()
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 880)
    w.show()
    qtbot.waitUntil(lambda: w.latest is not None, timeout=10_000)
    w.presets.open_preset("words")
    train(qtbot, w, 120)
    w.typing.editor.setPlainText("welcome")
    w.inside.setCurrentWidget(w.unrolled)
    yield w
    w.close()


def test_keyboard_steps_forward_and_backward_through_welcome(qtbot, window):
    panel, canvas = window.unrolled, window.unrolled.canvas
    tr = window.text.last.trace
    assert "".join(tr.tokens) == "welcome" and tr.target_step == 6
    assert len(panel.anim.frames) == 7 + 7  # one per forward step, one per backward step
    canvas.setFocus()
    seen = []
    for k in range(7):  # forward: each step's numbers, and the step selected in every view
        f = panel.anim.frame
        assert (f.phase, f.t) == ("forward", k)
        d = cell_detail(window.text.probe.weights, tr, 0, k, panel.unit.value())
        assert canvas.view.detail == d and np.tanh(d["pre"]) == pytest.approx(d["h"])
        assert f"step {k} '{'welcome'[k]}'" in panel.caption.text()
        if k == 0:  # the first frame, not yet moved to: the predictions stay after the last token
            assert window.text.selected is None and window.typing.bars.caption.startswith("next after step 6")
        else:
            assert window.text.selected == k and window.internals.selected == k
            assert window.typing.bars.rows[0][2] == int(np.argmax(tr.probs[k]))  # step k's predictions
        seen.append(d["h"])
        qtbot.keyClick(canvas, Qt.Key.Key_Right)
    for t in range(6, -1, -1):  # backward from the target step, the gradient's norm in the caption
        f = panel.anim.frame
        assert (f.phase, f.t) == ("backward", t)
        assert f"{tr.grad_h[0, t]:.2e}" in panel.caption.text()
        d = backward_detail(window.text.probe.weights, tr, 0, t, panel.unit.value())  # the panel's numbers
        assert canvas.view.detail == d and d["dh"] == tr.dh[0, t, panel.unit.value()]
        lines = backward_equations("rnn", "tanh", d, panel.unit.value(), 6)
        assert f"= {d['norm']:.3g}" in lines[-1] and (t == 6 or "x ||dL/dh_(t+1)||" in lines[-1])
        qtbot.keyClick(canvas, Qt.Key.Key_Right)
    assert panel.anim.index == len(panel.anim.frames) - 1  # stays at the end
    qtbot.keyClick(canvas, Qt.Key.Key_Home)
    assert panel.anim.index == 0
    qtbot.keyClick(canvas, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert panel.anim.index == 10
    qtbot.keyClick(canvas, Qt.Key.Key_Left)
    assert panel.anim.index == 9
    qtbot.keyClick(canvas, Qt.Key.Key_End)
    assert panel.anim.frame.t == 0 and panel.anim.frame.phase == "backward"
    assert len(set(seen)) == 7  # real, changing numbers
    assert window.typing.bars.caption.startswith("next after step 0")
    window.inside.setCurrentWidget(window.internals)  # leaving the step-through ends its selection
    assert window.text.selected is None and window.typing.bars.caption.startswith("next after step 6")


def test_play_scrub_detail_and_edit_keep_their_place(qtbot, window):
    panel, canvas = window.unrolled, window.unrolled.canvas
    canvas.setFocus()
    panel.speed.setValue(30)
    qtbot.keyClick(canvas, Qt.Key.Key_Space)
    assert panel.play.isChecked() and panel.anim.timer.isActive()
    qtbot.waitUntil(lambda: panel.anim.index == len(panel.anim.frames) - 1, timeout=5000)
    qtbot.waitUntil(lambda: not panel.play.isChecked(), timeout=2000)  # stops at the end
    panel.scrubber.setValue(4)
    assert panel.anim.frame.t == 4 and window.text.selected == 4
    panel.detail.setChecked(True)  # one frame per sub-step of the cell
    assert len(panel.anim.frames) == 7 * 2 + 7 and panel.anim.frame.phase == "forward"
    panel.detail.setChecked(False)
    panel.scrubber.setValue(3)
    window.typing.editor.setPlainText("welcomes")  # editing the text re-traces (at the next frame:
    qtbot.waitUntil(lambda: "".join(canvas.trace.tokens) == "welcomes", timeout=5000)  # it needs dL/dh)
    assert panel.anim.frame.t == 3  # the same frame
    assert len(panel.anim.frames) == 8 + 8
    train(qtbot, window, 5)  # training further: the same frame, new numbers
    last = window.text.last.trace  # (the re-trace whole: its second half may be pending)
    assert panel.anim.frame.t == 3 and canvas.trace is last


def test_export_animation_writes_the_frames(qtbot, window, tmp_path):
    path = tmp_path / "welcome.gif"
    assert window.files.export_animation(str(path))
    tr, w = window.text.last.trace, window.text.probe.weights
    with Image.open(path) as gif:
        assert gif.n_frames == len(frames(tr)) == 14
        assert gif.size[0] == 1280
        gif.seek(3)
        shown = np.asarray(gif.convert("RGB"), dtype=float)
    images = render_frames(tr, w, "many-to-one")
    img = images[3].convertToFormat(images[3].Format.Format_RGB888)
    raw = np.frombuffer(bytes(img.constBits()), np.uint8)[: img.sizeInBytes()]
    expected = raw.reshape(img.height(), img.bytesPerLine())[:, : img.width() * 3].reshape(
        img.height(), -1, 3
    )
    assert np.abs(shown - expected).mean() < 3  # the same picture, up to the GIF's palette
    assert gif_bytes(images) == gif_bytes(render_frames(tr, w, "many-to-one"))  # deterministic


def test_cli_animate(tmp_path):
    model = tmp_path / "w.safetensors"
    run("train", "--preset", "words", "--steps", 30, "--out", model)
    out = tmp_path / "a.gif"
    p = run("animate", model, "--text", "welcom", "--out", out, "--detail", "--width", 960)
    assert "18 frames, 960x" in p.stderr
    ck = load_checkpoint(model)
    tr = trace_text(TraceWeights.from_state(ck.model_cfg, ck.weights), ck.vocab, "welcom")
    with Image.open(out) as gif:
        assert gif.n_frames == len(frames(tr, detail=True)) == 6 * 2 + 6 and gif.size[0] == 960
    bad = run("animate", model, "--text", "welcom", "--out", tmp_path / "a.png", check_ok=False)
    assert bad.returncode == 2 and "must name a .gif" in bad.stderr
