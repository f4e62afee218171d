"""Where a keystroke's time goes: the real MainWindow (offscreen, 1440x900), a typed text of --tokens
tokens, one character typed at a time (and deleted again), as keystroke_latency.py does.

Per keystroke (medians over --keys keystrokes), printed:
- the compute: the forward pass kept by the fast tracer, its backward pass, the continuation;
- each view's share of the synchronous work (its set-data call);
- the paint: every paint event the keystroke causes, per widget, its time and how much of the
  widget it covers (a "full" paint repaints the whole widget), in the pass that follows the key
  and in any later pass (a deferred update, e.g. a title set from a zero-length timer);
- the total from the key press to updated, to the last plot painted (h, c, gates, gradients),
  and to painted (everything).
The window shows a keystroke in two halves (qt/typed_text.py): the second, the gradients and the
continuation, comes 10 ms later and is counted in the later pass.
Training runs (--train) or not (the default: steadier figures). Prints figures; asserts nothing.
--slowest K lists the K keystrokes slowest to paint in full (what a p99 is made of).
Run: QT_QPA_PLATFORM=offscreen python benchmarks/keystroke_breakdown.py [--keys 100] [--layers 2]
     [--hidden 256] [--tokens 200] [--train] [--full] [--slowest 8]
"""

import argparse
import random
import statistics
import time
from collections import defaultdict

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from qt_bench import application, close, main_window, pump, until

from rnnviz.core import fasttrace, probe
from rnnviz.qt.views import heatmap, step_plot

TEXT = (
    "The keeper counted the ships that passed the point every night and wrote them down in a "
    "small green book with the hour, the wind and the colour of the lights they showed. "
)


class Recorder:
    def __init__(self):
        self.on = False
        self.times = defaultdict(float)  # name -> seconds in this keystroke
        self.paints = []  # (pass, widget name, covered fraction, seconds, end from the key press)
        self.t0 = 0.0  # the key press
        self.passes = 0  # the paint pass (0: right after the key; 1: any later)


REC = Recorder()


class App(QApplication):
    """Times every paint event (Qt sends them one widget after another, never nested)."""

    def notify(self, obj, ev):
        if REC.on and ev.type() == QEvent.Type.Paint:
            t0 = time.perf_counter()
            r = super().notify(obj, ev)
            dt = time.perf_counter() - t0
            area = max(obj.width() * obj.height(), 1)
            b = ev.region().boundingRect()
            REC.paints.append((REC.passes, name_of(obj), b.width() * b.height() / area, dt, t0 + dt - REC.t0))
            return r
        return super().notify(obj, ev)


_names: dict[int, str] = {}


def name_of(w) -> str:
    """A widget's name: the view it belongs to (a plot's title) and its class."""
    key = id(w)
    if key not in _names:
        cls, x = type(w).__name__, w
        while x is not None and not isinstance(x, step_plot.StepPlot) and not _is_view(x):
            x = x.parentWidget()
        if x is None:
            _names[key] = cls
        elif isinstance(x, step_plot.StepPlot):
            title = step_plot.plain(x._title)[:28] or type(x).__name__
            PLOT_TITLES.add(title)
            _names[key] = f"{title}/{cls}"
        else:
            _names[key] = f"{type(x).__name__}/{cls}"
    return _names[key]


def _is_view(x) -> bool:
    return type(x).__module__.startswith("rnnviz.qt.views") or type(x).__name__ in ("MainWindow",)


def timed(owner, attr, name):
    """Wrap owner.attr to add its time to REC.times[name] (name may be a function of the args)."""
    fn = getattr(owner, attr)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            key = name(*args) if callable(name) else name
            REC.times[key] += time.perf_counter() - t0

    setattr(owner, attr, wrapper)


