"""`rnnviz install-desktop`: put rnnviz in the desktop's application menu (Linux, freedesktop.org).

Writes $XDG_DATA_HOME/applications/rnnviz.desktop (default ~/.local/share), whose Exec is this very
rnnviz (its absolute path, so the menu starts the one installed here, in a virtual environment or
not) with the file opened as its argument, the icon $XDG_DATA_HOME/icons/hicolor/scalable/apps/rnnviz.svg
that it names, and $XDG_DATA_HOME/mime/packages/rnnviz.xml: *.rnnviz files are rnnviz sessions, so a
file manager opens them with rnnviz (its database is updated when update-mime-database is there).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from rnnviz.core.errors import RnnvizError

DESKTOP_FILE, ICON_FILE, MIME_FILE = "rnnviz.desktop", "rnnviz.svg", "rnnviz-mime.xml"
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")  # Exec arguments with these must be quoted


def add_parser(sub) -> None:
    d = sub.add_parser(
        "install-desktop",
        help="add rnnviz to the desktop's application menu (Linux): a .desktop file and its icon",
    )
    d.add_argument(
        "--data-home",
        help="where to install (default: $XDG_DATA_HOME, else ~/.local/share)",
    )
    d.set_defaults(func=run)


def run(a) -> int:
    from rnnviz.core.corpus import assets_dir

    home = data_home(a.data_home)
    assets = assets_dir()
    template, icon = assets / DESKTOP_FILE, assets / "icons" / ICON_FILE
    try:
        entry = with_exec(template.read_text(encoding="utf-8"), exec_line(launcher()))
        svg, mime = icon.read_bytes(), (assets / MIME_FILE).read_bytes()
    except OSError as exc:
        raise RnnvizError(f"cannot read the desktop file or icon shipped with rnnviz: {exc}") from None
    desktop_out = home / "applications" / DESKTOP_FILE
    icon_out = home / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE
    mime_out = home / "mime" / "packages" / "rnnviz.xml"
    for path, data in ((desktop_out, entry.encode("utf-8")), (icon_out, svg), (mime_out, mime)):
        _write(path, data)
        print(f"wrote {path}")
    update = shutil.which("update-mime-database")
    if update is not None:  # without it the menu entry works; sessions open from the file manager later
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([update, str(home / "mime")], capture_output=True, timeout=60, check=False)
    return 0


def data_home(given: str | None = None) -> Path:
    """The XDG data directory: given, else $XDG_DATA_HOME if absolute (the spec ignores a relative
    one), else ~/.local/share."""
    if given:
        return Path(given).expanduser().absolute()
    env = os.environ.get("XDG_DATA_HOME", "")
    if env and os.path.isabs(env):
        return Path(env)
    return Path.home() / ".local" / "share"


def launcher() -> list[str]:
    """The command that starts this rnnviz: the `rnnviz` script that is running or that sits
    beside this Python, else this Python with -m rnnviz. Absolute paths; symlinks kept (a virtual
    environment's python is one, and resolving it would leave the environment)."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name in ("rnnviz", "rnnviz.exe") and script.is_file():
        return [str(script.absolute())]
    beside = Path(sys.executable).absolute().parent / "rnnviz"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    return [str(Path(sys.executable).absolute()), "-m", "rnnviz"]


def exec_line(argv: list[str]) -> str:
    """argv as a desktop entry's Exec value: arguments quoted where the spec wants it, then the
    value's own escapes (a backslash doubled, a percent sign doubled)."""
    parts = []
    for arg in argv:
        if any(ch in _RESERVED for ch in arg):
            arg = '"' + "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg) + '"'
        parts.append(arg.replace("%", "%%"))
    return " ".join(parts).replace("\\", "\\\\")


def with_exec(entry: str, command: str) -> str:
    """The desktop entry with its Exec= program replaced by `command`; its field codes (%f: the file
    opened with rnnviz) are kept."""
    lines = entry.splitlines()
    found = [k for k, line in enumerate(lines) if line.startswith("Exec=")]
    if not found:
        raise RnnvizError("the desktop file shipped with rnnviz has no Exec= line")
    codes = [w for w in lines[found[0]][5:].split() if len(w) == 2 and w[0] == "%" and w != "%%"]
    lines[found[0]] = " ".join([f"Exec={command}", *codes])
    return "\n".join(lines) + "\n"


def _write(path: Path, data: bytes) -> None:
    """Atomically: a file half written never shows up in the menu."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise RnnvizError(f"cannot write {path}: {exc.strerror or exc}") from None
