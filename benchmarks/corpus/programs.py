"""A corpus of scientific NumPy programs, written the way people write NumPy.

Time-step stencils, triangular solves and factorizations, dynamic programming,
histograms, n-body, an FFT by stages, signal filters, image filters: in-place
updates, ``for t in range(T)`` loops, ``if`` on computed values, slices whose
bounds move with a loop, ``np.empty_like`` then fill, augmented assignment,
``out=``. Nothing here is written for a compiler; the module imports NumPy only.
``tests/corpus/test_corpus.py`` runs each under ``@mlc.jit`` against NumPy and
``python -m benchmarks corpus`` times each against NumPy, Numba and JAX.

Each :class:`Program` has its function, ``make(n, rng)`` that builds the
arguments for a size ``n`` (``n = 1`` gives the smallest sensible problem),
the names of its static (non-array) arguments and the size the benchmark uses::

    >>> p = PROGRAMS["heat_2d"]
    >>> u, steps = p.make(3, np.random.default_rng(0))
    >>> u.shape, steps
    ((5, 6), 3)
    >>> p.fn(u, steps)      # updates u in place, returns None
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Program", "PROGRAMS"]


@dataclass(frozen=True)
class Program:
    """``fn`` the NumPy program; ``make(n, rng)`` its arguments at size ``n``; ``static``: the
    names of its arguments that are Python values (``static_argnames`` for a jit); ``bench_n``: the
    size the benchmark runs; ``rtol``/``atol``: how close another run must come to NumPy's."""
    name: str
    fn: Callable
    make: Callable
    static: tuple[str, ...] = ()
    bench_n: int = 64
    rtol: float = 1e-7
    atol: float = 1e-9
    kind: str = ""


PROGRAMS: dict[str, Program] = {}


def program(make, static=(), bench_n=64, rtol=1e-7, atol=1e-9, kind=""):
    def register(fn):
        PROGRAMS[fn.__name__] = Program(fn.__name__, fn, make, tuple(static), bench_n, rtol, atol, kind)
        return fn
    return register


def _spd(n, rng):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def _lower(n, rng):
    return np.tril(rng.standard_normal((n, n))) + (n + 2) * np.eye(n)


# ---------------------------------------------------------------- stencils and time steps

@program(lambda n, rng: (rng.random(n + 2), 0.25, 3), static=("r", "steps"), bench_n=4096, kind="stencil")
def heat_1d(u, r, steps):
    for t in range(steps):
        u[1:-1] = u[1:-1] + r * (u[2:] - 2 * u[1:-1] + u[:-2])


@program(lambda n, rng: (rng.random((n + 2, n + 3)), 3), static=("steps",), bench_n=256, kind="stencil")
def heat_2d(u, steps):
    for t in range(steps):
        u[1:-1, 1:-1] += 0.1 * (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4 * u[1:-1, 1:-1])


@program(lambda n, rng: (rng.random((n + 2, n + 2)), rng.random((n + 2, n + 2)), 4), static=("steps",),
         bench_n=256, kind="stencil")
def jacobi_2d(A, B, steps):
    for t in range(steps):
        B[1:-1, 1:-1] = 0.2 * (A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:] + A[2:, 1:-1] + A[:-2, 1:-1])
        A[1:-1, 1:-1] = 0.2 * (B[1:-1, 1:-1] + B[1:-1, :-2] + B[1:-1, 2:] + B[2:, 1:-1] + B[:-2, 1:-1])


@program(lambda n, rng: (np.sin(np.linspace(0, np.pi, n + 2)), 0.5, 6), static=("c", "steps"), bench_n=4096,
         kind="stencil")
def wave_1d(u0, c, steps):
    u_prev = u0.copy()
    u = u0.copy()
    u_next = np.zeros_like(u0)
    c2 = c * c
    for t in range(steps):
        u_next[1:-1] = 2 * u[1:-1] - u_prev[1:-1] + c2 * (u[2:] - 2 * u[1:-1] + u[:-2])
        u_prev, u, u_next = u, u_next, u_prev
    return u


@program(lambda n, rng: ((rng.random((n + 2, n + 4)) < 0.4).astype(np.int64), 3), static=("generations",),
         bench_n=256, kind="stencil")
