"""core.protocol: typed commands and reports, dispatched by type; what a window knows of a session
is replaced, never changed; a snapshot travels without the weights the window already has."""

import dataclasses
import pickle

import numpy as np
import pytest

from rnnviz.core import protocol as P
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.corpus import Corpus
from rnnviz.core.loop import merge
from rnnviz.core.session import TrainerSpec
from rnnviz.core.snapshot import Snapshot, StepMetrics


def test_every_message_is_a_frozen_dataclass_that_pickles():
    messages = [cls for cls in vars(P).values() if isinstance(cls, type) and dataclasses.is_dataclass(cls)]
    assert {c.__name__ for c in messages} >= {"Play", "Pause", "Step", "Budget", "Apply", "Start", "Cancel",
                                             "Stop", "Quit", "Started", "StartFailed", "Running", "Failed",
                                             "Diverged", "Notice", "ConfigChanged", "Figures", "Finished",
                                             "Progress", "Envelope", "SessionInfo"}  # fmt: skip
    for cls in messages:
        assert cls.__dataclass_params__.frozen, cls
    env = P.Envelope(3, P.Apply.of({"lr": 0.1, "clip": None}))
    assert pickle.loads(pickle.dumps(env)) == env


def test_apply_from_the_settings_panel():
    assert P.Apply.of({"clip": None}) == P.Apply(clip=0.0)  # clipping turned off
    assert P.Apply.of({"lr": 0.01}) == P.Apply(lr=0.01)  # clip unchanged
    assert P.Apply.of({"restore": True}).restore
    with pytest.raises(ValueError, match="unknown training settings"):
        P.Apply.of({"lrate": 1.0})
    # settings not yet applied merge, the later one winning
    assert merge(P.Apply(lr=0.1, clip=2.0), P.Apply(lr=0.2, optimizer="sgd")) == P.Apply(0.2, 2.0, "sgd")


def _snapshot(step: int, weights) -> Snapshot:
    m = StepMetrics(step, 1.0, 0.5, 1.4, 100.0, {}, 1.0, False, False, 0.01, 0.01)
    return Snapshot(ModelConfig(vocab_size=5), None, step, weights, m)


def test_progress_travels_without_the_weights_already_sent():
    w = {"head.weight": np.ones((2, 2), np.float32)}
    heavy, light = P.Progress.of(_snapshot(1, w), True), P.Progress.of(_snapshot(2, w), False)
    assert heavy.weights is w and light.weights is None
    assert light.snapshot(w).weights is w and light.snapshot(w).updates == 2
    with pytest.raises(ValueError):
        light.snapshot(None)


def test_session_info_is_replaced_by_reports():
    corpus = Corpus.from_text("abcabc" * 20, "char")
    spec = TrainerSpec(corpus, ModelConfig(vocab_size=len(corpus.vocab)), TrainConfig(), updates=7)
    info = P.SessionInfo.of_spec(spec)
    assert (info.steps, info.updates) == (7, 7)
    after = info.after(_snapshot(9, {}))
    assert (after.steps, after.updates) == (9, 9) and (info.steps, info.updates) == (7, 7)
    cfg = TrainConfig(lr=0.5)
    assert info.after(P.ConfigChanged(cfg)).cfg is cfg
    assert info.after(P.Notice("x")) is info
    started = info.after(P.Started(64.0, ("a note",), 9, cfg, "cpu"))
    assert (started.tokens_per_step, started.notes, started.updates, started.cfg) == (
        64.0,
        ("a note",),
        9,
        cfg,
    )
    assert started.corpus is corpus  # the window's own: the corpus does not travel back
