"""The training process (core.remote), without Qt: sessions start, train, report and end; a model
that cannot be built is refused while the running session goes on; weights travel only when new."""

import time

import numpy as np
import pytest

from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.corpus import Corpus
from rnnviz.core.protocol import (
    Apply,
    Cancel,
    ConfigChanged,
    Finished,
    Pause,
    Play,
    Progress,
    Start,
    Started,
    StartFailed,
    Step,
)
from rnnviz.core.remote import TrainerProcess
from rnnviz.core.session import TrainerSpec
from rnnviz.core.trace import TraceWeights, trace

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


def spec(model: dict | None = None, **train) -> TrainerSpec:
    corpus = Corpus.from_text(TEXT, "char")
    cfg = TrainConfig(**({"seq_len": 16, "batch": 4} | train))
    model_cfg = ModelConfig(vocab_size=len(corpus.vocab), **({"hidden": 8} | (model or {})))
    return TrainerSpec(corpus, model_cfg, cfg, device="cpu")


def reports_until(proc: TrainerProcess, done, timeout: float = 60.0) -> list:
    got, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.reports.poll(0.1):
            got.append(proc.reports.recv())
            if done(got):
                return got
    raise AssertionError(f"timed out; got {[(e.session, type(e.message).__name__) for e in got]}")


def progress(got, session=None) -> list[Progress]:
    return [e.message for e in got if isinstance(e.message, Progress) and session in (None, e.session)]


def kinds(got) -> list[tuple[int, type]]:
    return [(e.session, type(e.message)) for e in got]


@pytest.fixture
def proc():
    p = TrainerProcess()
    yield p
    p.close()
    assert p.process.poll() is not None  # the child has ended


def test_a_session_trains_and_reports(proc):
    proc.send(1, Start(spec(), 2, 0))
    proc.send(1, Step(5))
    got = reports_until(proc, lambda g: any(p.updates == 5 and p.weights is not None for p in progress(g)))
    assert isinstance(got[0].message, Started) and got[0].message.tokens_per_step == 4 * 16
    assert all(e.session == 1 for e in got)
    last = progress(got)[-1]
    assert last.metrics.step == 5 and np.isfinite(last.metrics.loss)
    assert set(last.weights) >= {"rnn.weight_hh_l0", "head.weight"}
    # every step's metrics arrive, in order, across the snapshots
    assert [m.step for p in progress(got) for m in p.recent] == [1, 2, 3, 4, 5]


def test_the_selective_ssm_trains_in_the_process_and_its_weights_travel(proc):
    """The app's way to train (the child process) with a modern cell: the S6 of N = 3 states, the
    one with most to carry (A_log, D, ...); its weights are the checkpoint's names."""
    proc.send(1, Start(spec({"arch": "ssm", "state": 3, "layers": 2}), 2, 0))
    proc.send(1, Step(4))
    got = reports_until(proc, lambda g: any(p.updates == 4 and p.weights is not None for p in progress(g)))
    last = progress(got)[-1]
    assert last.metrics.step == 4 and np.isfinite(last.metrics.loss)
    assert last.weights["rnn.l1.A_log"].shape == (8, 3) and "rnn.weight_hh_l0" not in last.weights
    sp = spec({"arch": "ssm", "state": 3, "layers": 2})  # what travelled traces as the window traces it
    tr = trace(TraceWeights.from_state(sp.model_cfg, last.weights), sp.corpus.ids[:12])
    assert tr.state.shape == (2, 12, 8, 3) and np.isfinite(tr.grad_state).all()


def test_a_model_that_cannot_be_built_is_refused_and_the_session_goes_on(proc):
    proc.send(1, Start(spec(), 2, 0))
    reports_until(proc, lambda g: isinstance(g[-1].message, Progress))
    proc.send(2, Start(spec(seq_len=5000), 2, 0))  # longer than the whole text
    got = reports_until(proc, lambda g: isinstance(g[-1].message, StartFailed))
    assert "fewer than one training sequence" in got[-1].message.message
    proc.send(1, Step(2))  # the first session still answers
    reports_until(proc, lambda g: any(p.updates == 2 for p in progress(g, 1)))


def test_a_new_session_replaces_the_running_one(proc):
    proc.send(1, Start(spec(), 2, 0))
    proc.send(1, Play())
    reports_until(proc, lambda g: len(progress(g)) > 3)
    proc.send(2, Start(spec(lr=0.01), 2, 0))
    got = reports_until(proc, lambda g: len(progress(g, 2)) > 0)
    k = kinds(got)
    assert (1, Finished) in k and k.index((1, Finished)) < k.index((2, Progress))
    proc.send(2, Apply.of({"lr": 0.5, "clip": None}))
    got = reports_until(proc, lambda g: isinstance(g[-1].message, ConfigChanged))
    assert got[-1].message.cfg.lr == 0.5 and got[-1].message.cfg.clip is None
    proc.send(1, Play())  # commands for an ended session are ignored
    proc.send(2, Step(3))
    got = reports_until(proc, lambda g: any(p.updates == 3 for p in progress(g)))
    assert all(e.session == 2 for e in got)


def test_unchanged_weights_do_not_travel_again(proc):
    proc.send(1, Start(spec(batch=1, seq_len=4), 1000, 0))
    proc.send(1, Play())
    got = reports_until(proc, lambda g: len(progress(g)) >= 15)
    proc.send(1, Pause())
    light = [p for p in progress(got) if p.weights is None]
    assert light, "at ~30 snapshots and ~10 weight copies a second, some snapshots carry no weights"
    assert all(p.weights_updates is not None and p.weights_updates <= p.updates for p in light)
    got = reports_until(proc, lambda g: any(p.weights is not None for p in progress(g)))
    final = [p for p in progress(got) if p.weights is not None][-1]
    assert final.snapshot(None).weights_step == final.updates  # paused: fresh weights


def test_quit_ends_the_process_even_mid_training(proc):
    proc.send(1, Start(spec(), 2, 0))
    proc.send(1, Play())
    reports_until(proc, lambda g: len(progress(g)) > 2)
    t0 = time.monotonic()
    proc.close(timeout=5.0)
    assert proc.process.poll() is not None and time.monotonic() - t0 < 5.0


def test_a_start_replaced_or_cancelled_before_it_is_built_is_never_built(proc):
    proc.send(1, Start(spec(), 2, 0))  # read in one go with the next two: never built
    proc.send(2, Start(spec(), 2, 0))
    proc.send(2, Cancel())
    proc.send(3, Start(spec(), 2, 0))
    got = reports_until(proc, lambda g: len(progress(g, 3)) > 0)
    k = kinds(got)
    assert (1, Finished) in k and (2, Finished) in k
    assert (1, Started) not in k and (2, Started) not in k and (3, Started) in k
