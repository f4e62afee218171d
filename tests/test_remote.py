"""The training process (core.remote), without Qt: sessions start, train, report and end; a model
that cannot be built is refused while the running session goes on; weights travel only when new."""

import time

import numpy as np
import pytest

from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.corpus import Corpus
from rnnviz.core.remote import TrainerProcess
from rnnviz.core.session import TrainerSpec

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


def spec(**train) -> TrainerSpec:
    corpus = Corpus.from_text(TEXT, "char")
    cfg = TrainConfig(**({"seq_len": 16, "batch": 4} | train))
    return TrainerSpec(corpus, ModelConfig(vocab_size=len(corpus.vocab), hidden=8), cfg, device="cpu")


def reports_until(proc: TrainerProcess, done, timeout: float = 60.0) -> list:
    got, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.reports.poll(0.1):
            got.append(proc.reports.recv())
            if done(got):
                return got
    raise AssertionError(f"timed out; got {[(n, k) for n, k, _ in got]}")


@pytest.fixture
def proc():
    p = TrainerProcess()
    yield p
    p.close()
    assert p.process.poll() is not None  # the child has ended


def test_a_session_trains_and_reports(proc):
    proc.send("start", 1, spec(), 2, 0)
    proc.send("step", 1, 5)
    got = reports_until(proc, lambda g: any(k == "snapshot" and p.updates == 5 and p.weights is not None
                                            for _, k, p in g))  # fmt: skip
    kinds = [k for _, k, _ in got]
    assert kinds[0] == "started" and got[0][2]["tokens_per_step"] == 4 * 16
    assert all(n == 1 for n, _, _ in got)
    last = [p for _, k, p in got if k == "snapshot"][-1]
    assert last.metrics.step == 5 and np.isfinite(last.metrics.loss)
    assert set(last.weights) >= {"rnn.weight_hh_l0", "head.weight"}
    # every step's metrics arrive, in order, across the snapshots
    steps = [m.step for _, k, p in got if k == "snapshot" for m in p.recent]
    assert steps == [1, 2, 3, 4, 5]


def test_a_model_that_cannot_be_built_is_refused_and_the_session_goes_on(proc):
    proc.send("start", 1, spec(), 2, 0)
    reports_until(proc, lambda g: g[-1][1] == "snapshot")
    proc.send("start", 2, spec(seq_len=5000), 2, 0)  # longer than the whole text
    got = reports_until(proc, lambda g: any(k == "start_failed" for _, k, _ in g))
    assert "fewer than one training sequence" in got[-1][2]
    proc.send("step", 1, 2)  # the first session still answers
    reports_until(proc, lambda g: any(n == 1 and k == "snapshot" and p.updates == 2 for n, k, p in g))


def test_a_new_session_replaces_the_running_one(proc):
    proc.send("start", 1, spec(), 2, 0)
    proc.send("play", 1)
    reports_until(proc, lambda g: sum(k == "snapshot" for _, k, _ in g) > 3)
    proc.send("start", 2, spec(lr=0.01), 2, 0)
    got = reports_until(proc, lambda g: any(n == 2 and k == "snapshot" for n, k, _ in g))
    kinds = [(n, k) for n, k, _ in got]
    assert (1, "finished") in kinds and kinds.index((1, "finished")) < kinds.index((2, "snapshot"))
    proc.send("apply", 2, {"lr": 0.5, "clip": None})
    got = reports_until(proc, lambda g: any(k == "config" for _, k, _ in g))
    assert got[-1][2].lr == 0.5 and got[-1][2].clip is None
    proc.send("play", 1)  # commands for an ended session are ignored
    proc.send("step", 2, 3)
    got = reports_until(proc, lambda g: any(k == "snapshot" and p.updates == 3 for _, k, p in g))
    assert all(n == 2 for n, _, _ in got)


def test_unchanged_weights_do_not_travel_again(proc):
    proc.send("start", 1, spec(batch=1, seq_len=4), 1000, 0)
    proc.send("play", 1)
    got = reports_until(proc, lambda g: sum(k == "snapshot" for _, k, _ in g) >= 15)
    proc.send("pause", 1)
    snaps = [p for _, k, p in got if k == "snapshot"]
    light = [s for s in snaps if s.weights is None]
    assert light, "at ~30 snapshots and ~10 weight copies a second, some snapshots carry no weights"
    assert all(s.weights_updates is not None and s.weights_updates <= s.updates for s in light)
    got = reports_until(proc, lambda g: any(k == "snapshot" and p.weights is not None for _, k, p in g))
    final = [p for _, k, p in got if k == "snapshot"][-1]
    assert final.weights is not None and final.weights_step == final.updates  # paused: fresh weights


def test_quit_ends_the_process_even_mid_training(proc):
    proc.send("start", 1, spec(), 2, 0)
    proc.send("play", 1)
    reports_until(proc, lambda g: sum(k == "snapshot" for _, k, _ in g) > 2)
    t0 = time.monotonic()
    proc.close(timeout=5.0)
    assert proc.process.poll() is not None and time.monotonic() - t0 < 5.0


def test_a_start_replaced_or_cancelled_before_it_is_built_is_never_built(proc):
    proc.send("start", 1, spec(), 2, 0)  # read in one go with the next two: never built
    proc.send("start", 2, spec(), 2, 0)
    proc.send("cancel", 2)
    proc.send("start", 3, spec(), 2, 0)
    got = reports_until(proc, lambda g: any(n == 3 and k == "snapshot" for n, k, _ in g))
    kinds = [(n, k) for n, k, _ in got]
    assert (1, "finished") in kinds and (2, "finished") in kinds
    assert (1, "started") not in kinds and (2, "started") not in kinds and (3, "started") in kinds
