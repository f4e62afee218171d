"""House rules that keep the code base healthy."""

import ast
import subprocess
import sys
from pathlib import Path


def test_core_never_imports_qt():
    code = (
        "import sys, rnnviz.cli\n"
        "import rnnviz.core.corpus, rnnviz.core.model, rnnviz.core.train, rnnviz.core.trace\n"
        "import rnnviz.core.checkpoint, rnnviz.core.generate, rnnviz.core.snapshot\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_window_never_imports_torch():
    """The main window's process draws and traces with numpy, and so do the forecaster's window
    and the gradient lab: only their training processes import torch."""
    code = """
import os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
import rnnviz.core.config, rnnviz.core.session, rnnviz.core.presets, rnnviz.core.loop, rnnviz.core.remote
assert "torch" not in sys.modules
from PySide6.QtWidgets import QApplication
from rnnviz.qt.views.common import configure_pyqtgraph
app = QApplication([])
configure_pyqtgraph()
from rnnviz.qt.main_window import MainWindow
w = MainWindow()
w.show()
def until(cond, timeout=60):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        app.processEvents()
        time.sleep(0.01)
until(lambda: w.latest is not None)
w.worker.step_once(3)
until(lambda: w.latest.updates >= 803)
w.typing.editor.setPlainText("The keeper said welcom")
w.presets.open_preset("words")
until(lambda: w.latest is not None and w.latest.model_cfg.arch == "rnn")
w.reset()
w.presets.open_preset("sine")  # the forecaster's window trains in a training process of its own
s = w.presets.series_window
until(lambda: s.latest is not None)
s.worker.step_once(3)
until(lambda: s.latest.updates >= 3 and s.forecast_updates >= 3 and s.traced_updates >= 3)
w.open_lab()  # and so does the gradient lab, its three models
lab = w.lab_window
until(lambda: bool(lab.figs))
lab._tell("step")
until(lambda: lab.figs["rnn"].step == 1)
bad = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
assert not bad, bad[:5]
w.close()
w.deleteLater()
app.processEvents()
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=180)


# ---- import contracts, checked statically (every import, also those inside functions) -----------
ROOT = Path(__file__).resolve().parents[1] / "rnnviz"
QT = ("PySide6", "pyqtgraph", "shiboken6")


def imports_of(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a file imports, as written (relative imports resolved)."""
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}".startswith("rnnviz.")}
    return found


def modules(package: str) -> dict[str, set[str]]:
    folder = ROOT.parent.joinpath(*package.split("."))
    return {str(p.relative_to(ROOT.parent)): imports_of(p) for p in sorted(folder.rglob("*.py"))}


def violations(package: str, forbidden) -> list[str]:
    return [f"{name} imports {m}" for name, found in modules(package).items() for m in sorted(found)
            if forbidden(m)]  # fmt: skip


def test_contract_core_imports_neither_qt_nor_the_app():
    bad = violations(
        "rnnviz.core", lambda m: m.split(".")[0] in QT or m.startswith(("rnnviz.qt", "rnnviz.cli"))
    )
    assert not bad, bad


def test_contract_views_import_only_core_and_views():
    def forbidden(m: str) -> bool:
        return m.startswith("rnnviz.") and not m.startswith(("rnnviz.core", "rnnviz.qt.views"))

    bad = violations("rnnviz.qt.views", forbidden)
    assert not bad, bad


def test_the_contracts_see_a_violation(tmp_path):
    """The checker itself can fail: a file importing Qt inside a function is caught."""
    bad = tmp_path / "rnnviz" / "core" / "x.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    from PySide6 import QtCore\n    from ..qt.views import common\n")
    found = imports_of(bad, tmp_path / "rnnviz")
    assert {"PySide6", "rnnviz.qt.views", "rnnviz.qt.views.common"} <= found


