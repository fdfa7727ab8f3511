"""Per-iteration memory on the llvm backend (backends/llvm/release.py).

A loop whose iterations keep nothing they allocate gives the arena back at the end
of each iteration; loops whose arrays live on (yielded fresh arrays, arrays on the
tape, one `if` branch yielding a fresh array) keep them. Every function here runs on
every backend against CPython, its gradient against finite differences, forward mode
against reverse and the Hessian where it is cheap; the memory a pullback keeps shows
which loops released.
"""
import resource

import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]


def temporaries(x, n):
    s = 0.0
    for i in range(n):
        y = np.sin(x) * (i + 1.0)  # fresh arrays, dead at the end of the iteration
        s += np.sum(y * x)
    return s


def accumulates_in_place(x, n):
    acc = np.zeros(x.shape[0])
    for i in range(n):
        t = np.outer(x, x)[0] * (i + 1.0)
        for j in range(x.shape[0]):
            acc[j] += t[j] * x[j]  # written element by element: the same memory
    return np.sum(acc * acc)


def no_residuals(x, n):
    s = 0.0
    for i in range(n):
        s += np.sum(np.sin(x) * (i + 1.0)) + np.sum(x * x)  # no array taped
    return s


def yields_fresh(x, n):
    y = x * 1.0
    for _ in range(n):
        y = np.cos(y) + x  # a fresh array carried on: nothing may be released
    return np.sum(y)


def branch_yields_fresh(x, n):
    y = x * 1.0
    for i in range(n):
        t = y * 0.5
        if i % 2 == 0:
            y = t + x  # fresh on even iterations, the old array on odd ones
        s = np.sum(t)
        x = x + s * 0.0
    return np.sum(y * y)


def while_allocates(x, n):
    k = 0
    s = 0.0
    while np.sum(x * k) < n:  # the condition allocates too
        s += np.sum(np.exp(x * 0.1))
        k += 1
    return s


def big_temporaries(x, n):
    s = 0.0
    for _ in range(n):
        big = np.outer(x, x)  # 300 x 300: a block of its own, over 256 KiB
        s += np.sum(big * big) * 1e-4
    return s


def tuple_carried(x, n):
    pair = (x * 1.0, 0.0)
    for _ in range(n):
        a, t = pair
        b = a + np.tanh(x)  # the tuple carries a fresh array on
        pair = (b, t + np.sum(b * 0.5))
    return pair[1] + np.sum(pair[0])


RNG = np.random.default_rng(11)
SMALL = RNG.uniform(0.2, 1.0, 5)
CASES = [(temporaries, (SMALL, 4)), (no_residuals, (SMALL, 3)), (accumulates_in_place, (SMALL, 3)),
         (yields_fresh, (SMALL, 4)), (branch_yields_fresh, (SMALL, 5)),
         (while_allocates, (SMALL, 6.0)), (big_temporaries, (RNG.uniform(0.2, 1.0, 300), 3)),
         (tuple_carried, (SMALL, 3))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args", CASES, ids=[c[0].__name__ for c in CASES])
def test_values_and_derivatives(fn, args, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    f = adjoin.differentiable(fn, backend=backend)
    want = fn(args[0].copy(), args[1])
    assert float(f(args[0].copy(), args[1])) == pytest.approx(want, rel=1e-12)
    (g,) = adjoin.grad(f, wrt=(0,))(args[0].copy(), args[1])
    (fd,) = numeric_grad(fn, [args[0].copy(), args[1]], (0,))
    np.testing.assert_allclose(np.asarray(g, dtype=float), fd, rtol=1e-5, atol=1e-6)
    v = np.linspace(0.5, 1.5, args[0].size)
    _, tangent = adjoin.jvp(f, (args[0].copy(), args[1]), (v, None))
    assert float(tangent) == pytest.approx(float(np.dot(np.asarray(g, dtype=float), v)),
                                           rel=1e-9)
    if args[0].size <= 5:
        h = np.asarray(adjoin.hessian(f)(args[0].copy(), args[1]), dtype=float)
        grad = adjoin.grad(fn)
        for k in range(args[0].size):  # row k: finite differences of the gradient
            e = np.zeros(args[0].size)
            e[k] = 1e-6
            row = (grad(args[0] + e, args[1]) - grad(args[0] - e, args[1])) / 2e-6
            np.testing.assert_allclose(h[k], row, rtol=1e-4, atol=1e-5)


def _kept(fn, x, n):
    _, pb = adjoin.vjp(fn, x.copy(), n, backend="llvm")
    return pb.tape_nbytes


def _faults(fn, *args) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn(*args)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_released_loops_keep_memory_flat():
    """The forward pass keeps no array of its iterations; the reverse pass (whose
    loop accumulates into its adjoint in place) reuses one iteration's memory: 200
    iterations of 720 KB arrays would otherwise touch some 70,000 fresh pages."""
    x = RNG.uniform(0.2, 1.0, 90_000)
    assert _kept(no_residuals, x, 200) == _kept(no_residuals, x, 20)
    grad = adjoin.grad(no_residuals, backend="llvm")
    grad(x, 20)
    assert _faults(grad, x, 200) < _faults(grad, x, 20) + 5000
    np.testing.assert_allclose(grad(x, 200), adjoin.grad(no_residuals)(x, 200), rtol=1e-12)


def test_loops_yielding_fresh_arrays_keep_them():
    x = RNG.uniform(0.2, 1.0, 2000)  # 16 KB a state
    assert _kept(yields_fresh, x, 40) > _kept(yields_fresh, x, 4) + 30 * 16000
    assert _kept(branch_yields_fresh, x, 40) > _kept(branch_yields_fresh, x, 4) + 15 * 16000
    assert _kept(tuple_carried, x, 40) > _kept(tuple_carried, x, 4) + 30 * 16000


def test_many_calls_and_pullbacks_agree():
    """A released arena is reused by later iterations and later calls: values stay."""
    x = RNG.uniform(0.2, 1.0, 300)
    g = adjoin.grad(big_temporaries, backend="llvm")
    first = g(x, 5)
    for _ in range(3):
        np.testing.assert_array_equal(g(x, 5), first)
    _, pb = adjoin.vjp(temporaries, x, 30, backend="llvm")
    once = pb(1.0)
    np.testing.assert_array_equal(pb(1.0)[0], once[0])
    np.testing.assert_allclose(once[0], adjoin.grad(temporaries)(x, 30), rtol=1e-12)