def game_of_life(board, generations):
    for g in range(generations):
        neighbours = np.zeros_like(board)
        neighbours[1:-1, 1:-1] = (board[:-2, :-2] + board[:-2, 1:-1] + board[:-2, 2:] + board[1:-1, :-2]
                                  + board[1:-1, 2:] + board[2:, :-2] + board[2:, 1:-1] + board[2:, 2:])
        alive = (neighbours == 3) | ((board == 1) & (neighbours == 2))
        board = np.where(alive, 1, 0)
        board[0, :] = 0
        board[-1, :] = 0
        board[:, 0] = 0
        board[:, -1] = 0
    return board


@program(lambda n, rng: (rng.random(n), 0.3, 5), static=("courant", "steps"), bench_n=4096, kind="stencil")
def advection_upwind(q, courant, steps):
    for t in range(steps):
        q = q - courant * (q - np.roll(q, 1))
    return q


@program(lambda n, rng: (rng.random(n + 2), rng.random(n + 2), 3), static=("sweeps",), bench_n=512,
         kind="stencil")
def gauss_seidel_1d(u, f, sweeps):
    n = u.shape[0]
    h2 = 1.0 / (n - 1) ** 2
    for s in range(sweeps):
        for i in range(1, n - 1):
            u[i] = 0.5 * (u[i - 1] + u[i + 1] + h2 * f[i])


@program(lambda n, rng: (rng.random(n + 3) + 0.5, 0.01, 0.05, 4), static=("dt", "nu", "steps"), bench_n=4096,
         kind="stencil")
def burgers_1d(u, dt, nu, steps):
    dx = 1.0 / u.shape[0]
    for t in range(steps):
        un = u.copy()
        u[1:-1] = (un[1:-1] - un[1:-1] * dt / dx * (un[1:-1] - un[:-2])
                   + nu * dt / dx ** 2 * (un[2:] - 2 * un[1:-1] + un[:-2]))
        u[0] = u[1]
        u[-1] = u[-2]


@program(lambda n, rng: (rng.random((n + 2, n + 3, n + 2)), 2), static=("steps",), bench_n=48, kind="stencil")
def heat_3d(u, steps):
    for t in range(steps):
        lap = np.empty_like(u)
        lap[...] = 0.0
        lap[1:-1, 1:-1, 1:-1] = (u[2:, 1:-1, 1:-1] + u[:-2, 1:-1, 1:-1] + u[1:-1, 2:, 1:-1]
                                 + u[1:-1, :-2, 1:-1] + u[1:-1, 1:-1, 2:] + u[1:-1, 1:-1, :-2]
                                 - 6.0 * u[1:-1, 1:-1, 1:-1])
        u += 0.125 * lap


# ---------------------------------------------------------------- linear algebra

