"""The command line's entry: no subcommand (or a MODEL file) opens the app; the subcommands script
the engine, one module each (rnnviz.cli.train, trace, generate, compare, units, patch, ...).

Every error is one line on stderr with exit code 2 (set RNNVIZ_DEBUG=1 for a traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rnnviz import __version__
from rnnviz.cli import animate, compare, desktop, generate, importer, listen, patch, trace, train, units
from rnnviz.core.errors import ConfigError, RnnvizError

SUBCOMMANDS = (train, trace, generate, compare, animate, units, patch, listen, importer, desktop)
COMMANDS = (
    "train", "trace", "generate", "compare", "animate", "units", "patch", "listen", "import",
    "install-desktop",
)  # fmt: skip


class UsageError(RnnvizError):
    """A command line that does not parse."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not usage + message
        raise UsageError(f"{message} (see: {self.prog} --help)")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] in COMMANDS or argv[:1] in (["-h"], ["--help"], ["--version"]):
            args = build_parser().parse_args(argv)
            return args.func(args)
        return _gui(argv)
    except RnnvizError as exc:
        print(f"rnnviz: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnviz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`rnnviz trace ... | head -1`): end quietly
        _stdout_to_devnull()
        return 0
    except Exception as exc:  # a bug: still one line, unless debugging
        if os.environ.get("RNNVIZ_DEBUG"):
            raise
        print(
            f"rnnviz: internal error: {type(exc).__name__}: {exc} (RNNVIZ_DEBUG=1 shows more)",
            file=sys.stderr,
        )
        return 1


def _stdout_to_devnull() -> None:
    """After a closed pipe, what is left in stdout's buffer goes nowhere (not to a second error at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout: nothing is flushed to it either
        pass


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="rnnviz",
        description="See inside recurrent neural networks. "
        "With no command (or a MODEL.safetensors), opens the app.",
    )
    p.add_argument("--version", action="version", version=f"rnnviz {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for command in SUBCOMMANDS:
        command.add_parser(sub)
    return p


def _gui(argv: list[str]) -> int:
    p = Parser(
        prog="rnnviz",
        description=f"Open the rnnviz app (other commands: {', '.join(COMMANDS)}; see rnnviz --help).",
    )
    p.add_argument("model", nargs="?", help="a .safetensors model or a .rnnviz session to open")
    p.add_argument("--corpus", help="text file or builtin:NAME to train on")
    p.add_argument("--text", help="the text in the typing box (instead of the welcome text)")
    a = p.parse_args(argv)
    if a.model is not None and not Path(a.model).is_file():
        what = "session" if Path(a.model).suffix.lower() == ".rnnviz" else "model"
        raise ConfigError(f"no such {what} file: {a.model}")
    if a.corpus is not None:
        from rnnviz.core.corpus import builtin_path

        if builtin_path(a.corpus) is None and not Path(a.corpus).is_file():
            raise ConfigError(f"no such corpus file: {a.corpus}")
    try:
        from rnnviz.qt.app import run
    except ImportError as exc:
        raise RnnvizError(f"the app cannot start: {exc}") from None
    return run(model=a.model, corpus=a.corpus, text=a.text)
