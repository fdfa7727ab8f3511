"""Element writes whose reverse skips clearing the overwritten adjoint (ad/first_writes.py).

Each function writes an array inside a loop; the analysis must find the writes that
no earlier write or origin can see (the adjoint is then passed on unchanged, without
a copy) and must leave every other write alone. Gradients of all of them are checked
against finite differences on both backends: a wrong "first write" shows up as a
non-zero gradient for an overwritten value or for a copied parameter.
"""
import numpy as np
import pytest

import adjoin
from adjoin.ad.first_writes import first_writes
from adjoin.api import signature_of, specialize
from adjoin.testing import numeric_grad


def shift_product(x, y):
    out = np.zeros(len(x))
    out[0] = x[0]
    for i in range(1, len(x)):
        out[i] = x[i] * y[i - 1]
    return np.sum(out * out)


def overwrites_before_loop(x, y):
    out = np.zeros(len(x))
    out[1] = x[0] * 3.0          # overwritten by the loop at i = 1
    for i in range(1, len(x)):
        out[i] = out[i] + x[i] * y[i]
    return np.sum(out * out)


def wraps_around(x, y):
    out = np.zeros(len(x))
    for i in range(-1, len(x)):
        out[i] = out[i] + x[i] * y[i]   # i = -1 and i = len(x) - 1 write the last element
    return np.sum(out * out)


def starts_from_parameter(x, y):
    out = y.copy()               # the overwritten elements of y get no gradient
    for i in range(2, len(x)):
        out[i] = x[i] * 2.0
    return np.sum(out * out)


def rewritten_in_inner_loop(x, y):
    out = np.zeros(len(x))
    for i in range(len(x)):
        for j in range(2):
            out[i] = out[i] * y[i] + x[j]
    return np.sum(out * out)


def two_writes_per_iteration(x, y):
    out = np.zeros(len(x) + 1)
    for i in range(len(x)):
        out[i] = x[i] * y[i]
        out[i + 1] = x[i] + y[i]   # overwritten at the next iteration
    return np.sum(out * out)


def matrix_rows(x, y):
    out = np.zeros((len(x), 2))
    for i in range(len(x)):
        out[i, 0] = x[i] * y[i]
        out[i, 1] = out[i, 0] + x[i]
    return np.sum(out * out)


CASES = [(shift_product, 1), (overwrites_before_loop, 0), (wraps_around, 0),
         (starts_from_parameter, 0), (rewritten_in_inner_loop, 0),
         (two_writes_per_iteration, 0), (matrix_rows, 0)]


def inputs():
    rng = np.random.default_rng(3)
    return rng.uniform(0.5, 1.5, 6), rng.uniform(-1.0, 1.0, 6)


@pytest.mark.parametrize("fn,expected", CASES, ids=[f.__name__ for f, _ in CASES])
def test_first_writes_found_only_where_nothing_sees_the_old_element(fn, expected):
    fir = specialize(fn, signature_of(fn, inputs()))
    assert len(first_writes(fir)) == expected


@pytest.mark.parametrize("backend", ["python", "llvm"])
@pytest.mark.parametrize("fn", [f for f, _ in CASES], ids=[f.__name__ for f, _ in CASES])
def test_gradients_of_loop_writes_match_finite_differences(fn, backend):
    args = inputs()
    got = adjoin.grad(fn, wrt=(0, 1), backend=backend)(*args)
    for g, w in zip(got, numeric_grad(fn, args, [0, 1])):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


def test_first_write_adjoint_is_passed_on_without_copy_or_clearing():
    src = adjoin.adjoint_source(shift_product, *inputs(), wrt=(0, 1))
    assert ".copy()" not in src and "= 0.0" not in src