@program(lambda n, rng: (_lower(n, rng), rng.standard_normal(n)), bench_n=128, kind="linalg")
def forward_substitution(L, b):
    x = np.zeros_like(b)
    for i in range(L.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


@program(lambda n, rng: (_lower(n, rng).T.copy(), rng.standard_normal(n)), bench_n=128, kind="linalg")
def back_substitution(U, b):
    n = U.shape[0]
    x = np.empty_like(b)
    for i in range(n - 1, -1, -1):
        x[i] = (b[i] - np.dot(U[i, i + 1:], x[i + 1:])) / U[i, i]
    return x


@program(lambda n, rng: (_spd(n, rng),), bench_n=96, rtol=1e-6, kind="linalg")
def cholesky(A):
    n = A.shape[0]
    L = np.zeros_like(A)
    for j in range(n):
        L[j, j] = np.sqrt(A[j, j] - np.dot(L[j, :j], L[j, :j]))
        L[j + 1:, j] = (A[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    return L


@program(lambda n, rng: (_spd(n, rng),), bench_n=96, rtol=1e-6, kind="linalg")
def lu_in_place(A):
    n = A.shape[0]
    for k in range(n - 1):
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])


@program(lambda n, rng: (rng.standard_normal((n + 3, n)),), bench_n=64, rtol=1e-6, atol=1e-8, kind="linalg")
def gram_schmidt(A):
    m, n = A.shape
    Q = np.zeros_like(A)
    R = np.zeros((n, n), dtype=A.dtype)
    V = A.copy()
    for j in range(n):
        R[j, j] = np.linalg.norm(V[:, j])
        Q[:, j] = V[:, j] / R[j, j]
        for k in range(j + 1, n):
            R[j, k] = Q[:, j] @ V[:, k]
            V[:, k] -= R[j, k] * Q[:, j]
    return Q, R


@program(lambda n, rng: (_spd(n, rng), np.ones(n), 8), static=("iterations",), bench_n=256, kind="linalg")
def power_iteration(A, x, iterations):
    for it in range(iterations):
        y = A @ x
        x = y / np.linalg.norm(y)
    return x @ A @ x, x


@program(lambda n, rng: (_spd(n, rng), rng.standard_normal(n), 10), static=("iterations",), bench_n=256,
         kind="linalg")
def jacobi_solver(A, b, iterations):
    d = np.diag(A)
    R = A - np.diag(d)
    x = np.zeros_like(b)
    for it in range(iterations):
        x = (b - R @ x) / d
    return x


@program(lambda n, rng: (_spd(n, rng), rng.standard_normal(n), 6), static=("iterations",), bench_n=256,
         rtol=1e-6, atol=1e-8, kind="linalg")
def conjugate_gradient(A, b, iterations):
    x = np.zeros_like(b)
    r = b - A @ x
    p = r.copy()
    rs = r @ r
    for it in range(iterations):
        Ap = A @ p
        alpha = rs / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rs_new = r @ r
        if rs_new < 1e-20:
            break
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


def _tridiagonal(n, rng):
    return (rng.random(n) - 0.5, rng.random(n) + 4.0, rng.random(n) - 0.5, rng.standard_normal(n))


@program(_tridiagonal, bench_n=4096, kind="linalg")
def thomas(a, b, c, d):
    n = d.shape[0]
    cp = np.empty_like(d)
    dp = np.empty_like(d)
    cp[0] = c[0] / b[0]
    dp[0] = d[0] / b[0]
    for i in range(1, n):
        m = b[i] - a[i] * cp[i - 1]
        cp[i] = c[i] / m
        dp[i] = (d[i] - a[i] * dp[i - 1]) / m
    x = np.empty_like(d)
    x[-1] = dp[-1]
    for i in range(n - 2, -1, -1):
        x[i] = dp[i] - cp[i] * x[i + 1]
    return x


def _gemver(n, rng):
    return (rng.random((n, n + 1)), rng.random(n), rng.random(n + 1), rng.random(n), rng.random(n + 1),
            rng.random(n), rng.random(n + 1), 1.5, 1.2)


@program(_gemver, static=("alpha", "beta"), bench_n=512, kind="linalg")
def gemver(A, u1, v1, u2, v2, y, z, alpha, beta):
    A += np.outer(u1, v1) + np.outer(u2, v2)
    x = beta * A.T @ y + z
    w = alpha * A @ x
    return x, w


@program(lambda n, rng: (rng.random((n, n + 2)), rng.random((n + 2, n + 1)), rng.random((n, n + 1)), 1.5, 0.5),
         static=("alpha", "beta"), bench_n=256, kind="linalg")
def gemm_update(A, B, C, alpha, beta):
    C *= beta
    C += alpha * A @ B


# ---------------------------------------------------------------- dynamic programming

def _strings(n, rng):
    return rng.integers(0, 4, n), rng.integers(0, 4, n + 2)


@program(_strings, bench_n=96, kind="dp")
def edit_distance(s, t):
    m, n = s.shape[0], t.shape[0]
    D = np.zeros((m + 1, n + 1), dtype=np.int64)
    D[:, 0] = np.arange(m + 1)
    D[0, :] = np.arange(n + 1)
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            cost = 0 if s[i - 1] == t[j - 1] else 1
            D[i, j] = min(D[i - 1, j] + 1, D[i, j - 1] + 1, D[i - 1, j - 1] + cost)
    return D[m, n]


@program(_strings, bench_n=96, kind="dp")
def lcs_length(s, t):
    m, n = s.shape[0], t.shape[0]
    C = np.zeros((m + 1, n + 1), dtype=np.int64)
    for i in range(1, m + 1):
        for j in range(1, n + 1):
            if s[i - 1] == t[j - 1]:
                C[i, j] = C[i - 1, j - 1] + 1
            else:
                C[i, j] = max(C[i - 1, j], C[i, j - 1])
    return C[m, n]


def _graph(n, rng):
    D = rng.random((n, n)) * 10
    D[rng.random((n, n)) < 0.3] = 1e9
    np.fill_diagonal(D, 0.0)
    return (D,)


@program(_graph, bench_n=128, kind="dp")
def floyd_warshall(D):
    n = D.shape[0]
    for k in range(n):
        D[:] = np.minimum(D, D[:, k, None] + D[None, k, :])


@program(lambda n, rng: (rng.standard_normal(3 * n),), bench_n=4096, kind="dp")
def max_subarray(x):
    best = x[0]
    current = x[0]
    for i in range(1, x.shape[0]):
        current = max(x[i], current + x[i])
        if current > best:
            best = current
    return best


def _knapsack(n, rng):
    return rng.integers(1, 6, n), rng.random(n), 3 * n


@program(_knapsack, static=("capacity",), bench_n=64, kind="dp")
def knapsack(weights, values, capacity):
    best = np.zeros(capacity + 1)
    for i in range(weights.shape[0]):
        w = weights[i]
        for c in range(capacity, w - 1, -1):
            best[c] = max(best[c], best[c - w] + values[i])
    return best[capacity]


def _hmm(n, rng):
    k = 3
    A = rng.random((k, k)) + 0.1
    A /= A.sum(axis=1, keepdims=True)
    B = rng.random((k, 4)) + 0.1
    B /= B.sum(axis=1, keepdims=True)
    return np.log(A), np.log(B), np.log(np.full(k, 1.0 / k)), rng.integers(0, 4, 2 * n)


@program(_hmm, bench_n=512, kind="dp")
def viterbi(log_A, log_B, log_pi, obs):
    T = obs.shape[0]
    K = log_A.shape[0]
    delta = np.empty((T, K))
    delta[0] = log_pi + log_B[:, obs[0]]
    for t in range(1, T):
        scores = delta[t - 1][:, None] + log_A
        delta[t] = scores.max(axis=0) + log_B[:, obs[t]]
    return delta[-1].max()


@program(lambda n, rng: (rng.random(2 * n) * 3,), bench_n=4096, kind="dp")
def running_max_drawdown(prices):
    peak = np.maximum.accumulate(prices)
    drawdown = (peak - prices) / peak
    return drawdown.max()


# ---------------------------------------------------------------- histograms and statistics

@program(lambda n, rng: (rng.random(5 * n),), bench_n=100_000, kind="stats")
def histogram_fixed(x):
    counts, edges = np.histogram(x, bins=16, range=(0.0, 1.0))
    return counts


@program(lambda n, rng: (rng.integers(0, 8, 4 * n),), bench_n=100_000, kind="stats")
def histogram_loop(labels):
    counts = np.zeros(8, dtype=np.int64)
    for i in range(labels.shape[0]):
        counts[labels[i]] += 1
    return counts


@program(lambda n, rng: (rng.standard_normal((2 * n + 1, n)) * rng.random(n) * 3,), bench_n=512, kind="stats")
def standardize(data):
    mean = data.mean(axis=0)
    std = data.std(axis=0)
    std[std <= 0.1] = 1.0
    data -= mean
    data /= std


@program(lambda n, rng: (rng.standard_normal((n + 4, n)),), bench_n=512, kind="stats")
def covariance(X):
    m = X.shape[0]
    X = X - X.mean(axis=0)
    C = X.T @ X
    C /= m - 1
    return C


@program(lambda n, rng: (rng.standard_normal(4 * n + 3), 3), static=("window",), bench_n=100_000, kind="stats")
def moving_average(x, window):
    c = np.cumsum(x)
    out = np.empty(x.shape[0] - window + 1)
    out[0] = c[window - 1]
    out[1:] = c[window:] - c[:-window]
    out /= window
    return out


@program(lambda n, rng: (rng.standard_normal(3 * n),), bench_n=100_000, kind="stats")
def welford(x):
    mean = 0.0
    m2 = 0.0
    for i in range(x.shape[0]):
        delta = x[i] - mean
        mean += delta / (i + 1)
        m2 += delta * (x[i] - mean)
    return mean, m2 / x.shape[0]


# ---------------------------------------------------------------- physics

def _bodies(n, rng):
    return rng.standard_normal((n + 1, 3)), rng.standard_normal((n + 1, 3)) * 0.1, rng.random(n + 1) + 0.5, 3


@program(_bodies, static=("steps",), bench_n=128, rtol=1e-6, atol=1e-8, kind="physics")
def nbody(pos, vel, mass, steps):
    dt = 0.01
    softening = 0.1
    for t in range(steps):
        dx = pos[None, :, 0] - pos[:, 0, None]
        dy = pos[None, :, 1] - pos[:, 1, None]
        dz = pos[None, :, 2] - pos[:, 2, None]
        inv_r3 = (dx ** 2 + dy ** 2 + dz ** 2 + softening ** 2) ** -1.5
        acc = np.empty_like(pos)
        acc[:, 0] = (dx * inv_r3) @ mass
        acc[:, 1] = (dy * inv_r3) @ mass
        acc[:, 2] = (dz * inv_r3) @ mass
        vel += acc * dt
        pos += vel * dt


@program(lambda n, rng: (rng.random((n + 1, 3)) * (n + 1),), bench_n=256, rtol=1e-6, kind="physics")
def lennard_jones(pos):
    diff = pos[:, None, :] - pos[None, :, :]
    r2 = (diff ** 2).sum(axis=-1)
    np.fill_diagonal(r2, np.inf)
    inv6 = (1.0 / r2) ** 3
    return 2.0 * np.sum(inv6 * inv6 - inv6)


@program(lambda n, rng: (rng.standard_normal(n + 2), np.zeros(n + 2), 8), static=("steps",), bench_n=4096,
         kind="physics")
def harmonic_chain(x, v, steps):
    dt = 0.05
    a = np.zeros_like(x)
    a[1:-1] = x[2:] - 2 * x[1:-1] + x[:-2]
    for t in range(steps):
        v += 0.5 * dt * a
        x += dt * v
        a[1:-1] = x[2:] - 2 * x[1:-1] + x[:-2]
        v += 0.5 * dt * a
    return 0.5 * np.sum(v ** 2)


@program(lambda n, rng: (np.linspace(-2, 0.5, n + 2)[None, :] + 1j * np.linspace(-1, 1, n + 1)[:, None], 12),
         static=("iterations",), bench_n=256, kind="physics")
def mandelbrot(c, iterations):
    z = np.zeros_like(c)
    counts = np.zeros(c.shape, dtype=np.int64)
    for i in range(iterations):
        inside = np.abs(z) <= 2
        z[inside] = z[inside] ** 2 + c[inside]
        counts[inside] += 1
    return counts


@program(lambda n, rng: (np.array([1.0, 1.0, 1.0]) + rng.random(3), 4 * n), static=("steps",), bench_n=2000,
         rtol=1e-6, kind="physics")
def lorenz_rk4(state, steps):
    def f(s):
        return np.array([10.0 * (s[1] - s[0]), s[0] * (28.0 - s[2]) - s[1], s[0] * s[1] - 8.0 / 3.0 * s[2]])
    dt = 0.01
    trajectory = np.empty((steps, 3))
    for t in range(steps):
        k1 = f(state)
        k2 = f(state + 0.5 * dt * k1)
        k3 = f(state + 0.5 * dt * k2)
        k4 = f(state + dt * k3)
        state = state + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        trajectory[t] = state
    return trajectory


@program(lambda n, rng: (rng.random(n + 1) + 0.5,), bench_n=4096, kind="physics")
def newton_sqrt(a):
    x = a.copy()
    while np.max(np.abs(x * x - a)) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


# ---------------------------------------------------------------- signal processing

@program(lambda n, rng: (rng.standard_normal(4 * n + 5), rng.standard_normal(5)), bench_n=100_000, kind="signal")
def fir_filter(x, h):
    y = np.zeros_like(x)
    for k in range(h.shape[0]):
        y[k:] += h[k] * x[:x.shape[0] - k]
    return y


@program(lambda n, rng: (rng.standard_normal(3 * n + 2), np.array([0.2, 0.3, 0.2]), np.array([1.0, -0.5, 0.1])),
         bench_n=20_000, kind="signal")
def iir_biquad(x, b, a):
    y = np.zeros_like(x)
    for i in range(x.shape[0]):
        y[i] = b[0] * x[i]
        if i >= 1:
            y[i] += b[1] * x[i - 1] - a[1] * y[i - 1]
        if i >= 2:
            y[i] += b[2] * x[i - 2] - a[2] * y[i - 2]
    return y


@program(lambda n, rng: (rng.standard_normal(3 * n), 0.2), static=("alpha",), bench_n=20_000, kind="signal")
def exponential_smoothing(x, alpha):
    s = np.empty_like(x)
    s[0] = x[0]
    for t in range(1, x.shape[0]):
        s[t] = alpha * x[t] + (1 - alpha) * s[t - 1]
    return s


def _signal_of_two_power(n, rng):
    """2 ** (n % 5) points for the tests' small n (1 to 16), 2 ** n from n = 8 (the benchmark's)."""
    size = 2 ** (n % 5) if n < 8 else 2 ** n
    return (rng.standard_normal(size) + 1j * rng.standard_normal(size),)


@program(_signal_of_two_power, bench_n=12, rtol=1e-6, atol=1e-8, kind="signal")
def fft_stages(x):
    N = x.shape[0]
    X = x.reshape(N, 1)
    while X.shape[0] > 1:
        half = X.shape[0] // 2
        even = X[::2]
        odd = X[1::2]
        m = X.shape[1]
        twiddle = np.exp(-1j * np.pi * np.arange(m) / m)[None, :]
        X = np.hstack([even + twiddle * odd, even - twiddle * odd])
        assert X.shape == (half, 2 * m)
    return X.ravel()


@program(lambda n, rng: (rng.standard_normal(n + 2),), bench_n=512, rtol=1e-6, atol=1e-8, kind="signal")
def dft_matrix(x):
    N = x.shape[0]
    k = np.arange(N)
    W = np.exp(-2j * np.pi * np.outer(k, k) / N)
    return W @ x


@program(lambda n, rng: (rng.standard_normal(3 * n + 4), 4), static=("lags",), bench_n=100_000, kind="signal")
def autocorrelation(x, lags):
    x = x - x.mean()
    n = x.shape[0]
    r = np.empty(lags)
    for k in range(lags):
        r[k] = x[:n - k] @ x[k:]
    r /= r[0]
    return r


@program(lambda n, rng: (rng.standard_normal(4 * n + 3),), bench_n=100_000, kind="signal")
def smooth_convolve(x):
    kernel = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    return np.convolve(x, kernel, mode="same")


@program(lambda n, rng: (np.sort(rng.random(2 * n + 1)), rng.standard_normal(2 * n + 1)), bench_n=100_000,
         kind="signal")
def cumulative_trapezoid(t, y):
    out = np.zeros_like(y)
    np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(t), out=out[1:])
    return out


