"""`python -m benchmarks.vmap`: per-example gradients of a scalar-loop simulation.

The workload: a damped pendulum (x' = v, v' = -k sin x - c v) integrated by RK4 from
t = 0 to T with an adaptive step: after each step h is scaled by sqrt(TOL / |change|),
clamped to [0.5, 2], and cut to land on T, so the `while t < T` loop runs about 40 to 190
times, a different count per instance. Each of B instances has its own (k, c); the loss is
(x(T) - TARGET)^2 + 0.1 v(T)^2 + 0.01 * integral of x^2. `loss` below is the plain
Python adjoin compiles (Python floats, `math`, `while`, `if`, `min`).

Columns, all on the same B instances, gradients with respect to (k, c):
  (1) adjoin.vmap(adjoin.grad(loss, backend="llvm")) (absent until adjoin.vmap lands);
  (2) a Python loop calling adjoin.grad(loss, backend="llvm") once per instance;
  (3) jax.vmap(jax.jacfwd) of a lax.while_loop rewrite (JAX's reverse mode refuses
      while_loop; forward mode over 2 inputs is the cheap way), and (3b) jax.vmap(jax.grad)
      of a lax.scan rewrite running the batch's largest trip count with finished steps masked;
  (4) torch.func.vmap(torch.func.grad) of a FIXED-step rewrite (as many steps as the
      batch's largest trip count): torch.func cannot batch data-dependent Python control flow,
      so its gradient is of a different (fixed-step) loss;
  (5) adjoin.vmap on the torch backend (absent until adjoin.vmap lands).
Before timing, (1), (3), (3b) and (5) must agree with (2) on every instance (rtol 1e-8 for
adjoin, 1e-7 for JAX). Then the columns are timed in rounds that run each once in turn,
after a warm-up round; each time is its best round (a warm-up over 10 s is the time),
compile time excluded (time.perf_counter; JAX results block_until_ready). Ratios are
time / time of (1) and time of (2) / time: read those, the shared machine is noisy.
tests/test_vmap_benchmark.py checks the rewrites against finite differences.
"""
from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from typing import Any, Callable, List, Optional, Tuple

import numpy as np

from .peers import _jax  # jax with float64 on (imported when first called)

TOL, H0, X0, TARGET, T_END = 0.15, 0.05, 1.0, 0.2, 5.0
FULL_B, QUICK_B = 10_000, 200


# -- the workload, plain Python ---------------------------------------------------------


def rhs(x, v, k, c):
    return v, -k * math.sin(x) - c * v


def rk4_step(x, v, k, c, h):
    a1, b1 = rhs(x, v, k, c)
    a2, b2 = rhs(x + 0.5 * h * a1, v + 0.5 * h * b1, k, c)
    a3, b3 = rhs(x + 0.5 * h * a2, v + 0.5 * h * b2, k, c)
    a4, b4 = rhs(x + h * a3, v + h * b3, k, c)
    return h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4), h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)


def simulate(k, c, T):
    """(x(T), v(T), integral of x^2, number of steps) with the adaptive step."""
    x, v, t, h, cost, steps = X0, 0.0, 0.0, H0, 0.0, 0
    while t < T:
        h = min(h, T - t)
        dx, dv = rk4_step(x, v, k, c, h)
        x += dx
        v += dv
        t += h
        cost += h * x * x
        steps += 1
        scale = math.sqrt(TOL / (abs(dx) + abs(dv) + 1e-12))  # h grows where little changes
        if scale < 0.5:
            scale = 0.5
        elif scale > 2.0:
            scale = 2.0
        h = h * scale
    return x, v, cost, steps


def loss(k, c, T):
    x, v, cost, _ = simulate(k, c, T)
    return (x - TARGET) ** 2 + 0.1 * v * v + 0.01 * cost


def loss_fixed(k, c, T, n):
    """The loss with n equal steps: what the torch.func rewrite computes."""
    x, v, cost, h = X0, 0.0, 0.0, T / n
    for _ in range(n):
        dx, dv = rk4_step(x, v, k, c, h)
        x += dx
        v += dv
        cost += h * x * x
    return (x - TARGET) ** 2 + 0.1 * v * v + 0.01 * cost


