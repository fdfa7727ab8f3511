"""var, std, concatenate, hstack, vstack, squeeze, atleast_1d/2d: the primal against NumPy
and the gradient against finite differences on every backend, forward against reverse mode,
and the errors NumPy raises."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]


def moments(x, A):
    return (np.sum(np.var(A, axis=0)) + np.std(A, axis=1, keepdims=True)[2, 0]
            + np.var(x, ddof=1) + np.std(A) + A.shape[0] * np.var(A[:, 1], ddof=2))


def joins(x, A, B):
    c = np.concatenate([A, B], axis=1)
    d = np.concatenate((A, A * 2.0))
    h = np.hstack((x, x * 2.0))
    v = np.vstack([x, x ** 2])
    return np.sum(c * c) + np.sum(d[4:]) + np.sum(h ** 3) + np.sum(v[1]) + c[0, 4]


def dims(x, A):
    q = np.squeeze(A[:, None, :], axis=1)
    r = np.squeeze(np.expand_dims(A, -1), -1)
    return np.sum(q * r) + np.sum(np.atleast_2d(x)[0] * 3.0) + np.sum(np.atleast_1d(x) ** 2)


def triangles(A, v):
    return (np.sum(np.tril(A) ** 2) + np.sum(np.triu(A, 1) * 3.0) + np.trace(A) * 2.0
            + np.sum(np.diag(v) @ A) + np.sum(np.diag(A) ** 3) + np.sum(np.tril(A, k=-1)))


def rearranged(x, A, k):
    return (np.sum(np.roll(x, 1) * x) + np.sum(np.roll(x, -2) ** 3)
            + np.sum(np.roll(A, k, axis=1) * A) + np.sum(np.roll(x, 7)[0:1])
            + np.sum(np.tile(x, 3) * np.arange(9.0)) + np.sum(np.repeat(x, 2) * np.arange(6.0)))


RNG = np.random.default_rng(3)
X, A, B = RNG.standard_normal(3), RNG.standard_normal((4, 3)), RNG.standard_normal((4, 2))
CASES = [(moments, (X, A), (0, 1)), (joins, (X, A, B), (0, 1, 2)), (dims, (X, A), (0, 1)),
         (triangles, (A, RNG.standard_normal(4)), (0, 1)),
         (rearranged, (X, A, 2), (0, 1))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_values_and_derivatives(fn, args, wrt, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    f = adjoin.differentiable(fn, backend=backend)
    assert float(f(*args)) == pytest.approx(fn(*args), rel=1e-12, abs=1e-12)
    got = adjoin.grad(f, wrt=wrt)(*args)
    for g, w in zip(got, numeric_grad(fn, args, wrt)):
        np.testing.assert_allclose(np.asarray(g, dtype=float), w, rtol=1e-6, atol=1e-7)
    tangents = [np.ones_like(a) if i in wrt else None for i, a in enumerate(args)]
    _, dot = adjoin.jvp(f, args, tangents)
    assert float(dot) == pytest.approx(sum(float(np.sum(g)) for g in got), rel=1e-9)


def test_joined_arrays_keep_numpy_dtypes():
    def join(a, b):
        return np.concatenate([a, b])
    i, x = np.arange(3), np.linspace(0.0, 1.0, 2)
    for backend in ("python", "llvm"):
        got = adjoin.differentiable(join, backend=backend)(i, x)
        assert got.dtype == np.float64 and np.array_equal(got, join(i, x))
        assert adjoin.differentiable(join, backend=backend)(i, i).dtype == np.int64


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_squeezing_an_axis_longer_than_one_raises_value_error(backend):
    def sq(A):
        return np.squeeze(A, axis=0)
    with pytest.raises(ValueError):
        sq(np.ones((2, 3)))
    with pytest.raises(ValueError):
        adjoin.differentiable(sq, backend=backend)(np.ones((2, 3)))


def test_refusals_name_the_construct():
    def no_axis(A):
        return np.squeeze(A)

    def mixed(x, A):
        return np.concatenate([x, A])
    with pytest.raises(adjoin.CompileError, match="squeeze\\(\\) needs a constant axis"):
        adjoin.differentiable(no_axis)(np.ones((1, 3)))
    with pytest.raises(adjoin.CompileError, match="one number of dimensions"):
        adjoin.differentiable(mixed)(np.ones(3), np.ones((2, 3)))


def test_triangles_of_int_arrays_stay_int():
    def tri(M):
        return np.tril(M) + np.triu(M, 1) * 2
    M = np.arange(12).reshape(3, 4)
    for backend in ("python", "llvm"):
        got = adjoin.differentiable(tri, backend=backend)(M)
        assert got.dtype == np.int64 and np.array_equal(got, tri(M))


def test_rolls_match_numpy_at_any_shift():
    def roll(x, k):
        return np.roll(x, k)
    x = np.arange(5.0)
    for backend in ("python", "llvm"):
        f = adjoin.differentiable(roll, backend=backend)
        for k in (-7, -1, 0, 3, 5, 12):
            np.testing.assert_array_equal(f(x, k), roll(x, k))
        assert f(np.arange(0.0), 3).shape == (0,)


def identity_blend(n, a):
    return np.sum((np.eye(n) * a + np.identity(n)) ** 2 * np.arange(n * n).reshape(n, n))


@pytest.mark.parametrize("backend", BACKENDS)
def test_eye_and_identity_match_numpy_and_refuse_negative_sizes(backend):
    f = adjoin.differentiable(identity_blend, backend=backend)
    assert f(3, 1.5) == identity_blend(3, 1.5) and f(0, 1.5) == 0.0
    assert adjoin.grad(identity_blend, wrt=1, backend=backend)(3, 1.5) == pytest.approx(
        numeric_grad(identity_blend, (3, 1.5), (1,))[0], rel=1e-6)
    with pytest.raises(ValueError, match="negative dimensions"):
        f(-1, 1.5)
