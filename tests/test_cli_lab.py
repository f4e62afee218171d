"""`rnnviz compare --archs` and `rnnviz train --preset recall`, through the command line."""

import json

import numpy as np
from test_cli import independent_load, one_line_error, run

from rnnviz.core.recall import LINES, baselines, recall_text


def test_compare_any_three_architectures():
    p = run(
        "compare", "--archs", "lstm,mingru,ssm", "--state", 3, "--corpus", "builtin:fable", "--steps", 2,
        "--hidden", 4, "--seq-len", 8, "--batch", 2, "--window", 12, "--positions", 2, "--json",
    )  # fmt: skip
    doc = json.loads(p.stdout)
    assert doc["archs"] == list(doc["models"]) == ["lstm", "mingru", "ssm"] and doc["state"] == 3
    m = doc["models"]
    assert [m[a]["gradient_of"] for a in m] == ["h", "h", "s"] and [m[a]["w_hh"] for a in m] == [
        True,
        False,
        False,
    ]
    assert m["lstm"]["cell_horizon"] is not None and m["ssm"]["cell_horizon"] is None
    for f in m.values():
        assert 0 <= f["horizon"] <= f["horizon_1e-4"] <= 11 and f["train_seconds"] > 0
        assert 0 < f["mean_sigma"] and "answer_accuracy" not in f  # a stream: no answers
    assert m["ssm"]["mean_sigma"] < 1 and m["mingru"]["mean_sigma"] < 1  # diagonal maps of decays


def test_bad_archs_are_one_line():
    """(check_archs's other refusals: tests/test_lab_modern.py)"""
    one_line_error(run("compare", "--archs", "lstm,mamba", check_ok=False), "unknown architecture 'mamba'")
    p = run("train", "--preset", "recall", "--arch", "gru", check_ok=False)
    one_line_error(p, "rnnviz compare --archs")


def test_the_recall_preset_scores_both_models_on_the_answers(tmp_path):
    out = tmp_path / "recall.safetensors"
    p = run(
        "train", "--preset", "recall", "--steps", 3, "--hidden", 8, "--layers", 1, "--out", out, "--json",
    )  # fmt: skip
    doc = json.loads(p.stdout)
    assert doc["preset"] == "recall" and doc["archs"] == ["lstm", "ssm"] and doc["samples"] == "lines"
    held = recall_text().splitlines()[-doc["held_out_lines"] :]
    assert doc["held_out_lines"] == LINES // 10
    for k, v in baselines(held).items():
        assert doc[k] == v
    for arch, f in doc["models"].items():
        assert 0 <= f["answer_accuracy"] <= 1
        cfg, meta, _ = independent_load(f["checkpoint"])
        assert f["checkpoint"] == str(tmp_path / f"recall-{arch}.safetensors")
        assert meta["arch"] == arch and meta["steps"] == 3 and cfg.hidden == 8
        assert meta["corpus"] == "builtin:recall"
    assert np.isfinite(doc["seconds"]) and "answers" in p.stderr and "values without keys" in p.stderr