# ---------------------------------------------------------------- images

@program(lambda n, rng: (rng.random((n + 2, n + 4)),), bench_n=512, kind="image")
def box_blur(img):
    out = np.empty_like(img)
    out[:] = img
    out[1:-1, 1:-1] = (img[:-2, :-2] + img[:-2, 1:-1] + img[:-2, 2:] + img[1:-1, :-2] + img[1:-1, 1:-1]
                       + img[1:-1, 2:] + img[2:, :-2] + img[2:, 1:-1] + img[2:, 2:]) / 9.0
    return out


@program(lambda n, rng: (rng.random((n + 2, n + 3)),), bench_n=512, kind="image")
def sobel(img):
    gx = np.zeros_like(img)
    gy = np.zeros_like(img)
    gx[1:-1, 1:-1] = (img[:-2, 2:] + 2 * img[1:-1, 2:] + img[2:, 2:]) - (img[:-2, :-2] + 2 * img[1:-1, :-2]
                                                                           + img[2:, :-2])
    gy[1:-1, 1:-1] = (img[2:, :-2] + 2 * img[2:, 1:-1] + img[2:, 2:]) - (img[:-2, :-2] + 2 * img[:-2, 1:-1]
                                                                           + img[:-2, 2:])
    magnitude = np.sqrt(gx ** 2 + gy ** 2)
    magnitude /= max(magnitude.max(), 1e-12)
    return magnitude