def instances(batch: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(2.0, 8.0, batch), rng.uniform(0.1, 0.5, batch)


# -- peer rewrites (same math on arrays; `sin` is the library's) -------------------------


def _rk4_peer(x, v, k, c, h, sin):
    f = lambda x, v: (v, -k * sin(x) - c * v)  # noqa: E731
    a1, b1 = f(x, v)
    a2, b2 = f(x + 0.5 * h * a1, v + 0.5 * h * b1)
    a3, b3 = f(x + 0.5 * h * a2, v + 0.5 * h * b2)
    a4, b4 = f(x + h * a3, v + h * b3)
    return h / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4), h / 6.0 * (b1 + 2.0 * b2 + 2.0 * b3 + b4)


def _jax_step(state, k, c, T):
    """One adaptive step on the carry (t, h, x, v, cost), as in `simulate`."""
    jnp = _jax().numpy
    t, h, x, v, cost = state
    h = jnp.minimum(h, T - t)
    dx, dv = _rk4_peer(x, v, k, c, h, jnp.sin)
    x, v, t = x + dx, v + dv, t + h
    cost = cost + h * x * x
    h = h * jnp.clip(jnp.sqrt(TOL / (jnp.abs(dx) + jnp.abs(dv) + 1e-12)), 0.5, 2.0)
    return t, h, x, v, cost


def _jax_loss(state):
    _, _, x, v, cost = state
    return (x - TARGET) ** 2 + 0.1 * v * v + 0.01 * cost


def _jax_start():  # float64 arrays: the carry's types must not change in the loop
    return tuple(_jax().numpy.asarray(a, dtype="float64") for a in (0.0, H0, X0, 0.0, 0.0))


def loss_lax(k, c, T):
    """`loss` with lax.while_loop: the same adaptive steps."""
    lax = _jax().lax
    return _jax_loss(lax.while_loop(lambda s: s[0] < T, lambda s: _jax_step(s, k, c, T),
                                    _jax_start()))


def loss_scan(k, c, T, n):
    """`loss` with lax.scan over n steps, steps past T masked (n >= the trip count)."""
    jax = _jax()

    def body(s, _):
        new = _jax_step(s, k, c, T)
        return tuple(jax.numpy.where(s[0] < T, a, b) for a, b in zip(new, s)), None
    return _jax_loss(jax.lax.scan(body, _jax_start(), None, length=n)[0])


def loss_torch(k, c, T, n):
    """`loss_fixed` on torch tensors."""
    import torch
    x, v, cost, h = X0 + 0.0 * k, 0.0 * k, 0.0 * k, T / n
    for _ in range(n):
        dx, dv = _rk4_peer(x, v, k, c, h, torch.sin)
        x, v = x + dx, v + dv
        cost = cost + h * x * x
    return (x - TARGET) ** 2 + 0.1 * v * v + 0.01 * cost


# -- the columns: each returns a function of (k, c) giving a (B, 2) array ---------------


class Unavailable(Exception):
    """A column that cannot run here; its message is what the table prints."""


def adjoin_vmap(backend: str) -> Callable:
    import adjoin
    if not hasattr(adjoin, "vmap"):
        raise Unavailable("n/a: adjoin.vmap missing")
    g = adjoin.vmap(adjoin.grad(loss, wrt=(0, 1), backend=backend), in_axes=(0, 0, None))
    numpy = lambda a: a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)  # noqa
    return lambda k, c: np.stack([numpy(a) for a in g(k, c, T_END)], axis=1)


def adjoin_loop() -> Callable:
    import adjoin
    g = adjoin.grad(loss, wrt=(0, 1), backend="llvm")

    def run(k, c):
        return np.array([g(a, b, T_END) for a, b in zip(k.tolist(), c.tolist())])
    return run


def jax_batched(kind: str, n: int) -> Callable:
    try:
        jax = _jax()
    except ImportError:
        raise Unavailable("n/a (jax not installed)")
    per = (jax.jacfwd(loss_lax, argnums=(0, 1)) if kind == "while" else
           jax.grad(functools.partial(loss_scan, n=n), argnums=(0, 1)))
    g = jax.jit(jax.vmap(per, in_axes=(0, 0, None)))
    return lambda k, c: np.stack(jax.block_until_ready(g(k, c, T_END)), axis=1)


def torch_batched(n: int) -> Callable:
    try:
        import torch
        from torch.func import grad, vmap
    except ImportError:
        raise Unavailable("n/a (torch not installed)")
    g = vmap(grad(functools.partial(loss_torch, T=T_END, n=n), argnums=(0, 1)))
    return lambda k, c: torch.stack(g(torch.as_tensor(k), torch.as_tensor(c)), 1).numpy()


# -- measurement -----------------------------------------------------------------------


