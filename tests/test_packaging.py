"""A non-editable install ships the assets: build the wheel, unpack it, load a corpus from it."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_assets_and_entry_point(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("rnnviz-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert "rnnviz = rnnviz.cli:main" in z.read(entry).decode()
        z.extractall(tmp_path / "site")
    for corpus in ("story", "fable", "words", "brackets"):
        assert f"rnnviz/assets/corpora/{corpus}.txt" in names
    for asset in ("models/default.safetensors", "icons/rnnviz.svg", "rnnviz.desktop"):
        assert f"rnnviz/assets/{asset}" in names
    assert "rnnviz/py.typed" in names and "rnnviz/cli/main.py" in names  # a typed API; the cli package
    code = (
        "from rnnviz.core.corpus import assets_dir, load_corpus; import rnnviz; "
        "print(assets_dir()); print(rnnviz.__file__); load_corpus('builtin:story')"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); {code}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    assert out[0] == str(tmp_path / "site" / "rnnviz" / "assets")
    assert out[1].startswith(str(tmp_path / "site"))
    version = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); "
         "sys.argv = ['rnnviz', '--version']; from rnnviz.__main__ import *"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    import rnnviz

    assert version.returncode == 0 and version.stdout.strip() == f"rnnviz {rnnviz.__version__}"