@program(lambda n, rng: (rng.random((n + 1, n + 2)), 0.5), static=("threshold",), bench_n=512, kind="image")
def threshold_clip(img, threshold):
    out = img.copy()
    out[out < threshold] = 0.0
    np.clip(out, 0.0, 0.9, out=out)
    return out


@program(lambda n, rng: (rng.random((n + 1, n + 3)),), bench_n=512, kind="image")
def integral_image(img):
    s = np.zeros((img.shape[0] + 1, img.shape[1] + 1))
    s[1:, 1:] = img.cumsum(axis=0).cumsum(axis=1)
    return s


# ---------------------------------------------------------------- textbook and cookbook idioms
# (pivoting by fancy-index swaps, error diffusion, masks over rows, convergence breaks, validation)

@program(lambda n, rng: (rng.standard_normal((n, n)),), bench_n=96, rtol=1e-6, atol=1e-8, kind="linalg")
def lu_partial_pivoting(A):
    A = A.copy()
    n = A.shape[0]
    perm = np.arange(n)
    for k in range(n - 1):
        p = np.argmax(np.abs(A[k:, k])) + k
        if p != k:
            A[[k, p]] = A[[p, k]]
            perm[[k, p]] = perm[[p, k]]
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
    return A, perm


@program(lambda n, rng: (rng.standard_normal((n + 2, n + 1)),), bench_n=64, rtol=1e-6, atol=1e-8, kind="linalg")
def householder_qr(A):
    m, n = A.shape
    Q = np.eye(m)
    R = A.copy()
    for j in range(n):
        x = R[j:, j]
        normx = np.linalg.norm(x)
        s = -np.sign(x[0]) if x[0] != 0 else -1.0
        u1 = x[0] - s * normx
        w = x / u1
        w[0] = 1
        tau = -s * u1 / normx
        R[j:, :] = R[j:, :] - (tau * w)[:, None] * (w @ R[j:, :])
        Q[:, j:] = Q[:, j:] - (Q[:, j:] @ w)[:, None] * (tau * w)[None, :]
    return Q, R


