"""NumPy shape idioms: `keepdims=` on reductions, `np.expand_dims`, `None` / `np.newaxis` in
indexing. Each on every backend: the primal against NumPy, the gradient against finite
differences, forward against reverse mode, and a Hessian."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]


def softmax_xent(W, b, X, Y):
    z = X @ W + b[np.newaxis, :]
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return -np.sum(Y * np.log(p)) / X.shape[0]


def new_axes(x, v):
    a = x[:, None] * v[None, :]
    b = x[np.newaxis, :, np.newaxis]
    c = np.expand_dims(v, -1) + x[0, None]
    d = np.expand_dims(x, axis=0)
    return np.sum(a * a) + np.sum(b * b * b) + np.sum(np.sin(c)) + np.sum(d[0, 1:])


def keepdims_everywhere(A, s):
    m = A.mean(axis=0, keepdims=True)
    centered = A - m
    scale = np.sqrt(np.sum(centered * centered, axis=1, keepdims=True) + 1.0)
    top = np.max(A, axis=-1, keepdims=True) + np.min(A, 0, keepdims=True)
    whole = np.sum(A * s, keepdims=True)
    return np.sum(centered / scale * top) + whole[0, 0] + A.mean(axis=1, keepdims=True)[1, 0]


def element_newaxis(A):
    return np.sum(A[1, 2, None] * A[:, 0][:, None])


RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 4))
CASES = [
    (softmax_xent, (0.3 * RNG.standard_normal((4, 3)), RNG.standard_normal(3), X,
                    np.eye(3)[[0, 2, 1, 1, 0, 2]]), (0, 1)),
    (new_axes, (RNG.standard_normal(3), RNG.standard_normal(4)), (0, 1)),
    (keepdims_everywhere, (RNG.standard_normal((3, 5)), 0.7), (0, 1)),
    (element_newaxis, (RNG.standard_normal((3, 4)),), (0,)),
]


def copies(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_primal_and_gradient(fn, args, wrt, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    f = adjoin.differentiable(fn, backend=backend)
    assert float(f(*copies(args))) == pytest.approx(fn(*copies(args)), rel=1e-12, abs=1e-12)
    got = adjoin.grad(f, wrt=wrt)(*copies(args))
    want = numeric_grad(fn, copies(args), wrt)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, dtype=float), w, rtol=1e-6, atol=1e-7)
    # forward mode along a random direction agrees with reverse mode
    rng = np.random.default_rng(1)
    tangents = [rng.standard_normal(np.shape(a)) if i in wrt else None
                for i, a in enumerate(args)]
    tangents = [float(t) if t is not None and np.ndim(t) == 0 else t for t in tangents]
    _, dot = adjoin.jvp(f, copies(args), tangents)
    expected = sum(float(np.sum(np.asarray(g, dtype=float) * tangents[i]))
                   for g, i in zip(got, wrt))
    assert float(dot) == pytest.approx(expected, rel=1e-9, abs=1e-10)


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_hessian_through_keepdims_and_newaxis(backend):
    def f(x):
        e = np.exp(x[:, None] - np.max(x, keepdims=True)[None, :])
        return np.sum(np.log(np.sum(e, axis=0, keepdims=True)))
    x = np.array([0.3, -1.2, 0.8])
    h = adjoin.hessian(f, backend=backend)(x)
    g = adjoin.grad(f)
    fd = np.stack([(g(x + 1e-5 * e) - g(x - 1e-5 * e)) / 2e-5 for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(h, fd, rtol=1e-5, atol=1e-7)


def test_bad_axes_and_keepdims_are_compile_errors():
    def bad_axis(x):
        return np.expand_dims(x, 3)

    def bad_keep(x, k):
        return np.sum(x, keepdims=k)
    with pytest.raises(adjoin.CompileError, match="axis 3 is out of bounds"):
        adjoin.differentiable(bad_axis)(np.ones(2))
    with pytest.raises(adjoin.CompileError, match="keepdims must be a constant"):
        adjoin.differentiable(bad_keep)(np.ones(2), np.ones(1))


def test_writes_through_a_new_axis_are_refused_clearly():
    def write(x):
        x[:, None] = 1.0
        return x
    with pytest.raises(adjoin.CompileError, match="newaxis"):
        adjoin.differentiable(write)(np.ones(2))
