"""Derivative edge cases: power at 0, positional reduction axes, element writes mixed
with whole-array reads in generated Python, zero tangents of tuple results, and errors
that leave no half-built state."""
import math

import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm"]


# -- x ** y at 0 (the conventions of docs/reverse-mode.md) -------------------------------


def np_power(x, y):
    return np.power(x, y)


def power_op(x, y):
    return x ** y


def power_arrays(x, y):
    return np.sum(np.power(x, y))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [np_power, power_op])
def test_power_derivatives_at_zero(fn, backend):
    grad = adjoin.grad(fn, wrt=(0, 1), backend=backend)
    # in y where x == 0: 0 (0 ** y is constant 0 for y > 0; no log(0))
    assert grad(0.0, 2.5) == (0.0, 0.0)
    assert grad(0.0, 1.0) == (1.0, 0.0)
    # in x where y == 0: 0 (x ** 0 is 1 for every x; no 0 * 0 ** -1)
    assert grad(0.0, 0.0) == (0.0, 0.0)
    assert grad(3.0, 0.0) == (0.0, math.log(3.0))
    assert adjoin.jvp(fn, (0.0, 2.5), (1.0, 1.0), backend=backend)[1] == 0.0
    assert adjoin.jvp(fn, (0.0, 0.0), (1.0, 1.0), backend=backend)[1] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_power_derivatives_at_zero_elementwise(backend):
    x, y = np.array([0.0, 0.0, 2.0, 1.5]), np.array([2.5, 0.0, 0.0, 1.7])
    gx, gy = adjoin.grad(power_arrays, wrt=(0, 1), backend=backend)(x, y)
    np.testing.assert_allclose(gx, [0.0, 0.0, 0.0, 1.7 * 1.5 ** 0.7], rtol=1e-14)
    np.testing.assert_allclose(gy, [0.0, 0.0, math.log(2.0), 1.5 ** 1.7 * math.log(1.5)],
                               rtol=1e-14)
    _, dot = adjoin.jvp(power_arrays, (x, y), (np.ones(4), np.ones(4)), backend=backend)
    assert dot == pytest.approx(np.sum(gx) + np.sum(gy), rel=1e-14)


def power_of_array_exponent(x, y):
    return np.sum(x ** y * 2.0 ** y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_power_with_an_array_exponent(backend):
    x, y = np.array([1.2, 0.7, 2.0]), np.array([0.5, 2.0, -1.5])
    got = adjoin.grad(power_of_array_exponent, wrt=(0, 1), backend=backend)(x, y)
    for g, w in zip(got, numeric_grad(power_of_array_exponent, [x, y], [0, 1])):
        np.testing.assert_allclose(g, w, rtol=1e-7)
    _, dot = adjoin.jvp(power_of_array_exponent, (x, y), (None, np.ones(3)), backend=backend)
    assert dot == pytest.approx(np.sum(got[1]), rel=1e-12)


# -- reductions with a positional axis -----------------------------------------------------


def positional_axes(x):
    return np.sum(np.sum(x, 1) ** 2) + np.sum(np.mean(x, 0) * np.max(x, 1)[0]) \
        + np.sum(np.min(x, -1)) + np.sum(np.amax(x, -2))


def method_axes(x):
    return np.sum(x.sum(1) ** 2) + np.sum(x.mean(0) * x.max(1)[0]) + np.sum(x.min(-1))


def axis_values(x):
    return np.sum(x, 1), np.mean(x, 0), np.max(x, 1), np.argmax(x, 0), np.any(x > 0.5, 1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [positional_axes, method_axes])
def test_positional_axes(fn, backend):
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert adjoin.differentiable(fn, backend=backend)(x) == pytest.approx(fn(x), rel=1e-14)
    g = adjoin.grad(fn, backend=backend)(x)
    np.testing.assert_allclose(g, numeric_grad(fn, [x], [0])[0], rtol=1e-6, atol=1e-8)
    v = np.random.default_rng(1).standard_normal((3, 4))
    _, dot = adjoin.jvp(fn, (x,), (v,), backend=backend)
    assert dot == pytest.approx(np.sum(g * v), rel=1e-12)


def test_positional_axes_values():
    x = np.random.default_rng(2).standard_normal((3, 4))
    for got, want in zip(adjoin.differentiable(axis_values)(x), axis_values(x)):
        np.testing.assert_array_equal(got, want)


# -- generated Python: an adjoint read after its dense copy ------------------------------


def element_and_sum(b):
    return 2.0 * (math.sin(b[0]) + np.sum(b))


def writes_then_sum(x, s):
    a = x * s
    a[2] = math.sin(a[1]) * s
    a[0] += a[2] * x[3]
    t = a[2] + np.sum(a)
    return 1.5 * (t + np.mean(a))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,args", [(element_and_sum, [np.array([0.3, 0.7, 1.1])]),
                                     (writes_then_sum, [np.array([0.3, 0.7, 1.1, 0.4]), 0.8])])
def test_element_adjoints_next_to_whole_array_adjoints(fn, args, backend):
    wrt = tuple(range(len(args)))
    got = adjoin.grad(fn, wrt=wrt, backend=backend)(*args)
    for g, w in zip(got, numeric_grad(fn, args, wrt)):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9)


# -- a failed derivative leaves nothing half-built behind -----------------------------------


def uses_gamma(x):
    return math.gamma(np.sum(x)) + np.sum(x)  # math.gamma has no derivative rule


def calls_gamma_helper(x):
    return uses_gamma(x * 2.0) + np.sum(x)


@pytest.mark.parametrize("order", [BACKENDS, BACKENDS[::-1]])
def test_not_differentiable_on_every_backend_and_every_call(order):
    x = np.array([1.0, 2.0, 3.0])
    for backend in order * 2:
        with pytest.raises(adjoin.NotDifferentiable, match="'gamma'"):
            adjoin.jvp(uses_gamma, (x,), (x,), backend=backend)
        for fn in (uses_gamma, calls_gamma_helper):
            with pytest.raises(adjoin.NotDifferentiable, match="'gamma'"):
                adjoin.grad(fn, backend=backend)(x)
            with pytest.raises(adjoin.NotDifferentiable, match="'gamma'"):
                adjoin.vjp(fn, x, backend=backend)
            with pytest.raises(adjoin.NotDifferentiable, match="'gamma'"):
                adjoin.hessian(fn, backend=backend)(x)


# -- zero tangents and adjoints of tuple values ------------------------------------------


def writes_and_returns_constants(x, a):
    a[0] = 1.0
    return 2.0, 0.5


def writes_and_returns_nested(x, a):
    a[0] = x
    return (2.0, 0.5), x * 3.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_tangent_of_a_tuple_result(backend):
    """A function that writes into an argument returns its result beside the written
    array: a result tuple with no tangent gets a tuple of zeros, not one zero."""
    out, dot = adjoin.jvp(writes_and_returns_constants, (1.0, np.zeros(2)),
                          (1.0, np.ones(2)), backend=backend)
    assert out == (2.0, 0.5) and dot == (0.0, 0.0)
    out, dot = adjoin.jvp(writes_and_returns_nested, (1.5, np.zeros(2)),
                          (1.0, np.ones(2)), backend=backend)
    assert out == ((2.0, 0.5), 4.5) and dot == ((0.0, 0.0), 3.0)
    g = adjoin.grad(lambda x, a: writes_and_returns_nested(x, a)[1], backend=backend)
    assert g(1.5, np.zeros(2)) == 3.0