def instrument(w) -> None:
    timed(fasttrace.FastTracer, "_forward", "compute: forward (kept)")
    timed(fasttrace.FastTracer, "_backward", "compute: backward")
    timed(fasttrace.FastTracer, "sample", "compute: continuation (sampling)")
    timed(probe.TextProbe, "run", "compute: trace (forward + backward + Trace)")
    timed(probe.TextProbe, "continuation", "compute: continuation (whole)")
    timed(heatmap.SequenceHeatmap, "set_data", lambda m, *a: f"set: heatmap {m.value_name}")
    timed(heatmap, "quantise", "set: heatmap quantise (inside set_data)")
    for obj, attr in (
        (w.internals, "set_trace"),
        (w.internals, "set_selected"),
        (w.internals.grads, "set_grads"),
        (w.typing, "show_probe"),
        (w.typing, "show_attribution"),
        (w.typing, "show_continuation"),
        (w.trajectory, "set_trace"),
        (w.compare, "follow"),
        (w.text, "show_unrolled"),
    ):
        timed(obj, attr, f"set: {type(obj).__name__}.{attr}")
    w.text.traced.disconnect()  # the comparison follows the typed text through a signal: the timed one
    w.text.traced.connect(w.compare.follow)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=200)
    ap.add_argument("--train", action="store_true", help="training runs meanwhile")
    ap.add_argument("--full", action="store_true", help="list every widget painted, not the top ones")
    ap.add_argument("--slowest", type=int, default=0, help="also list the K slowest keystrokes in full")
    a = ap.parse_args()
    app = application(App)
    w = main_window()
    until(app, lambda: w.latest is not None)
    c = w.controls
    if (c.layers.value(), c.hidden.value()) != (a.layers, a.hidden):
        c.layers.setValue(a.layers)
        c.hidden.setValue(a.hidden)
        w.reset()
        until(app, lambda: w.latest is not None and w.latest.model_cfg.hidden == a.hidden)
    editor = w.typing.editor
    editor.setPlainText((TEXT * 20)[: a.tokens - 1])
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    if a.train:
        w.worker.play()
        until(app, lambda: w.latest.updates >= 3)
    pump(app, 1.0)
    instrument(w)
    rng = random.Random(0)
    per_key = []  # (times, paints, updated, painted, late)
    for _ in range(a.keys):
        ch = rng.choice("etaoinshrdlu ")
        REC.times.clear()
        REC.paints.clear()
        REC.passes, REC.on = 0, True
        t0 = REC.t0 = time.perf_counter()
        QTest.keyClick(editor, ch)
        t1 = time.perf_counter()
        QCoreApplication.sendPostedEvents()
        app.processEvents()
        t2 = time.perf_counter()
        REC.passes = 1  # what comes later: deferred updates
        pump(app, 0.03)
        REC.on = False
        plots = [end for _, name, _, _, end in REC.paints if name.split("/")[0] in PLOT_TITLES]
        per_key.append(
            (dict(REC.times), list(REC.paints), (t1 - t0) * 1e3, (t2 - t0) * 1e3, max(plots, default=0) * 1e3)
        )
        QTest.keyClick(editor, Qt.Key.Key_Backspace)  # keep the text at --tokens tokens
        while w.text.pending:  # the backspace whole and painted before the next key, as a
            app.processEvents()  # typist's keys come (100 ms or more apart)
        QCoreApplication.sendPostedEvents()
        app.processEvents()
        pump(app, 0.03)
    report(a, per_key, w)
    if a.slowest:
        slowest(per_key, a.slowest)
    close(app, w)


PLOT_TITLES = set()  # the names of the plots over the text's steps (filled by name_of)


def med(values) -> float:
    return statistics.median(values) if values else 0.0


def report(a, per_key, w) -> None:
    n = len(per_key)
    print(
        f"{n} keystrokes, {a.tokens} tokens, {w.latest.model_cfg.arch.upper()} {a.layers}x{a.hidden}, "
        f"{'training' if a.train else 'not training'}; medians per keystroke (ms)"
    )
    updated, painted, plots = (med([k[j] for k in per_key]) for j in (2, 3, 4))
    print(f"  key press -> updated {updated:6.1f}  -> plots painted {plots:6.1f}  -> painted {painted:6.1f}")
    names = sorted({name for k in per_key for name in k[0]})
    for name in names:
        print(f"  {name:52s} {med([k[0].get(name, 0.0) * 1e3 for k in per_key]):6.2f}")
    for p in (0, 1):
        rows = defaultdict(lambda: [[0.0] * n, [0] * n, [0] * n])  # time, count, full count
        for j, (_, paints, *_) in enumerate(per_key):
            for pas, name, frac, dt, _ in paints:
                if pas == p:
                    r = rows[name]
                    r[0][j] += dt * 1e3
                    r[1][j] += 1
                    r[2][j] += frac > 0.9
        total = [sum(r[0][j] for r in rows.values()) for j in range(n)]
        count = [sum(r[1][j] for r in rows.values()) for j in range(n)]
        when = "in the pass after the key" if p == 0 else "later (deferred updates)"
        print(f"  paint {when}: {med(total):6.2f} ms, {med(count):.0f} paint events (median)")
        shown = sorted(rows.items(), key=lambda kv: -statistics.mean(kv[1][0]))
        for name, (t, cnt, full) in shown if a.full else shown[:18]:
            print(
                f"    {name:56s} {statistics.mean(t):6.2f} ms  {statistics.mean(cnt):4.2f} paints"
                f"  {statistics.mean(full):4.2f} full"
            )


def slowest(per_key, k: int) -> None:
    """The k keystrokes slowest to paint (what the p99 is made of): every timed call and paint."""
    for times, paints, updated, painted, _ in sorted(per_key, key=lambda r: -r[3])[:k]:
        print(f"  slow keystroke: updated {updated:.1f} ms, painted {painted:.1f} ms")
        for name, dt in sorted(times.items(), key=lambda kv: -kv[1])[:6]:
            print(f"      {name:52s} {dt * 1e3:6.2f}")
        for pas, name, frac, dt, end in paints:
            if pas == 0 and dt > 0.0005:
                print(f"      paint {name:46s} {dt * 1e3:6.2f} ms, ends {end * 1e3:6.1f}  ({frac:.2f} of it)")


if __name__ == "__main__":
    main()
