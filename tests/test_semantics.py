"""Regression tests: results and gradients that must match CPython and NumPy exactly,
including shapes and dtypes."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad


def sum_of_product(a, b):
    return np.sum(a * b)


def mixed_sum(a, b):
    return np.sum(np.sin(a) + b * a)


@pytest.mark.parametrize("a,b", [
    (np.ones((2, 3)), np.arange(3.0)),
    (np.arange(3.0), np.array([2.0])),
    (np.full((2, 3), 0.5), np.full((2, 1), 3.0)),
    (np.ones(3), 2.0),
])
@pytest.mark.parametrize("fn", [sum_of_product, mixed_sum])
def test_broadcast_gradients_have_the_arguments_shapes(fn, a, b):
    got = adjoin.grad(fn, wrt=(0, 1))(a, b)
    want = numeric_grad(fn, [a, b], [0, 1])
    for g, w in zip(got, want):
        assert np.shape(g) == np.shape(w)
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


def vdot_inner(a, b):
    return np.vdot(a, b), np.inner(a, b), np.inner(a[0], b)


def ravel_is_a_view(x):
    a = x.copy()
    v = a.ravel()
    v[0] = 5.0
    return a[0]


def full_dtype(n):
    return np.full(n, 2, dtype=np.float64), np.full(n, 2), np.zeros(n, dtype="int64"), \
        np.ones(n, np.float32)


def float32_literal(x):
    return x * 2.0 + 1.0


def reversed_loops(x, n):
    s = 0.0
    for i in reversed(range(n)):
        s = s * x + i
    t = 0.0
    for j in reversed(range(1, n, 2)):
        if t > 10.0:
            break
        t = t * x + j
    return s, t


def optional_argument(x, y=None):
    if y is None:
        return x * 2.0
    return x + y


def any_all(x):
    return np.any(x > 1.0), np.all(x > 0.0), np.any(x)


CASES = [
    (vdot_inner, (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.0, 1.0], [2.0, 3.0]]))),
    (full_dtype, (3,)),
    (float32_literal, (np.ones(3, dtype=np.float32),)),
    (float32_literal, (np.float32(1.5),)),
    (reversed_loops, (1.5, 7)),
    (reversed_loops, (0.5, 0)),
    (optional_argument, (3.0,)),
    (optional_argument, (3.0, 1.0)),
    (any_all, (np.array([0.5, 2.0]),)),
    (any_all, (np.array([0.5, 0.0]),)),
]


def _same(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    assert np.asarray(got).dtype == np.asarray(want).dtype, (got, want)
    assert np.shape(got) == np.shape(want)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fn,args", CASES, ids=[f"{c[0].__name__}{i}" for i, c in
                                                  enumerate(CASES)])
def test_matches_cpython_values_dtypes_and_shapes(fn, args):
    _same(adjoin.differentiable(fn)(*args), fn(*args))


def test_writing_through_a_ravel_view_is_refused():
    """ravel returns a view, so the write would change `a`: refused, never silently copied."""
    with pytest.raises(adjoin.CompileError, match="share memory"):
        adjoin.differentiable(ravel_is_a_view)(np.ones((2, 2)))


def test_reversed_range_gradient():
    got = adjoin.grad(lambda x: reversed_loops(x, 6)[0])(1.3)
    want = numeric_grad(lambda x: reversed_loops(x, 6)[0], [1.3], [0])[0]
    assert abs(got - want) < 1e-6