@program(lambda n, rng: (_spd(n, rng),), bench_n=256, rtol=1e-6, atol=1e-8, kind="linalg")
def power_iteration_converged(A):
    b = np.ones(A.shape[1])
    lam = 0.0
    for _ in range(100):
        b_new = A @ b
        b_new = b_new / np.linalg.norm(b_new)
        lam_new = b_new @ A @ b_new
        if abs(lam_new - lam) < 1e-10:
            break
        b = b_new
        lam = lam_new
    return lam_new


@program(lambda n, rng: (rng.random((n + 1, n + 2)),), bench_n=128, kind="image")
def floyd_steinberg(img):
    img = img.astype(float).copy()
    h, w = img.shape
    for y in range(h):
        for x in range(w):
            old = img[y, x]
            new = 1.0 if old > 0.5 else 0.0
            img[y, x] = new
            err = old - new
            if x + 1 < w:
                img[y, x + 1] += err * 7 / 16
            if y + 1 < h:
                if x > 0:
                    img[y + 1, x - 1] += err * 3 / 16
                img[y + 1, x] += err * 5 / 16
                if x + 1 < w:
                    img[y + 1, x + 1] += err * 1 / 16
    return img


@program(lambda n, rng: (rng.random((n + 2, n + 3)), 2 * n + 3, 3 * n + 1), static=("new_h", "new_w"),
         bench_n=256, kind="image")
