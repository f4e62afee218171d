"""What the app remembers between launches (QSettings): window layout, recent files, last choices,
the theme and colour maps, whether the tour was shown.

RNNVIZ_SETTINGS=path.ini keeps them in that file instead (the tests use a file of their own, so they
never read or change the user's settings)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

RECENT_MAX = 8


def app_settings() -> QSettings:
    path = os.environ.get("RNNVIZ_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("rnnviz", "rnnviz")


def get_str(key: str, default: str = "") -> str:
    value = app_settings().value(key, default)
    return value if isinstance(value, str) else default


def get_bool(key: str, default: bool = False) -> bool:
    value = app_settings().value(key, default)
    if isinstance(value, str):  # ini files give strings back
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def put(key: str, value) -> None:
    s = app_settings()
    s.setValue(key, value)
    s.sync()


def recent_files() -> list[str]:
    """Sessions and models opened or saved lately, newest first (files gone since are left out)."""
    value = app_settings().value("recent", [])
    paths = [value] if isinstance(value, str) else list(value or [])
    return [p for p in paths if isinstance(p, str) and Path(p).is_file()][:RECENT_MAX]


def add_recent(path: str) -> None:
    path = str(Path(path).resolve())
    put("recent", [path] + [p for p in recent_files() if p != path][: RECENT_MAX - 1])
