"""The README's command line runs as written: every ```sh block of its "Command line" section,
in a fresh temporary folder, with `.venv/bin/rnnviz` there running this rnnviz. The one change:
every `--steps N` becomes `--steps 3` (the README says so), so the blocks take seconds, not minutes."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def command_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_the_section_has_the_blocks_it_promises():
    blocks = command_blocks()
    assert len(blocks) == 8
    text = "".join(blocks)
    assert not re.search(r"^rnnviz |\[--", text, flags=re.M)  # no bare rnnviz, no [--optional] syntax
    for made in ("story.safetensors", "words.safetensors", "brackets.safetensors", "python.safetensors",
                 "mine.safetensors"):  # fmt: skip
        assert f"--out {made}" in text  # every model a block uses is made by a block


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A fresh folder with a .venv/bin/rnnviz that runs this rnnviz."""
    root = tmp_path_factory.mktemp("readme")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    shim = bin_dir / "rnnviz"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rnnviz "$@"\n')
    shim.chmod(0o755)
    return root


@pytest.mark.parametrize("k", range(8))
def test_each_command_block_runs_as_written(folder, k):
    block = re.sub(r"--steps \d+", "--steps 3", command_blocks()[k])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), QT_QPA_PLATFORM="offscreen")
    p = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block], cwd=folder, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert p.returncode == 0, (block, p.stderr[-2000:])
    assert "error" not in p.stderr.lower(), p.stderr[-2000:]
