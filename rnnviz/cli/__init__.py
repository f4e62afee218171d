"""The command line (`rnnviz`): main.py parses and dispatches, common.py holds what the
subcommands share, and each subcommand has a module of its own (train, presets, trace, generate,
compare, animate, units, patch, importer, desktop), each with `add_parser(sub)` and `run(args)`.
The subcommands are built on rnnviz.api and the core; nothing here imports Qt but the app's start
and `animate`."""

from rnnviz.cli.main import main

__all__ = ["main"]