def bilinear_resize(img, new_h, new_w):
    h, w = img.shape
    ys = np.linspace(0, h - 1, new_h)
    xs = np.linspace(0, w - 1, new_w)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    wy = (ys - y0)[:, np.newaxis]
    wx = (xs - x0)[np.newaxis, :]
    return (img[y0][:, x0] * (1 - wy) * (1 - wx) + img[y1][:, x0] * wy * (1 - wx)
            + img[y0][:, x1] * (1 - wy) * wx + img[y1][:, x1] * wy * wx)


@program(lambda n, rng: ((rng.random((n + 3, n + 4)) * 256).astype(np.uint8),), bench_n=512, kind="image")
def histogram_equalization(img):
    hist, bins = np.histogram(img.flatten(), 256, [0, 256])
    cdf = hist.cumsum()
    cdf_m = (cdf - cdf.min()) * 255 / (cdf.max() - cdf.min())
    return cdf_m.astype("uint8")[img]


@program(lambda n, rng: (rng.standard_normal((4 * n + 3, 2)), 3, 4), static=("k", "iters"), bench_n=4096,
         rtol=1e-6, kind="stats")
def kmeans(X, k, iters):
    centroids = X[:k].copy()
    for _ in range(iters):
        d = np.linalg.norm(X[:, np.newaxis] - centroids, axis=2)
        labels = d.argmin(axis=1)
        sums = np.zeros((k, X.shape[1]))
        np.add.at(sums, labels, X)
        counts = np.zeros(k)
        np.add.at(counts, labels, 1)
        nonempty = counts > 0
        centroids[nonempty] = sums[nonempty] / counts[nonempty, None]
    return centroids


