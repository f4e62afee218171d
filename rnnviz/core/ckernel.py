"""The S6 scan's C kernel (core/s6_scan.c): compiled once per machine with the system's C compiler,
cached, and loaded with ctypes. Where there is no compiler (or it fails) `load()` returns None and
training takes the torch loop of core.modern, which computes the same numbers 2-3x slower.

The library is cached under $RNNVIZ_CACHE, else $XDG_CACHE_HOME/rnnviz, else ~/.cache/rnnviz
(a temporary directory when none is writable), named by a hash of the source, the compiler's
flags and this machine's CPU; it is written to a temporary name and renamed, so that two processes
compiling at once do not read each other's half-written file. RNNVIZ_NO_KERNEL=1 turns it off.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("s6_scan.c")
FLAGS = ["-O3", "-march=native", "-fopenmp-simd", "-fPIC", "-shared", "-std=c99"]
_I64, _P = ctypes.c_int64, ctypes.c_void_p
_state: dict[str, object] = {}  # "lib": the loaded library or None, "why": why not


def _compiler() -> str | None:
    named = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "").split(" ")[0]
    for cc in (named, "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return shutil.which(cc)
    return None


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _cache_dir() -> Path:
    for root in (
        os.environ.get("RNNVIZ_CACHE"),
        os.environ.get("XDG_CACHE_HOME") and os.path.join(os.environ["XDG_CACHE_HOME"], "rnnviz"),
        os.path.join(os.path.expanduser("~"), ".cache", "rnnviz"),
    ):
        if root:
            try:
                Path(root).mkdir(parents=True, exist_ok=True)
                if os.access(root, os.W_OK):
                    return Path(root)
            except OSError:
                continue
    return Path(tempfile.gettempdir())


def _build(cc: str) -> Path:
    """The compiled library's path, compiling it first when it is not cached yet."""
    key = hashlib.sha256(
        b"\0".join([SOURCE.read_bytes(), " ".join([cc, *FLAGS]).encode(), _cpu().encode()])
    ).hexdigest()[:16]
    suffix = ".dll" if sys.platform == "win32" else ".so"
    lib = _cache_dir() / f"s6_scan-{key}{suffix}"
    if not lib.exists():
        fd, tmp = tempfile.mkstemp(suffix=suffix, dir=lib.parent)
        os.close(fd)
        try:
            subprocess.run([cc, *FLAGS, "-o", tmp, str(SOURCE)], check=True, capture_output=True, timeout=120)
            os.replace(tmp, lib)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return lib


def load():
    """The kernel's ctypes library, or None (see `why_not()`). Compiles on the first call."""
    if "lib" not in _state:
        _state["lib"], _state["why"] = None, ""
        cc = None if os.environ.get("RNNVIZ_NO_KERNEL") else _compiler()
        if cc is None:
            _state["why"] = "turned off" if os.environ.get("RNNVIZ_NO_KERNEL") else "no C compiler"
            return None
        try:
            lib = ctypes.CDLL(str(_build(cc)))
            lib.s6_forward.argtypes = [_I64] * 4 + [_P] * 8
            lib.s6_backward.argtypes = [_I64] * 4 + [_P] * 14
            lib.s6_forward.restype = lib.s6_backward.restype = ctypes.c_int
            _state["lib"] = lib
        except (OSError, subprocess.SubprocessError) as e:
            err = getattr(e, "stderr", b"") or b""
            _state["why"] = f"{type(e).__name__}: {err.decode(errors='replace').strip() or e}"[:300]
    return _state["lib"]


def why_not() -> str:
    """Why `load()` gave None ("" when the kernel is loaded or not tried yet)."""
    return str(_state.get("why", ""))
