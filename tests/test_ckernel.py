"""The S6 scan's C kernel (core/s6_scan.c via core.ckernel) against the step-by-step recurrence and
its autograd, in float32; and the torch loop it falls back to when it cannot be built."""

from __future__ import annotations

import shutil

import pytest
import torch
import torch.nn.functional as F

from rnnviz.core import ckernel
from rnnviz.core.config import ModelConfig
from rnnviz.core.model import CharRNN
from rnnviz.core.modern import selective_scan, step_scan

needs_cc = pytest.mark.skipif(ckernel._compiler() is None, reason="no C compiler on this machine")


def _recurrence(delta, A, du, Bm, Cm, s0):
    """The S6 state one step at a time, in plain torch (autograd gives its gradients)."""
    S = step_scan(delta.unsqueeze(-1) * A, du.unsqueeze(-1) * Bm.unsqueeze(-2), s0)
    return (S * Cm.unsqueeze(-2)).sum(-1), S[:, -1]


def _inputs(Bsz, T, H, N, seed=0):
    g = torch.Generator().manual_seed(seed)
    delta = F.softplus(torch.randn(Bsz, T, H, generator=g) - 1)
    A = -torch.rand(H, N, generator=g) * 4 - 0.05
    shapes = ((Bsz, T, H), (Bsz, T, N), (Bsz, T, N), (Bsz, H, N))  # du, B, C, s_0
    parts = [delta, A, *(torch.randn(*s, generator=g) for s in shapes)]
    return [p.requires_grad_() for p in parts]


def _values_and_grads(fn, parts, seed=1):
    y, last = fn(*parts)
    g = torch.Generator().manual_seed(seed)
    wy, wl = torch.randn(y.shape, generator=g), torch.randn(last.shape, generator=g)
    return [y.detach(), last.detach(), *torch.autograd.grad((y * wy).sum() + (last * wl).sum(), parts)]


@needs_cc
@pytest.mark.parametrize("shape", [(3, 17, 7, 16), (2, 9, 5, 5), (1, 1, 3, 1), (4, 64, 32, 16)])
def test_the_kernel_equals_the_recurrence_and_its_autograd(shape):
    assert ckernel.load() is not None, ckernel.why_not()
    parts = _inputs(*shape)
    ref = _values_and_grads(_recurrence, parts)
    for fn in (selective_scan, lambda *p: selective_scan(*p, kernel=False)):
        got = _values_and_grads(fn, parts)
        names = ("y", "last", "d_delta", "d_A", "d_du", "d_B", "d_C", "d_s0")
        for name, a, b in zip(names, got, ref, strict=True):
            err = float((a - b).abs().max() / b.abs().max())
            assert err < 1e-5, (name, err)


@needs_cc
def test_the_kernel_is_what_training_runs_and_gives_the_loop_s_gradients():
    """A float32 S6 model on the CPU: its forward takes the kernel; every parameter's gradient
    equals the torch loop's (solver "loop") and the step-by-step recurrence's."""
    assert ckernel.load() is not None, ckernel.why_not()
    torch.manual_seed(3)
    m = CharRNN(ModelConfig(13, "ssm", layers=2, hidden=24, state=8))
    ids = torch.randint(0, 13, (4, 30))

    def grads(solver=None, scan=None):
        m.rnn.solver = solver or "auto"
        m.zero_grad()
        out, state = m.rnn(m.embed(ids), None, scan)
        (m.head(out).logsumexp(-1).sum() + state.square().sum()).backward()
        return {k: p.grad.clone() for k, p in m.named_parameters()}

    calls = []
    real = ckernel._state["lib"].s6_forward
    ckernel._state["lib"].s6_forward = lambda *a: calls.append(1) or real(*a)
    try:
        kernel = grads()
    finally:
        ckernel._state["lib"].s6_forward = real
    assert len(calls) == 2  # one per layer
    for other in (grads("loop"), grads(scan=step_scan)):
        for k, g in kernel.items():
            assert float((g - other[k]).abs().max() / other[k].abs().max()) < 1e-5, k


def test_without_a_compiler_training_takes_the_torch_loop(monkeypatch, tmp_path):
    monkeypatch.setattr(ckernel, "_state", {})
    monkeypatch.setenv("RNNVIZ_NO_KERNEL", "1")
    assert ckernel.load() is None and ckernel.why_not() == "turned off"
    parts = _inputs(2, 6, 3, 4)
    ref = _values_and_grads(_recurrence, parts)
    for a, b in zip(_values_and_grads(selective_scan, parts), ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    # a compiler that fails: no library, the reason kept, nothing half-written left in the cache
    monkeypatch.setattr(ckernel, "_state", {})
    monkeypatch.delenv("RNNVIZ_NO_KERNEL")
    monkeypatch.setenv("CC", "false")
    monkeypatch.setenv("RNNVIZ_CACHE", str(tmp_path))
    if ckernel._compiler() != shutil.which("false"):
        pytest.skip("no `false` command to stand for a broken compiler")
    assert ckernel.load() is None
    assert "CalledProcessError" in ckernel.why_not()
    assert list(tmp_path.iterdir()) == []


@needs_cc
def test_the_library_is_cached_by_source_and_reused(monkeypatch, tmp_path):
    monkeypatch.setattr(ckernel, "_state", {})
    monkeypatch.setenv("RNNVIZ_CACHE", str(tmp_path))
    assert ckernel.load() is not None
    built = list(tmp_path.iterdir())
    assert len(built) == 1 and built[0].name.startswith("s6_scan-")
    stamp = built[0].stat().st_mtime_ns
    monkeypatch.setattr(ckernel, "_state", {})
    assert ckernel.load() is not None
    assert list(tmp_path.iterdir()) == built and built[0].stat().st_mtime_ns == stamp


@needs_cc
def test_the_kernel_s_exponential_is_float32_exact_over_the_range_it_meets():
    """exp(Delta A) for Delta A in [-87, 0]: one step from s_0 = 1 with no input reads it out."""
    x = torch.linspace(0, 87, 100_001)
    n = len(x)
    y, _ = selective_scan(x.view(n, 1, 1), -torch.ones(1, 1), torch.zeros(n, 1, 1), torch.zeros(n, 1, 1),
                          torch.ones(n, 1, 1), torch.ones(n, 1, 1))  # fmt: skip
    ref = torch.exp(-x.double())
    assert float(((y.view(-1).double() - ref).abs() / ref).max()) < 2e-7
