"""np.prod's derivative: the product of the other elements, exact at zeros (one, two or
more of them), with an axis and keepdims, on every backend; Hessians exact at zeros too."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]


def products(A, x):
    return (np.sum(np.prod(A, axis=1) * 2.0) + np.prod(x)
            + np.sum(A.prod(axis=0, keepdims=True) ** 2))


def whole(x):
    return np.prod(x)


A0 = np.array([[0.5, -1.5, 2.0, 0.8], [1.2, 0.9, -0.7, 1.1], [-0.4, 1.3, 0.6, -2.0]])
X0 = np.array([0.7, -1.3, 1.5, 2.0])


def with_zeros(a, where):
    a = a.copy()
    for k in where:
        a[k] = 0.0
    return a


POINTS = [(A0, X0), (with_zeros(A0, [(0, 1)]), with_zeros(X0, [2])),
          (with_zeros(A0, [(0, 1), (0, 3), (2, 0)]), with_zeros(X0, [0, 2])),
          (with_zeros(A0, [(0, 0), (1, 0), (2, 0)]), with_zeros(X0, [0, 1, 3]))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("k", range(len(POINTS)))
def test_gradient_at_zeros(k, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    A, x = POINTS[k]
    got = adjoin.grad(products, wrt=(0, 1), backend=backend)(A, x)
    for g, w in zip(got, numeric_grad(products, (A, x), (0, 1))):
        np.testing.assert_allclose(np.asarray(g, dtype=float), w, rtol=1e-7, atol=1e-8)
    _, dot = adjoin.jvp(products, (A, x), (np.ones_like(A), np.ones_like(x)), backend=backend)
    assert float(dot) == pytest.approx(float(np.sum(got[0]) + np.sum(got[1])), rel=1e-12,
                                       abs=1e-12)


@pytest.mark.parametrize("backend", ["python", "llvm"])
@pytest.mark.parametrize("zeros", [[], [2], [0, 2], [0, 1, 3]])
def test_hessian_at_zeros(zeros, backend):
    x = with_zeros(X0, zeros)
    h = adjoin.hessian(whole, backend=backend)(x)
    want = np.array([[0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(4)]
                     for i in range(4)])
    np.testing.assert_allclose(h, want, rtol=1e-12, atol=1e-15)
