"""Style is checked like everything else: ruff lint and ruff format (settings in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]])
def test_ruff(args):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is in the test extra: pip install -e '.[test]'"
    p = subprocess.run([ruff, *args, str(ROOT)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
