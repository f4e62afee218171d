"""The recurrent cells of today, in torch: minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We
Needed?") and the selective state-space layer of Mamba (S6, Gu & Dao 2023), with its gate.

Their gates read x_t only, never h_(t-1): every layer is a linear recurrence
    s_t = a_t * s_(t-1) + b_t        (a_t in (0, 1), elementwise)
whose coefficients are computed for all steps at once, and which is solved for all steps at once
either by `linear_scan`, a parallel scan (chunks of the closed form
s_t = sum_k (a_(k+1) ... a_t) b_k + (a_1 ... a_t) s_0, the products taken as exponentials of
differences of cumulative log-sums, so nothing overflows), or by `fused_scan`, one fused
multiply-add per step forward and backward (an autograd Function with its own backward). The
parallel scan wins where many cores wait (CUDA); on a CPU of few cores the fused loop is 3x faster
(benchmarks/train_throughput.py prints both), so `ModernStack` takes the fused scan on the CPU.
The S6's fused scan runs in a small C kernel (core/s6_scan.c, built by core.ckernel) where a C
compiler is found: the scan 2.5x, a training step 1.8x faster than the torch loop, which stays as
the fallback and the reference.
`step_scan` is the plain step-by-step recurrence the tests compare both with.

The submodule names are the checkpoint format (README, "Checkpoint format"): `rnn.l{n}.z.weight`, ...
The float64 replay of the same equations, forward and backward, is in core.cells_modern.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rnnviz.core import ckernel
from rnnviz.core.config import ModelConfig

SCAN_CHUNK = 16  # steps solved together; (B, C, C, *S) floats per chunk


def linear_scan(log_a: torch.Tensor, b: torch.Tensor, s0: torch.Tensor, chunk: int = SCAN_CHUNK):
    """s_t = exp(log_a_t) * s_(t-1) + b_t for t = 1..T. log_a, b: (B, T, *S); s0: (B, *S).
    Returns every s_t (B, T, *S). Within a chunk the weight of b_k in s_t is
    exp(cum_t - cum_k) <= 1 (cum: the chunk's cumulative sum of log_a), masked to 0 for k > t."""
    T = log_a.shape[1]
    outs, s = [], s0
    for start in range(0, T, chunk):
        la, bb = log_a[:, start : start + chunk], b[:, start : start + chunk]
        C = la.shape[1]
        cum = la.cumsum(1)  # (B, C, *S)
        diff = cum.unsqueeze(2) - cum.unsqueeze(1)  # (B, t, k, *S)
        below = torch.ones(C, C, dtype=torch.bool, device=la.device).tril()
        below = below.view(1, C, C, *([1] * (la.dim() - 2)))
        weights = diff.masked_fill(~below, -math.inf).exp()
        y = (weights * bb.unsqueeze(1)).sum(2) + cum.exp() * s.unsqueeze(1)
        outs.append(y)
        s = y[:, -1]
    return torch.cat(outs, 1)


class _FusedScan(torch.autograd.Function):
    """s_t = a_t * s_(t-1) + b_t, with the backward written out: g_t = dL/ds_t (total) runs back
    as g_t = grad_t + a_(t+1) g_(t+1); then dL/db_t = g_t, dL/da_t = g_t s_(t-1), dL/ds_0 = a_1 g_1."""

    @staticmethod
    def forward(ctx, a, b, s0):
        out = torch.empty_like(b)
        s = s0
        for t in range(b.shape[1]):
            s = out[:, t] = torch.addcmul(b[:, t], a[:, t], s)
        ctx.save_for_backward(a, out, s0)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out, s0 = ctx.saved_tensors
        g_all = torch.empty_like(grad)
        g = grad[:, -1]
        g_all[:, -1] = g
        for t in range(grad.shape[1] - 2, -1, -1):
            g = g_all[:, t] = torch.addcmul(grad[:, t], a[:, t + 1], g)
        prev = torch.cat([s0.unsqueeze(1), out[:, :-1]], 1)
        return g_all * prev, g_all, a[:, 0] * g_all[:, 0]


def fused_scan(log_a: torch.Tensor, b: torch.Tensor, s0: torch.Tensor):
    """As `linear_scan`, one step at a time with a hand-written backward (fast on a CPU)."""
    return _FusedScan.apply(log_a.exp(), b, s0)


class _SelectiveScan(torch.autograd.Function):
    """The S6 state's scan and readout fused: from Delta, A, Delta*u (B, T, H), B_t, C_t (B, T, N)
    and s_0 (B, H, N), y_t = s_t C_t with s_t = exp(Delta_t A) s_(t-1) + (Delta_t u_t) B_t. Inside,
    time first and the state laid out (N, H), so that every broadcast runs along H, contiguous. Each
    step works on one (B, N, H) block while it is in the cache: the readout and, going back, every
    gradient's share of that step (a fresh (T, B, N, H) pass costs more than the arithmetic on it).
    The backward: G_t = dL/ds_t = G_(t+1) exp(Delta_(t+1) A) + dL/dy_t C_t; with
    X_t = G_t exp(Delta_t A) s_(t-1): dL/dDelta_t = sum_n X_t A, dL/dA = sum_t X_t Delta_t."""

    @staticmethod
    def forward(ctx, delta, A, du, Bm, Cm, s0):
        delta, du = delta.transpose(0, 1).contiguous(), du.transpose(0, 1).contiguous()  # (T, B, H)
        Bm, Cm = Bm.transpose(0, 1).contiguous(), Cm.transpose(0, 1).contiguous()  # (T, B, N)
        At, s = A.t().contiguous(), s0.transpose(1, 2)  # (N, H), (B, N, H)
        dA = torch.mul(delta.unsqueeze(2), At).exp_()  # (T, B, N, H)
        S = torch.empty_like(dA)
        y = delta.new_empty(delta.shape[0], delta.shape[1], 1, delta.shape[2])
        C_rows, B_cols, du_rows = Cm.unsqueeze(2), Bm.unsqueeze(3), du.unsqueeze(2)
        for t in range(len(S)):
            s = torch.mul(s, dA[t], out=S[t]).addcmul_(B_cols[t], du_rows[t])
            torch.bmm(C_rows[t], s, out=y[t])
        ctx.save_for_backward(delta, At, du, Bm, Cm, s0, S, dA)
        return y.squeeze(2).transpose(0, 1), S[-1].transpose(1, 2)

    @staticmethod
    def backward(ctx, gy, g_last):
        delta, At, du, Bm, Cm, s0, S, dA = ctx.saved_tensors
        T, Bsz, N, H = S.shape
        gy = gy.transpose(0, 1).contiguous()  # (T, B, H)
        d_du, d_delta = delta.new_empty(T, Bsz, 1, H), delta.new_empty(T, Bsz, H)
        d_B, d_C = delta.new_empty(T, Bsz, N, 1), delta.new_empty(T, Bsz, N, 1)
        B_rows, C_cols, gy_rows, du_cols = Bm.unsqueeze(2), Cm.unsqueeze(3), gy.unsqueeze(2), du.unsqueeze(3)
        carry = torch.zeros_like(S[0]) if g_last is None else g_last.transpose(1, 2).contiguous()
        g, x, acc_A = torch.empty_like(S[0]), torch.empty_like(S[0]), torch.zeros_like(S[0])
        s0t = s0.transpose(1, 2)
        for t in range(T - 1, -1, -1):
            torch.addcmul(carry, C_cols[t], gy_rows[t], out=g)  # G_t
            torch.bmm(B_rows[t], g, out=d_du[t])
            torch.bmm(g, du_cols[t], out=d_B[t])
            torch.bmm(S[t], gy[t].unsqueeze(2), out=d_C[t])
            carry = g.mul(dA[t])
            torch.mul(carry, S[t - 1] if t else s0t, out=x)  # X_t
            acc_A.addcmul_(x, delta[t].unsqueeze(1))
            torch.sum(x.mul_(At), 1, out=d_delta[t])
        back = [v.transpose(0, 1) for v in (d_delta, d_du.squeeze(2), d_B.squeeze(3), d_C.squeeze(3))]
        return back[0], acc_A.sum(0).t(), back[1], back[2], back[3], carry.transpose(1, 2)


class _SelectiveScanC(torch.autograd.Function):
    """As `_SelectiveScan`, in the C kernel of core/s6_scan.c (float32, CPU): each (batch row,
    channel) runs its N-float state through all T steps in registers, and the backward recomputes
    those T states in the cache instead of keeping (T, B, H, N) floats."""

    @staticmethod
    def forward(ctx, delta, A, du, Bm, Cm, s0):
        args = [v.detach().contiguous() for v in (delta, A, du, Bm, Cm, s0)]
        (Bsz, T, H), N = delta.shape, A.shape[1]
        y, last = delta.new_empty(Bsz, T, H), s0.new_empty(Bsz, H, N)
        _run(ckernel.load().s6_forward, (Bsz, T, H, N), *args, y, last)
        ctx.save_for_backward(*args)
        return y, last

    @staticmethod
    def backward(ctx, gy, g_last):
        delta, A, du, Bm, Cm, s0 = ctx.saved_tensors
        (Bsz, T, H), N = delta.shape, A.shape[1]
        gy = torch.zeros_like(delta) if gy is None else gy.contiguous()
        g_last = None if g_last is None else g_last.contiguous()
        d_delta, d_du, d_s0 = torch.empty_like(delta), torch.empty_like(du), torch.empty_like(s0)
        d_A, d_B, d_C = torch.zeros_like(A), torch.zeros_like(Bm), torch.zeros_like(Cm)
        outs = (d_delta, d_A, d_du, d_B, d_C, d_s0)
        _run(ckernel.load().s6_backward, (Bsz, T, H, N), delta, A, du, Bm, Cm, s0, gy, g_last, *outs)
        return outs


def _run(fn, sizes, *tensors):
    """Call a kernel function with the sizes and the tensors' data pointers (None: NULL)."""
    if fn(*sizes, *(None if v is None else v.data_ptr() for v in tensors)):
        raise MemoryError("the S6 kernel could not allocate its scratch")


def selective_scan(delta, A, du, Bm, Cm, s0, kernel: bool = True):
    """y_t = s_t C_t of the S6 recurrence (B, T, H), and the last state (B, H, N); fused (see above).
    On the CPU in float32 the C kernel runs it when it is built (kernel=False: the torch loop)."""
    parts = (delta, A, du, Bm, Cm, s0)
    if kernel and all(v.device.type == "cpu" and v.dtype == torch.float32 for v in parts) and ckernel.load():
        return _SelectiveScanC.apply(*parts)
    return _SelectiveScan.apply(*parts)


def step_scan(log_a: torch.Tensor, b: torch.Tensor, s0: torch.Tensor):
    """The same recurrence one step at a time (the reference for `linear_scan`)."""
    outs, s = [], s0
    for t in range(log_a.shape[1]):
        s = log_a[:, t].exp() * s + b[:, t]
        outs.append(s)
    return torch.stack(outs, 1)


class MinGRULayer(nn.Module):
    """z_t = sigmoid(W_z x_t + b_z), h~_t = W_h x_t + b_h, h_t = (1 - z_t) h_(t-1) + z_t h~_t."""

    def __init__(self, d: int, H: int):
        super().__init__()
        self.z, self.h = nn.Linear(d, H), nn.Linear(d, H)

    def coefficients(self, x):
        zp = self.z(x)
        return F.logsigmoid(-zp), torch.sigmoid(zp) * self.h(x)  # log(1 - z), z h~


class MinLSTMLayer(nn.Module):
    """f' = f / (f + i), i' = i / (f + i) of sigmoid gates; h_t = f'_t h_(t-1) + i'_t h~_t."""

    def __init__(self, d: int, H: int):
        super().__init__()
        self.f, self.i, self.h = nn.Linear(d, H), nn.Linear(d, H), nn.Linear(d, H)

    def coefficients(self, x):
        log_f, log_i = F.logsigmoid(self.f(x)), F.logsigmoid(self.i(x))
        log_sum = torch.logaddexp(log_f, log_i)
        return log_f - log_sum, (log_i - log_sum).exp() * self.h(x)


class SelectiveSSMLayer(nn.Module):
    """Mamba's S6 with its gate: u = W_in x + b_in; Delta = softplus(W_delta u + b_delta);
    B = W_B u, C = W_C u; s_t = exp(Delta_t A) s_(t-1) + (Delta_t u_t) B_t (H x N), A = -exp(A_log);
    y_t = s_t C_t + D u_t; h_t = y_t * silu(W_gate x_t + b_gate)."""

    def __init__(self, d: int, H: int, N: int):
        super().__init__()
        self.in_proj, self.gate = nn.Linear(d, H), nn.Linear(d, H)
        self.delta = nn.Linear(H, H)
        self.B, self.C = nn.Linear(H, N, bias=False), nn.Linear(H, N, bias=False)
        # S4D-real's A = -(1..N) for every channel; Delta from 0.001 to 0.1 at the start (Mamba)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(H, 1))
        self.D = nn.Parameter(torch.ones(H))
        with torch.no_grad():
            dt = torch.exp(torch.rand(H) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
            self.delta.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)

    def parts(self, x):
        """u, Delta (B, T, H), B, C (B, T, N) and the gate's pre-activation, for all steps."""
        u = self.in_proj(x)
        return u, F.softplus(self.delta(u)), self.B(u), self.C(u), self.gate(x)


class ModernStack(nn.Module):
    """Layers l0, l1, ... of one modern cell; forward(x (B, T, D), state) -> (h (B, T, H), state),
    state (L, B, H) for minGRU / minLSTM, (L, B, H, N) for the SSM (zeros when None)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.arch, self.layers, self.H, self.N = cfg.arch, cfg.layers, cfg.hidden, cfg.state
        self.dropout = 0.0
        for n in range(cfg.layers):
            d = cfg.input_size if n == 0 else cfg.hidden
            if cfg.arch == "mingru":
                layer: nn.Module = MinGRULayer(d, cfg.hidden)
            elif cfg.arch == "minlstm":
                layer = MinLSTMLayer(d, cfg.hidden)
            else:
                layer = SelectiveSSMLayer(d, cfg.hidden, cfg.state)
            self.add_module(f"l{n}", layer)
        self.chunk = SCAN_CHUNK if cfg.arch != "ssm" else max(1, min(SCAN_CHUNK, 64 // cfg.state))
        # "parallel" (linear_scan), "fused" (fused_scan; the S6's C kernel when it is built),
        # "loop" (fused_scan; the S6's torch loop, never the kernel) or "auto": by device
        self.solver = "auto"

    def forward(self, x: torch.Tensor, state=None, scan=None):
        """scan: the solver of s_t = a_t s_(t-1) + b_t (default: the parallel scan on CUDA, the
        fused loop on the CPU, with the S6's C kernel; the tests pass step_scan)."""
        if scan is None:
            parallel = self.solver == "parallel" or (self.solver == "auto" and x.is_cuda)
            scan = (lambda la, b, s0: linear_scan(la, b, s0, self.chunk)) if parallel else fused_scan
        Bsz, ssm = x.shape[0], self.arch == "ssm"
        finals = []
        for n in range(self.layers):
            layer = getattr(self, f"l{n}")
            if n and self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)
            shape = (Bsz, self.H, self.N) if ssm else (Bsz, self.H)
            s0 = x.new_zeros(shape) if state is None else state[n]
            if ssm:
                u, delta, Bm, Cm, gate = layer.parts(x)
                A = -torch.exp(layer.A_log)
                if scan is fused_scan:  # the scan and the readout y_t = s_t C_t in one
                    kernel = self.solver != "loop"
                    y, last = selective_scan(delta, A, delta * u, Bm, Cm, s0, kernel)
                else:
                    log_a = delta.unsqueeze(-1) * A  # (B, T, H, N)
                    s = scan(log_a, (delta * u).unsqueeze(-1) * Bm.unsqueeze(-2), s0)
                    y, last = (s * Cm.unsqueeze(-2)).sum(-1), s[:, -1]
                x = (y + layer.D * u) * F.silu(gate)
                finals.append(last)
            else:
                s = x = scan(*layer.coefficients(x), s0)
                finals.append(s[:, -1])
        return x, torch.stack(finals)
