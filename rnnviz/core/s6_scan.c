/* The S6 state's scan and readout, forward and backward, in float32 on the CPU (core/ckernel.py
 * compiles this file with the system's C compiler and loads it with ctypes).
 *
 * For every batch row b and channel h the state is N floats, and the whole recurrence
 *     s_t = exp(Delta_t A_h) * s_(t-1) + (Delta_t u_t) B_t,    y_t = s_t . C_t
 * runs with it in registers. The backward recomputes the T states of one (b, h) into a scratch of
 * T x N floats (in the L1 cache) and runs back with G_t = dL/ds_t:
 *     G_t = G_(t+1) * exp(Delta_(t+1) A) + gy_t C_t,          X_t = G_t * exp(Delta_t A) * s_(t-1)
 *     dL/dDelta_t = X_t . A_h,  dL/dA_h += X_t Delta_t,  dL/d(Delta u)_t = G_t . B_t,
 *     dL/dB_t += G_t (Delta u)_t,  dL/dC_t += gy_t s_t,   dL/ds_0 = G_1 * exp(Delta_1 A).
 * Layouts (all contiguous): delta, du, y, gy, d_delta, d_du (B, T, H); Bm, Cm, d_B, d_C (B, T, N);
 * A, d_A (H, N); s0, last, g_last, d_s0 (B, H, N). d_A, d_B and d_C are accumulated into (the
 * caller zeroes them). Both return 0, or 1 when out of memory.
 *
 * The exponential is Cephes' expf (range reduction by ln 2, a degree-6 polynomial, 2^n by the
 * exponent bits), written so that the compiler vectorises the loops over n: libm's expf is not
 * vectorised without -ffast-math, and eight million calls of it cost more than the rest. Its
 * relative error is below 2e-7 over the range used here (Delta A <= 0).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline float exp_neg(float x)
{
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;               /* x - n ln 2, in two parts */
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } two_n;
    two_n.i = ((int32_t)n + 127) << 23;
    return p * two_n.f;
}

int s6_forward(int64_t Bsz, int64_t T, int64_t H, int64_t N, const float *delta, const float *A,
                const float *du, const float *Bm, const float *Cm, const float *s0, float *y,
                float *last)
{
    float *s = malloc(sizeof(float) * N);
    if (!s)
        return 1;
    for (int64_t b = 0; b < Bsz; b++) {
        for (int64_t h = 0; h < H; h++) {
            const float *Ah = A + h * N;
            memcpy(s, s0 + (b * H + h) * N, sizeof(float) * N);
            for (int64_t t = 0; t < T; t++) {
                int64_t bt = b * T + t;
                float d = delta[bt * H + h], u = du[bt * H + h], acc = 0.0f;
                const float *Bt = Bm + bt * N, *Ct = Cm + bt * N;
#pragma omp simd reduction(+ : acc)
                for (int64_t n = 0; n < N; n++) {
                    s[n] = exp_neg(d * Ah[n]) * s[n] + u * Bt[n];
                    acc += s[n] * Ct[n];
                }
                y[bt * H + h] = acc;
            }
            memcpy(last + (b * H + h) * N, s, sizeof(float) * N);
        }
    }
    free(s);
    return 0;
}

int s6_backward(int64_t Bsz, int64_t T, int64_t H, int64_t N, const float *delta, const float *A,
                 const float *du, const float *Bm, const float *Cm, const float *s0, const float *gy,
                 const float *g_last, float *d_delta, float *d_A, float *d_du, float *d_B, float *d_C,
                 float *d_s0)
{
    /* S[t] = s_t for t = 0..T (S[0] = s_0), E[t] = exp(Delta_(t+1) A), G the running dL/ds_t */
    float *S = malloc(sizeof(float) * (T + 1) * N), *E = malloc(sizeof(float) * T * N);
    float *G = malloc(sizeof(float) * N);
    if (!S || !E || !G) {
        free(S), free(E), free(G);
        return 1;
    }
    for (int64_t b = 0; b < Bsz; b++) {
        for (int64_t h = 0; h < H; h++) {
            const float *Ah = A + h * N;
            float *dAh = d_A + h * N;
            memcpy(S, s0 + (b * H + h) * N, sizeof(float) * N);
            for (int64_t t = 0; t < T; t++) {
                int64_t bt = b * T + t;
                float d = delta[bt * H + h], u = du[bt * H + h];
                const float *Bt = Bm + bt * N, *prev = S + t * N;
                float *cur = S + (t + 1) * N, *e = E + t * N;
#pragma omp simd
                for (int64_t n = 0; n < N; n++) {
                    e[n] = exp_neg(d * Ah[n]);
                    cur[n] = e[n] * prev[n] + u * Bt[n];
                }
            }
            if (g_last)
                memcpy(G, g_last + (b * H + h) * N, sizeof(float) * N);
            else
                memset(G, 0, sizeof(float) * N);
            for (int64_t t = T - 1; t >= 0; t--) {
                int64_t bt = b * T + t;
                float d = delta[bt * H + h], u = du[bt * H + h], g_y = gy[bt * H + h];
                const float *Bt = Bm + bt * N, *Ct = Cm + bt * N;
                const float *prev = S + t * N, *cur = S + (t + 1) * N, *e = E + t * N;
                float *dBt = d_B + bt * N, *dCt = d_C + bt * N;
                float g_du = 0.0f, g_delta = 0.0f;
#pragma omp simd reduction(+ : g_du, g_delta)
                for (int64_t n = 0; n < N; n++) {
                    float g = G[n] + g_y * Ct[n]; /* G_t */
                    dCt[n] += g_y * cur[n];
                    dBt[n] += g * u;
                    g_du += g * Bt[n];
                    float x = g * e[n] * prev[n]; /* X_t */
                    g_delta += x * Ah[n];
                    dAh[n] += x * d;
                    G[n] = g * e[n];
                }
                d_du[bt * H + h] = g_du;
                d_delta[bt * H + h] = g_delta;
            }
            memcpy(d_s0 + (b * H + h) * N, G, sizeof(float) * N);
        }
    }
    free(S), free(E), free(G);
    return 0;
}
