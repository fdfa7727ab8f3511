"""Functions as values: a function passed to a compiled function (a global, a NumPy
function, a closure reading the caller's variables, a straight-through estimator made in
the body) compiles by specializing the callee; global arrays are read at every call.
Primal against CPython, derivatives against finite differences, on every backend."""
import math

import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]
OFFSET = np.array([0.5, -0.25])


def rk4_step(f, y, h):
    k1 = f(y)
    k2 = f(y + 0.5 * h * k1)
    k3 = f(y + 0.5 * h * k2)
    k4 = f(y + h * k3)
    return y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def integrate(f, y, h, n):
    for _ in range(n):
        y = rk4_step(f, y, h)
    return y


def decay(y):
    return -0.5 * y


def with_global_rhs(y0):
    return np.sum(integrate(decay, y0, 0.1, 8))


def with_closure(y0, k, c):
    def rhs(y):
        return -k * y + c * np.sin(y)
    return np.sum(integrate(rhs, y0, 0.05, 10) ** 2)


def with_lambda(y0, k):
    return np.sum(integrate(lambda y: -k * y * y, y0, 0.1, 5))


def activation(x, W, act):
    return np.sum(act(x @ W))


def quantized(x, w):
    q = adjoin.straight_through(np.round)
    return np.sum(q(x * w) * x)


def applies_twice(x):
    def square(z):
        return z * z
    return twice(square, x)


def twice(g, x):
    return g(g(x))


def reads_global_array(x):
    shift = lambda z: z + OFFSET  # noqa: E731
    return np.sum(shift(x) ** 2) + np.sum(OFFSET * x)


Y0 = np.array([1.0, 0.5])
CASES = [
    (with_global_rhs, (Y0,), (0,)),
    (with_closure, (Y0, 0.7, 0.2), (0, 1, 2)),
    (with_lambda, (Y0, 0.3), (0, 1)),
    (quantized, (np.array([0.4, 1.6, -0.7]), 1.3), (1,)),
    (applies_twice, (1.5,), (0,)),
    (reads_global_array, (Y0,), (0,)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_values_and_gradients(fn, args, wrt, backend):
    f = adjoin.differentiable(fn, backend=backend)
    assert f(*args) == pytest.approx(fn(*args), rel=1e-12)
    got = adjoin.grad(f, wrt=wrt)(*args)
    if fn is quantized:  # straight through: d/dw sum(st(x w) x) = sum(x * x)
        assert got[0] == pytest.approx(np.sum(args[0] ** 2))
        return
    for g, want in zip(got, numeric_grad(fn, args, wrt)):
        np.testing.assert_allclose(np.asarray(g, dtype=float), want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_function_from_python(backend):
    x, W = np.array([0.3, -0.2]), np.array([[1.0, 2.0], [0.5, -1.0]])
    f = adjoin.differentiable(activation, backend=backend)
    for act in (np.tanh, np.sin):
        assert f(x, W, act) == pytest.approx(activation(x, W, act), rel=1e-12)
        (gW,) = adjoin.grad(f, wrt=(1,))(x, W, act)
        np.testing.assert_allclose(gW, numeric_grad(activation, (x, W, act), (1,))[0],
                                   rtol=1e-6)
    with pytest.raises(TypeError, match="'act': it is a function"):
        adjoin.grad(f, wrt="act")(x, W, np.tanh)


def test_higher_order_through_a_closure():
    def g(k):
        return with_closure(Y0, k, 0.2)
    h = adjoin.hessian(with_closure, wrt=1)(Y0, 0.7, 0.2)
    eps = 1e-4
    want = (numeric_grad(g, (0.7 + eps,), (0,))[0] - numeric_grad(g, (0.7 - eps,), (0,))[0]) \
        / (2 * eps)
    assert float(h) == pytest.approx(float(want), rel=1e-4)
    _, tangent = adjoin.jvp(with_closure, (Y0, 0.7, 0.2), (None, 1.0, 0.0))
    assert tangent == pytest.approx(adjoin.grad(with_closure, wrt=1)(Y0, 0.7, 0.2))


def test_a_rebound_global_array_is_seen():
    global OFFSET
    f = adjoin.differentiable(reads_global_array)
    saved = OFFSET
    try:
        assert f(Y0) == pytest.approx(reads_global_array(Y0))
        OFFSET = np.array([2.0, 3.0])
        assert f(Y0) == pytest.approx(reads_global_array(Y0))
        OFFSET[0] = -1.0
        assert f(Y0) == pytest.approx(reads_global_array(Y0))
    finally:
        OFFSET = saved


def global_array_in_callee(x):
    return helper_reading_offset(x)


def helper_reading_offset(x):
    return np.sum(OFFSET * x)


def returns_function(x):
    return decay


def chooses_function(x, flag):
    g = decay if flag else math.sin
    return g(x)


@pytest.mark.parametrize("fn, args, match", [
    (global_array_in_callee, (Y0,), "the global array 'OFFSET' is read in a function adjoin "
                                    "compiles as a callee"),
    (returns_function, (1.0,), "'decay' can only be called"),
    (chooses_function, (1.0, True), "'g' is a function on one branch only|can only be called"),
])
def test_refusals_point_at_the_line(fn, args, match):
    with pytest.raises(adjoin.CompileError, match=match) as e:
        adjoin.differentiable(fn)(*args)
    assert e.value.loc.file == __file__


T = np.array([[1.0, 2.0], [3.0, 4.0]])  # a global named like the attribute `.T`


def transposes(T, v):
    return np.sum(T.T @ v) + np.sum(T * T)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_global_named_like_an_attribute_or_parameter_is_not_read(backend):
    A, v = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([1.0, 3.0])
    f = adjoin.differentiable(transposes, backend=backend)
    assert f(A, v) == pytest.approx(transposes(A, v))
    got = adjoin.grad(f)(A, v)
    np.testing.assert_allclose(got, numeric_grad(transposes, (A, v), (0,))[0], rtol=1e-6)


def decays_with_params(p, y0):
    decay = lambda y: -p["k"] * y + p["c"][0]  # noqa: E731
    return integrate(decay, y0, 0.1, 4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_closure_passed_on_reads_structures(backend):
    p = {"k": 0.5, "c": [0.25]}
    f = adjoin.differentiable(decays_with_params, backend=backend)
    assert f(p, 1.0) == pytest.approx(decays_with_params(p, 1.0), rel=1e-12)
    g = adjoin.grad(f)(p, 1.0)
    eps = 1e-6
    for key, bump in (("k", lambda q, e: {"k": q["k"] + e, "c": q["c"]}),
                      ("c", lambda q, e: {"k": q["k"], "c": [q["c"][0] + e]})):
        want = (decays_with_params(bump(p, eps), 1.0)
                - decays_with_params(bump(p, -eps), 1.0)) / (2 * eps)
        got = g[key] if key == "k" else g[key][0]
        assert got == pytest.approx(want, rel=1e-6)