@program(lambda n, rng: (rng.standard_normal(3 * n + 2), rng.standard_normal(3 * n + 2)), bench_n=100_000,
         kind="stats")
def spearman_rank(x, y):
    def rank(a):
        order = a.argsort()
        ranks = np.empty_like(order)
        ranks[order] = np.arange(len(a))
        return ranks
    rx, ry = rank(x), rank(y)
    n = len(x)
    return 1 - 6 * np.sum((rx - ry) ** 2) / (n * (n ** 2 - 1))


@program(lambda n, rng: (rng.random(3 * n + 2) + 0.1,), bench_n=100_000, kind="stats")
def validated_geometric_mean(x):
    if np.any(x <= 0):
        raise ValueError("the geometric mean needs positive values")
    assert x.ndim == 1
    return float(np.exp(np.log(x).mean()))


@program(lambda n, rng: (np.linspace(-2, 0.8, n + 2)[None, :] + 1j * np.linspace(-1.4, 1.4, n + 1)[:, None], 12),
         static=("maxit",), bench_n=256, kind="physics")
def mandelbrot_quickstart(c, maxit):
    z = c
    divtime = maxit + np.zeros(z.shape, dtype=int)
    for i in range(maxit):
        z = z ** 2 + c
        diverge = z * np.conj(z) > 2 ** 2
        div_now = diverge & (divtime == maxit)
        divtime[div_now] = i
        z[diverge] = 2
    return divtime


@program(lambda n, rng: (rng.standard_normal((n + 1, 3)), rng.standard_normal((n + 1, 3)), rng.random(n + 1) + 0.5),
         bench_n=100_000, kind="physics")
def angular_momentum(r, v, m):
    L = np.cross(r, m[:, np.newaxis] * v)
    return L.sum(axis=0), np.linalg.norm(L, axis=1)


@program(lambda n, rng: (np.log(rng.dirichlet(np.ones(3), 3)), np.log(rng.dirichlet(np.ones(4), 3)),
                         np.log(np.ones(3) / 3), rng.integers(0, 4, 2 * n + 1)), bench_n=512, kind="dp")
def viterbi_path(logA, logB, logpi, obs):
    T = len(obs)
    S = logA.shape[0]
    V = np.zeros((T, S))
    back = np.zeros((T, S), dtype=int)
    V[0] = logpi + logB[:, obs[0]]
    for t in range(1, T):
        scores = V[t - 1][:, None] + logA
        back[t] = np.argmax(scores, axis=0)
        V[t] = np.max(scores, axis=0) + logB[:, obs[t]]
    path = np.zeros(T, dtype=int)
    path[-1] = np.argmax(V[-1])
    for t in range(T - 2, -1, -1):
        path[t] = back[t + 1, path[t + 1]]
    return path


@program(lambda n, rng: (rng.random((n + 2, n + 3)), 3), static=("steps",), bench_n=256, kind="stencil")
def heat_edge_padded(u, steps):
    for _ in range(steps):
        p = np.pad(u, 1, mode="edge")
        u = u + 0.2 * (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * u)
    return u


@program(lambda n, rng: (rng.standard_normal((n + 3, n + 4)),), bench_n=512, kind="signal")
def gradient_magnitude(f):
    gy, gx = np.gradient(f)
    return np.hypot(gx, gy), np.trapezoid(f, dx=0.5, axis=0)