def test_contract_the_cli_has_no_import_cycle():
    """rnnviz.cli: main imports the subcommands; a subcommand imports the shared helpers (common)
    and the core or the API, never another subcommand (train hands presets its own flags) or main."""
    found = modules("rnnviz.cli")
    bad = []
    for name, imports in found.items():
        cli = {m for m in imports if m.startswith("rnnviz.cli") and m != "rnnviz.cli"}
        if name.endswith(("main.py", "__init__.py")):
            continue
        for m in cli:
            shared = m.split(".")[:3] == ["rnnviz", "cli", "common"]
            if not shared and not (name.endswith("train.py") and m.startswith("rnnviz.cli.presets")):
                bad.append(f"{name} imports {m}")
    assert not bad, bad
    assert not any(m.startswith("rnnviz.cli.") for m in found["rnnviz/cli/common.py"])


# ---- the main window composes controllers --------------------------------------------------------
CONTROLLERS = (
    "main_window", "notifier", "unsaved", "sessions", "typed_text", "timeline", "unit_actions",
    "file_actions", "session_files", "preset_actions", "help_actions", "compare", "history",
)  # fmt: skip


def attributes_born_outside_init(path: Path) -> list[str]:
    """`self.x = ...` in a method of a class, for an x that neither its __init__ (with the methods
    __init__ calls: builders) nor a base class of the same file sets: state a reader cannot find
    where the class declares it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    classes = {c.name: c for c in tree.body if isinstance(c, ast.ClassDef)}

    def assigned(fn) -> set[str]:
        stores = (n for n in ast.walk(fn) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store))
        return {n.attr for n in stores if isinstance(n.value, ast.Name) and n.value.id == "self"}

    def called(fn) -> set[str]:
        calls = (n.func for n in ast.walk(fn) if isinstance(n, ast.Call))
        return {f.attr for f in calls if isinstance(f, ast.Attribute) and ast.unparse(f.value) == "self"}

    def declared(c: ast.ClassDef) -> set[str]:
        methods = {f.name: f for f in c.body if isinstance(f, ast.FunctionDef)}
        init = methods.get("__init__")
        builders = [init, *(methods[m] for m in called(init) if m in methods)] if init else []
        names = set().union(*map(assigned, builders))
        for s in c.body:  # class attributes
            if isinstance(s, ast.Assign | ast.AnnAssign):
                targets = s.targets if isinstance(s, ast.Assign) else [s.target]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
        for base in c.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                names |= declared(classes[base.id])
        return names

    bad = []
    for c in classes.values():
        ok = declared(c)
        for f in c.body:
            if isinstance(f, ast.FunctionDef) and f.name != "__init__":
                bad += [f"{path.name}: {c.name}.{f.name} sets self.{a}" for a in sorted(assigned(f) - ok)]
    return bad


def test_the_main_window_composes_controllers_that_declare_their_state():
    """No mixins: MainWindow is a QMainWindow and nothing else of ours; each controller sets its
    attributes in its __init__ (a method may change them, never create one)."""
    qt = ROOT / "qt"
    tree = ast.parse((qt / "main_window.py").read_text(encoding="utf-8"))
    window = next(c for c in tree.body if isinstance(c, ast.ClassDef) and c.name == "MainWindow")
    assert [ast.unparse(b) for b in window.bases] == ["QMainWindow"]
    bad = [b for name in CONTROLLERS for b in attributes_born_outside_init(qt / f"{name}.py")]
    assert not bad, bad


def test_the_state_check_sees_an_attribute_born_in_a_method(tmp_path):
    f = tmp_path / "c.py"
    f.write_text("class C:\n    def __init__(self):\n        self.a = 1\n    def go(self):\n"
                 "        self.a, self.b = 2, 3\n")  # fmt: skip
    assert attributes_born_outside_init(f) == ["c.py: C.go sets self.b"]
    f.write_text("class C:\n    def __init__(self):\n        self._build()\n    def _build(self):\n"
                 "        self.a = 1\n    def go(self):\n        self.a = 2\n")  # fmt: skip
    assert attributes_born_outside_init(f) == []  # a builder __init__ calls declares