def side_by_side(fns: List[Callable[[], Any]], repeats: int, limit: float = 10.0) -> List[float]:
    """Best wall time of each function over `repeats` rounds that call each once in turn
    (the machine's load drifts alike for all), after a warm-up round. A function whose
    warm-up took over `limit` seconds is not repeated: its warm-up time stands."""
    warm = []
    for fn in fns:
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    best = [t if t > limit else float("inf") for t in warm]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            if warm[i] <= limit:
                t0 = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - t0)
    return best


def trip_counts(k: np.ndarray, c: np.ndarray) -> np.ndarray:
    import adjoin
    sim = adjoin.differentiable(simulate, backend="llvm")
    return np.array([sim(a, b, T_END)[3] for a, b in zip(k.tolist(), c.tolist())])


def columns(n_max: int) -> List[Tuple[str, Callable[[], Callable], Optional[float], str]]:
    """(name, maker, rtol against the loop (None: no check), note) in table order."""
    return [
        ("(1) adjoin llvm vmap(grad)", lambda: adjoin_vmap("llvm"), 1e-8, ""),
        ("(2) adjoin llvm grad, Python loop", adjoin_loop, None, "the baseline"),
        ("(3) jax vmap(jacfwd), while_loop", lambda: jax_batched("while", n_max), 1e-7,
         "forward mode: jax.grad refuses lax.while_loop"),
        ("(3b) jax vmap(grad), masked scan", lambda: jax_batched("scan", n_max), 1e-7,
         f"every instance runs {n_max} steps, those past T masked"),
        ("(4) torch.func vmap(grad), fixed step", lambda: torch_batched(n_max), None,
         f"a different loss: {n_max} fixed steps; torch.func cannot vmap data-dependent "
         "Python control flow"),
        ("(5) adjoin torch vmap(grad)", lambda: adjoin_vmap("torch"), 1e-8, ""),
    ]


def measure(batch: int, repeats: int = 5) -> Tuple[List[Tuple[str, Optional[float], str]], str]:
    """Rows (name, seconds or None, note) and a line on the trip counts."""
    k, c = instances(batch)
    counts = trip_counts(k, c)
    reference = adjoin_loop()(k, c)
    slots: List[Tuple[str, Optional[int], str]] = []  # (name, index in `timed`, note)
    timed: List[Callable[[], Any]] = []
    for name, make, rtol, note in columns(int(counts.max())):
        print(f"compiling and checking {name} ...", file=sys.stderr, flush=True)
        try:
            fn = make()
            got = fn(k, c)
        except Unavailable as e:
            slots.append((name, None, str(e)))
            continue
        except Exception as e:  # a column that fails says why; the others still run
            first = (str(e).splitlines() or [""])[0][:100]
            slots.append((name, None, f"{type(e).__name__}: {first}"))
            continue
        if rtol is not None:  # the same gradients before any timing
            np.testing.assert_allclose(got, reference, rtol=rtol, atol=1e-12, err_msg=name)
        slots.append((name, len(timed), note))
        timed.append(functools.partial(fn, k, c))
    print("timing ...", file=sys.stderr, flush=True)
    times = side_by_side(timed, repeats)
    rows = [(n, None if i is None else times[i], note) for n, i, note in slots]
    trips = (f"B = {batch}; steps per instance {counts.min()}..{counts.max()} "
             f"(mean {counts.mean():.0f}); gradients wrt (k, c); best of {repeats}")
    return rows, trips


def table(rows: List[Tuple[str, Optional[float], str]], trips: str) -> str:
    t1, t2 = rows[0][1], rows[1][1]
    r = lambda a, b: "n/a" if a is None or b is None else f"{a / b:.2f}"  # noqa: E731
    lines = [trips, "", "| column | time (ms) | time / (1) | (2) / time | note |",
             "|---|---|---|---|---|"]
    for name, t, note in rows:
        ms = "n/a" if t is None else f"{t * 1e3:.1f}"
        lines.append(f"| {name} | {ms} | {r(t, t1)} | {r(t2, t)} | {note} |")
    verdict = "n/a" if t1 is None else ("met" if t2 / t1 >= 5 else "missed")
    lines += ["", f"target (2) / (1) >= 5: {verdict} ({r(t2, t1)})"]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.vmap")
    p.add_argument("--quick", action="store_true", help=f"B = {QUICK_B} instead of {FULL_B}")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    print(table(*measure(QUICK_B if args.quick else FULL_B, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
