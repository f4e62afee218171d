"""Interventions: the network changed while it reads, to see what a unit or a gate does.

A unit's h clamped to a value (zeroed: 0), or a gate's units forced (an LSTM's forget gate f = 1
keeps the whole cell state; f = 0 forgets it at every step). The explicit replay (core.cells)
applies them at every step of the typed text, and its backward pass treats the edited values as
the constants they are; the continuation and the samples are drawn from the edited network too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnviz.core.cells import Edits
from rnnviz.core.config import GATES, ModelConfig
from rnnviz.core.errors import ConfigError

GATE_RANGE = {"g": (-1.0, 1.0), "n": (-1.0, 1.0), "delta": (0.0, 10.0)}  # tanh candidates; the SSM's step
# (Delta = 0: the state holds and the input is not read); the other gates are sigmoids, or fractions
STATES = ("h", "s")  # clamped to a value in [-H_LIMIT, H_LIMIT]; "s": a channel's whole SSM state
H_LIMIT = 10.0
MAX_INTERVENTIONS = 64  # more than a reader can follow; a session could hold thousands


@dataclass(frozen=True)
class Intervention:
    layer: int  # from 0
    what: str  # "h", a gate of the architecture ("i", "f", "g", "o"; GRU "r", "z", "n"; minGRU "z";
    # minLSTM "f", "i" (f', i'); the SSM "delta"), or the SSM's state "s" (a channel's N numbers)
    value: float
    units: tuple[int, ...] | None = None  # None: every unit of the layer

    def check(self, cfg: ModelConfig) -> None:
        if not 0 <= self.layer < cfg.layers:
            raise ConfigError(f"layer must be 1 to {cfg.layers}, not {self.layer + 1}")
        if self.what not in changeable(cfg):
            choices = ", ".join(changeable(cfg))
            raise ConfigError(f"a {cfg.name} has no {self.what!r} to change: choose {choices}")
        if self.units is not None and (not self.units or not all(0 <= u < cfg.hidden for u in self.units)):
            raise ConfigError(f"units must lie in 0..{cfg.hidden - 1}")
        lo, hi = (-H_LIMIT, H_LIMIT) if self.what in STATES else GATE_RANGE.get(self.what, (0.0, 1.0))
        if not (math.isfinite(self.value) and lo <= self.value <= hi):
            raise ConfigError(f"{self.what} can be set to a value in [{lo:g}, {hi:g}], not {self.value!r}")

    def describe(self) -> str:
        if self.units is None:
            who = "every unit"
        elif len(self.units) > 6:  # a long list would fill the banner
            who = f"{len(self.units)} units ({', '.join(map(str, self.units[:5]))}, \u2026)"
        else:
            who = ", ".join(f"unit {u}" for u in self.units)
        how = "zeroed" if self.what in STATES and self.value == 0 else (
            f"clamped to {self.value:g}" if self.what in STATES else f"forced to {self.value:g}")  # fmt: skip
        return f"layer {self.layer + 1}, {who}: {self.what} {how}"


def changeable(cfg: ModelConfig) -> tuple[str, ...]:
    """What an intervention can set in this architecture: h, the gates over H units (not the SSM's
    B and C, which have N entries), and the SSM's state rows."""
    if cfg.arch == "ssm":
        return ("h", "s", "delta")
    return ("h", *GATES[cfg.arch])


def layer_edits(interventions, cfg: ModelConfig) -> list[Edits]:
    """Per layer: what -> (mask over its units, value); later interventions win on overlaps."""
    edits: list[Edits] = [{} for _ in range(cfg.layers)]
    for iv in interventions:
        _add_edit(edits, iv, cfg)
    return edits


def _add_edit(edits: list[Edits], iv: Intervention, cfg: ModelConfig) -> None:
    """Merge `iv` into `edits`; a ConfigError (invalid, or a contradiction) leaves them unchanged."""
    iv.check(cfg)
    mask = np.zeros(cfg.hidden, dtype=bool)
    mask[list(range(cfg.hidden)) if iv.units is None else list(iv.units)] = True
    old = edits[iv.layer].get(iv.what)
    if old is not None:  # two on the same target: one mask, the later value where they meet
        mask_old, value_old = old
        if value_old != iv.value:
            raise ConfigError(f"{iv.what} of layer {iv.layer + 1} is already set to {value_old:g}")
        mask = mask | mask_old
    edits[iv.layer][iv.what] = (mask, float(iv.value))


def accept_interventions(candidates, cfg: ModelConfig, existing=()) -> tuple[list[Intervention], list[str]]:
    """The interventions that can act together, in order: `existing` and those of `candidates` that
    are valid and do not contradict an earlier one, at most MAX_INTERVENTIONS in all; and one line
    per candidate refused (those past the cap are counted in one line, never checked one by one)."""
    accepted, problems = list(existing), []
    edits = layer_edits(existing, cfg)  # each candidate is checked against these, in constant time
    for n, iv in enumerate(candidates):
        if len(accepted) >= MAX_INTERVENTIONS:
            problems.append(f"{len(candidates) - n} more left out: at most {MAX_INTERVENTIONS} act at once")
            break
        try:
            _add_edit(edits, iv, cfg)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        accepted.append(iv)
    return accepted[len(existing) :], problems
