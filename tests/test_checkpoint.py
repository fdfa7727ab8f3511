"""Checkpointed loops (adjoin.checkpointed, for and while): gradients equal the unchecked
loop's on every backend, in every mode; the llvm backend's memory stays bounded; bad uses
fail clearly."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad


def fd_grad(fn, args, i):
    return numeric_grad(fn, args, [i])[0]

BACKENDS = ["python", "llvm", "torch"]


def sim(x, n):
    s = 0.0
    y = x * 1.0
    for i in adjoin.checkpointed(range(n), snapshots=2):
        y = np.tanh(y * x) + 0.1 * i
        s = s + np.sum(y * y)
    return s


def sim_plain(x, n):
    s = 0.0
    y = x * 1.0
    for i in range(n):
        y = np.tanh(y * x) + 0.1 * i
        s = s + np.sum(y * y)
    return s


def strided(x, lo, hi, st, k):
    """A range with any bounds and step, an int carried value, a runtime snapshot count."""
    y = x * 0.5
    count = 0
    for i in adjoin.checkpointed(range(lo, hi, st), snapshots=k):
        y = np.sin(y) * x + 0.01 * i
        count += 1
    return np.sum(y) * (count + 1)


def strided_plain(x, lo, hi, st, k):
    y = x * 0.5
    count = 0
    for i in range(lo, hi, st):
        y = np.sin(y) * x + 0.01 * i
        count += 1
    return np.sum(y) * (count + 1)


def nested(x, n, m):
    y = x * 1.0
    for i in adjoin.checkpointed(range(n), snapshots=3):
        z = y * 0.5
        for j in adjoin.checkpointed(range(m), snapshots=1):
            z = np.cos(z) * x
        y = y + 0.1 * z
    return np.sum(y * y)


def nested_plain(x, n, m):
    y = x * 1.0
    for i in range(n):
        z = y * 0.5
        for j in range(m):
            z = np.cos(z) * x
        y = y + 0.1 * z
    return np.sum(y * y)


def _step(y, x, h):
    out = np.zeros(len(y))
    out[0] = x[0]
    for i in range(1, len(y)):
        out[i] = x[i] * y[i - 1]
    return y + h * out


def caller(x, s):
    """The checkpointed loop sits in a callee (the split pair's path) and calls a function."""
    return inner(x, s) * 2.0


def inner(x, s):
    y = np.zeros(len(x))
    for _ in adjoin.checkpointed(range(s), snapshots=4):
        y = _step(y, x, 0.1)
    return np.sum(y * y)


def caller_plain(x, s):
    y = np.zeros(len(x))
    for _ in range(s):
        y = _step(y, x, 0.1)
    return np.sum(y * y) * 2.0


def until(x, end):
    """A while loop: the trip count depends on the values (and on x)."""
    t = 0.0
    y = x * 1.0
    while adjoin.checkpointed(t < end, snapshots=2):
        y = y + 0.1 * np.sin(y * x)
        t = t + 0.1 + 0.01 * np.sum(y * y)
    return np.sum(y) + t


def until_plain(x, end):
    t = 0.0
    y = x * 1.0
    while t < end:
        y = y + 0.1 * np.sin(y * x)
        t = t + 0.1 + 0.01 * np.sum(y * y)
    return np.sum(y) + t


X = np.linspace(0.1, 0.9, 4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_equal_to_the_unchecked_loop(backend):
    f = adjoin.differentiable(sim, backend=backend)
    g = adjoin.differentiable(sim_plain, backend=backend)
    for n in (0, 1, 2, 3, 7, 40):
        assert f(X, n) == pytest.approx(g(X, n), rel=1e-14)
        np.testing.assert_allclose(adjoin.grad(f)(X, n), adjoin.grad(g)(X, n), rtol=1e-13,
                                   atol=1e-14)
    np.testing.assert_allclose(adjoin.grad(f)(X, 7), fd_grad(sim_plain, (X, 7), 0),
                               rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_any_range_and_runtime_snapshots(backend):
    f = adjoin.differentiable(strided, backend=backend)
    g = adjoin.differentiable(strided_plain, backend=backend)
    for args in ((0, 10, 1, 1), (3, 20, 4, 2), (20, -3, -3, 3), (5, 5, 1, 2), (9, 2, 1, 5),
                 (-4, 30, 7, 100)):
        a, b = adjoin.value_and_grad(f)(X, *args), adjoin.value_and_grad(g)(X, *args)
        assert a[0] == pytest.approx(b[0], rel=1e-14)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-13, atol=1e-15)
    for bad, exc in (((0, 5, 0, 2), ValueError), ((0, 5, 1, 0), ValueError)):
        with pytest.raises(exc):
            strided(X, *bad)
        with pytest.raises(exc):
            f(X, *bad)
        with pytest.raises(exc):
            adjoin.grad(f)(X, *bad)


@pytest.mark.parametrize("backend", BACKENDS)
def test_nested_loops_calls_and_higher_order(backend):
    f = adjoin.differentiable(nested, backend=backend)
    g = adjoin.differentiable(nested_plain, backend=backend)
    np.testing.assert_allclose(adjoin.grad(f)(X, 5, 4), adjoin.grad(g)(X, 5, 4), rtol=1e-13)
    np.testing.assert_allclose(adjoin.hessian(f)(X, 4, 3), adjoin.hessian(g)(X, 4, 3),
                               rtol=1e-12, atol=1e-14)
    _, t = adjoin.jvp(f, (X, 4, 3), (np.ones(4), None, None))
    _, t0 = adjoin.jvp(g, (X, 4, 3), (np.ones(4), None, None))
    assert t == pytest.approx(t0, rel=1e-13)
    c = adjoin.differentiable(caller, backend=backend)
    np.testing.assert_allclose(adjoin.grad(c)(X, 9), adjoin.grad(
        adjoin.differentiable(caller_plain, backend=backend))(X, 9), rtol=1e-13)
    xs = np.stack([X, 2 * X])
    np.testing.assert_allclose(adjoin.vmap(adjoin.grad(f), in_axes=(0, None, None))(xs, 3, 2),
                               np.stack([adjoin.grad(g)(x, 3, 2) for x in xs]), rtol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_while_loops(backend):
    f = adjoin.differentiable(until, backend=backend)
    g = adjoin.differentiable(until_plain, backend=backend)
    for end in (-1.0, 0.05, 0.15, 1.0, 3.0):
        assert f(X, end) == until(X, end)
        np.testing.assert_allclose(adjoin.grad(f)(X, end), adjoin.grad(g)(X, end),
                                   rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(adjoin.hessian(f)(X, 1.0), adjoin.hessian(g)(X, 1.0),
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(adjoin.grad(f)(X, 1.0), fd_grad(until_plain, (X, 1.0), 0),
                               rtol=1e-6)


def test_llvm_memory_is_bounded_by_the_snapshots():
    """The unchecked gradient keeps every step's arrays; the checkpointed one keeps a few
    states, whatever the trip count (scoped calls free each step's temporaries)."""
    f = adjoin.differentiable(caller, backend="llvm")
    g = adjoin.differentiable(caller_plain, backend="llvm")
    x = np.linspace(0.0, 1.0, 64)
    held = {}
    for s in (500, 4000):
        _, pb = adjoin.vjp(f, x, s)
        _, pb0 = adjoin.vjp(g, x, s)
        np.testing.assert_allclose(pb(1.0)[0], pb0(1.0)[0], rtol=1e-12)
        held[s] = (pb.tape_nbytes, pb0.tape_nbytes)
    assert held[4000][1] > 3 * held[500][1]  # the full tape grows with the trip count
    assert held[4000][0] < 1.5 * held[500][0] + 4096
    assert held[4000][0] * 20 < held[4000][1], held


@pytest.mark.parametrize("backend", BACKENDS)
def test_errors_in_an_iteration_are_cpythons(backend):
    def walk(x, n):
        y = x * 1.0
        for i in adjoin.checkpointed(range(n), snapshots=2):
            y = y + x[i]
        return np.sum(y)
    f = adjoin.differentiable(walk, backend=backend)
    with pytest.raises(IndexError):
        f(X, 6)
    with pytest.raises(IndexError):
        adjoin.grad(f)(X, 6)
    np.testing.assert_allclose(adjoin.grad(f)(X, 3), fd_grad(walk, (X, 3), 0), rtol=1e-6)


def test_misuse_fails_at_compile_time():
    def not_a_loop(x, n):
        r = adjoin.checkpointed(range(n))
        return x

    def broken(x, n):
        for i in adjoin.checkpointed(range(n)):
            if i > 2:
                break
            x = x * 2.0
        return x

    def over_array(x, n):
        for v in adjoin.checkpointed(x):
            n = n + 1
        return x

    def zero(x, n):
        for i in adjoin.checkpointed(range(n), snapshots=0):
            x = x * 2.0
        return x

    for fn, words in ((not_a_loop, "marks a loop"), (broken, "break or return"),
                      (over_array, r"range\(\.\.\.\) written in place"), (zero, "at least 1")):
        with pytest.raises(adjoin.TypingError, match=words) as e:
            adjoin.grad(fn)(1.5, 3)
        assert e.value.loc.line > 0
    with pytest.raises(ValueError):
        adjoin.checkpointed(range(3), snapshots=0)
    with pytest.raises(TypeError):
        adjoin.checkpointed([1, 2])
    assert adjoin.checkpointed(np.float64(2.0) > 1.0) is True
