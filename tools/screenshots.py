"""Regenerates the README's screenshots (docs/*.png) from the real app, offscreen.

Run from the repository root: QT_QPA_PLATFORM=offscreen python tools/screenshots.py
It opens the main window on the built-in pre-trained model, trains for a few seconds,
types "welcom" and grabs the window; then the last-letter words unrolled, and the gradient lab
after ~150 steps; the neuron finder and the state trajectory on the nested brackets.
"""

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Settings of its own (no tour, no remembered layout of the user's): the same pictures every time.
os.environ["RNNVIZ_SETTINGS"] = os.path.join(tempfile.mkdtemp(prefix="rnnviz-shots-"), "rnnviz.ini")
with open(os.environ["RNNVIZ_SETTINGS"], "w", encoding="utf-8") as ini:
    ini.write("[tour]\ndone=true\n[ask]\nunsaved=false\n")  # the tour is shot on purpose, below

from PySide6.QtWidgets import QApplication  # noqa: E402

from rnnviz.qt.views.common import configure_pyqtgraph  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs"


def pump(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def shoot_lab(app: QApplication, main_window) -> None:
    """The gradient lab after 1000 steps of an RNN, an LSTM and a GRU (64 units) on the story: by
    then the LSTM's gradient levels off and its decay per 10 steps is below the RNN's."""
    main_window.open_lab()
    lab = main_window.lab_window
    lab.resize(1400, 880)
    lab.worker.play()
    end = time.perf_counter() + 900
    while time.perf_counter() < end and (
        "rnn" not in lab.last_metrics or lab.last_metrics["rnn"].step < 1000
    ):
        app.processEvents()
        time.sleep(0.02)
    lab.worker.pause()
    pump(app, 4.0)  # the figures measured on pause
    lab.grab().save(str(OUT / "gradient-lab.png"))
    print(f"wrote {OUT / 'gradient-lab.png'}")


def shoot_presets(app: QApplication, w) -> None:
    """The last-letter words unrolled over "welcome", stopped in the backward pass; then the
    fable preset's figures."""
    w.open_preset("words")
    w.controls.play.setChecked(True)
    pump(app, 4.0)
    w.controls.play.setChecked(False)
    w.typing.editor.setPlainText("welcome")
    w.inside.setCurrentWidget(w.unrolled)
    pump(app, 1.0)
    w.unrolled.anim.go(9)  # backward, three steps back from the target
    pump(app, 0.5)
    w.grab().save(str(OUT / "unrolled.png"))
    print(f"wrote {OUT / 'unrolled.png'}")
    w.inside.setCurrentWidget(w.internals)
    w.open_preset("sine")  # the forecaster's own window, after ~3000 steps
    sw = w.series_window
    sw.resize(1440, 900)
    sw.controls.play.setChecked(True)
    end = time.perf_counter() + 60
    while time.perf_counter() < end and (sw.latest is None or sw.latest.updates < 3000):
        app.processEvents()
        time.sleep(0.01)
    sw.controls.play.setChecked(False)
    pump(app, 1.0)
    sw.grab().save(str(OUT / "sine.png"))
    print(f"wrote {OUT / 'sine.png'}")
    sw.close()


def with_dialogs(window, *dialogs):
    """The window's picture with its dialogs drawn where they stand on it (a grab shows none)."""
    from PySide6.QtGui import QPainter

    image = window.grab().toImage()
    p = QPainter(image)
    for d in dialogs:
        at = window.mapFromGlobal(d.frameGeometry().topLeft())
        p.drawPixmap(at, d.grab())
    p.end()
    return image


def shoot_help(app: QApplication, w) -> None:
    """The tour's third step, a view's "?" explanation, and the window in the dark theme."""
    from rnnviz.qt import help as helptext
    from rnnviz.qt.theme import apply_theme

    w.start_tour()
    pump(app, 0.3)
    w.tour.show_step(2)
    pump(app, 0.5)
    with_dialogs(w, w.tour).save(str(OUT / "tour.png"))
    print(f"wrote {OUT / 'tour.png'}")
    w.tour.close()
    box = helptext.explain(w, "inside")
    pump(app, 0.5)
    box.move(w.mapToGlobal(w.rect().center()) - box.rect().center())
    pump(app, 0.3)
    with_dialogs(w, box).save(str(OUT / "help.png"))
    print(f"wrote {OUT / 'help.png'}")
    box.close()
    apply_theme("Dark")
    pump(app, 1.0)
    w.grab().save(str(OUT / "dark.png"))
    print(f"wrote {OUT / 'dark.png'}")
    apply_theme("System")
    pump(app, 0.5)


def shoot_units(app: QApplication) -> None:
    """The neuron finder on the nested brackets (an LSTM of 32 units trained for 500 steps): the
    units ranked by their correlation with the bracket depth, the top one over the corpus; then
    the state trajectory of a typed bracket expression."""
    import tempfile

    from rnnviz.cli import main as cli
    from rnnviz.qt.main_window import MainWindow

    with tempfile.TemporaryDirectory() as tmp:
        model = str(Path(tmp) / "brackets.safetensors")
        cli(["train", "--corpus", "builtin:brackets", "--hidden", "32", "--steps", "500", "--lr", "3e-3",
             "--out", model])  # fmt: skip
        w = MainWindow(model=model)
        w.resize(1440, 900)
        w.show()
        pump(app, 2.0)
        w.typing.editor.setPlainText("(ab(cd(ef(gh)ij)kl)mn)")
        w.tabs.setCurrentWidget(w.units)
        end = time.perf_counter() + 60
        while time.perf_counter() < end and w.units.analysis is None:
            pump(app, 0.1)
        w.units.feature.setCurrentText("depth")
        w.units.rank()
        pump(app, 0.5)
        w.grab().save(str(OUT / "units.png"))
        print(f"wrote {OUT / 'units.png'}")
        w.tabs.setCurrentWidget(w.trajectory)
        pump(app, 0.5)
        w.grab().save(str(OUT / "trajectory.png"))
        print(f"wrote {OUT / 'trajectory.png'}")
        w.close()
        w.deleteLater()
        pump(app, 0.3)


def shoot_patching(app: QApplication, w) -> None:
    """Two texts compared: the Patching tab with a cell's units, then the Inside views on A - B."""
    w.typing.editor.setPlainText("The keeper counted the ships")
    w.typing.compare.setText("The sailor counted the ships")
    w.inside.setCurrentWidget(w.patching)
    pump(app, 1.5)
    w.patching.map.cell_clicked.emit(6, 0)  # step 6 of B ('l' of sailor), layer 1
    pump(app, 0.5)
    w.grab().save(str(OUT / "patching.png"))
    print(f"wrote {OUT / 'patching.png'}")
    w.inside.setCurrentWidget(w.internals)
    w.typing.compare_mode.setCurrentIndex(2)
    pump(app, 0.5)
    w.grab().save(str(OUT / "difference.png"))
    print(f"wrote {OUT / 'difference.png'}")
    w.typing.compare_mode.setCurrentIndex(0)
    w.typing.compare.setText("")


def main() -> None:
    app = QApplication([])
    configure_pyqtgraph()
    from rnnviz.qt.main_window import MainWindow

    w = MainWindow()
    w.resize(1440, 900)
    w.show()
    pump(app, 1.0)
    w.controls.play.setChecked(True)
    end = time.perf_counter() + 90  # 100 steps at least (a loaded machine trains slowly), 6 s at least
    pump(app, 6.0)
    while time.perf_counter() < end and (w.latest is None or w.latest.updates < 900):
        pump(app, 0.1)
    w.controls.play.setChecked(False)
    w.typing.editor.setPlainText("The keeper said welcom")
    pump(app, 1.0)
    OUT.mkdir(exist_ok=True)
    w.grab().save(str(OUT / "main-window.png"))
    print(f"wrote {OUT / 'main-window.png'}")
    shoot_help(app, w)
    shoot_presets(app, w)
    shoot_lab(app, w)
    shoot_patching(app, w)
    w.close()
    w.deleteLater()
    app.processEvents()
    shoot_units(app)


if __name__ == "__main__":
    main()
