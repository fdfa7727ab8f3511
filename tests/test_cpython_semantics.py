"""Python scalars and NumPy scalars: every backend returns CPython's value or raises
CPython's exception type; ops that may raise are never removed; gradients raise exactly
where the primal raises and nowhere else (derivative code follows IEEE)."""
import math
import warnings

import numpy as np
import pytest

import adjoin
import adjoin.runtime.pyops as rt
from adjoin.ir import parse_module, print_module
from adjoin.testing import numeric_grad

import cpython_semantics_fns as f

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
BACKENDS = ["python", "llvm"]
F32 = np.full(3, 1.1, dtype=np.float32)

CASES = [
    (f.divide, (1.0, 0.0)), (f.divide, (1, 0)), (f.divide, (np.float64(1.0), 0.0)),
    (f.divide, (7.0, 2.0)), (f.floor_divide, (1.0, 0.0)), (f.floor_divide, (-5.0, math.inf)),
    (f.modulo, (1.0, 0.0)), (f.modulo, (-1.0, math.inf)), (f.modulo, (np.float64(1.0), 0.0)),
    (f.raised, (0.0, -1.0)), (f.raised, (10.0, 400.0)), (f.raised, (2.0, 0.5)),
    (f.raised, (np.float64(0.0), -1.0)), (f.math_pow, (0.0, -1.0)), (f.math_pow, (-8.0, 0.5)),
    (f.math_pow, (10.0, 400.0)), (f.math_pow, (2.0, 0.5)),
    (f.element_divide, (np.array([1.0]), 0.0)), (f.element_modulo, (np.array([1.0]), 0.0)),
    (f.element_power, (np.array([0.0]), -1.0)), (f.element_power, (np.array([-8.0]), 1 / 3)),
    (f.python_float_of_element, (np.array([1.0]), 0.0)),
    (f.int_of, (math.nan,)), (f.int_of, (math.inf,)), (f.int_of, (-2.7,)),
    (f.floor_of, (math.inf,)), (f.floor_of, (math.nan,)), (f.floor_of, (-2.5,)),
    (f.round_of, (math.nan,)), (f.round_of, (-math.inf,)), (f.round_of, (2.5,)),
    (f.store_into_int_array, (math.nan,)), (f.store_into_int_array, (math.inf,)),
    (f.store_into_int_array, (2.7,)),
    (f.math_sqrt, (-1.0,)), (f.numpy_sqrt, (-1.0,)), (f.math_log, (0.0,)),
    (f.numpy_log, (0.0,)), (f.math_exp, (1000.0,)), (f.numpy_exp, (1000.0,)),
    (f.math_cos_unused, (math.inf, 2.0)), (f.math_cos_unused, (1.0, 2.0)),
    (f.division_unused, (1.0, 0.0)),
    (f.write_then_read, (0, 1.0)), (f.write_then_read, (-5, 1.0)),
    (f.write_then_read, (3, 1.0)), (f.length_of_zeros, (-5,)), (f.length_of_zeros, (4,)),
    (f.unused_zeros, (-1, 1.0)), (f.dot, (np.ones(3), np.ones(4))),
    (f.big_int_times, (1.5,)), (f.big_int_expression, (3.0,)),
    (f.accumulate, (np.full(100000, 1.0095834, dtype=np.float32),)),
    (f.weak_float, (F32,)), (f.int_and_float32, (F32, 3)),
    (f.int_floor_divide, (7, 0)), (f.int_floor_divide, (7, -2)),
    (f.builtin_min_max, (1.0, math.nan)), (f.builtin_min_max, (math.nan, 1.0)),
    (f.builtin_min_max, (0.0, -0.0)), (f.numpy_min_max, (1.0, math.nan)),
    (f.numpy_min_max, (math.nan, 1.0)), (f.numpy_min_max, (0.0, -0.0)),
    (f.numpy_min_max, (np.array([1.0, math.nan, 0.0]), np.array([math.nan, 1.0, -0.0]))),
    (f.min_max_of_array, (np.array([1.0, math.nan, 3.0]),)),
    (f.min_max_of_array, (np.array([math.nan, 1.0]),)), (f.min_max_of_array, (np.zeros(0),)),
]


def _outcome(run):
    try:
        return "value", run()
    except Exception as e:  # the exception is the outcome being compared
        return "raises", e


def _args(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _same_value(got, want):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same_value(g, w)
        return
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))  # -0.0 is not 0.0


def _same_outcome(got, want):
    if want[0] == "raises":
        assert got[0] == "raises", f"CPython raises {want[1]!r}, adjoin returns {got[1]!r}"
        assert type(got[1]) is type(want[1]), (got[1], want[1])
    else:
        assert got[0] == "value", f"CPython returns {want[1]!r}, adjoin raises {got[1]!r}"
        _same_value(got[1], want[1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,args", CASES, ids=[f"{c[0].__name__}{i}" for i, c in
                                                  enumerate(CASES)])
def test_value_or_exception_is_cpythons(fn, args, backend):
    want = _outcome(lambda: fn(*_args(args)))
    got = _outcome(lambda: adjoin.differentiable(fn, backend=backend)(*_args(args)))
    _same_outcome(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_complex_power_of_python_floats_is_a_value_error(backend):
    """CPython returns a complex number, which adjoin cannot represent: the one
    deliberate difference, an exception instead of a wrong value."""
    assert isinstance(f.raised(-8.0, 1 / 3), complex)
    with pytest.raises(ValueError):
        adjoin.differentiable(f.raised, backend=backend)(-8.0, 1 / 3)


def test_float32_accumulation_is_float32():
    x = np.full(100000, 1.0095834, dtype=np.float32)
    got = adjoin.differentiable(f.accumulate)(x)
    assert type(got) is np.float32 and got == f.accumulate(x)


# -- gradients raise where the primal raises ------------------------------------------

RAISING = [
    ("grad", f.math_log, (-1.0,), 0), ("grad", f.modulo, (1.0, 0.0), 0),
    ("grad", f.unused_zeros, (-5, 1.0), 1), ("grad", f.dot, (np.ones(3), np.ones(4)), (0, 1)),
    ("grad", f.math_cos_unused, (math.inf, 2.0), 1), ("grad", f.calls_helper, (-1.0,), 0),
    ("grad", f.division_unused, (1.0, 0.0), 0), ("grad", f.write_then_read, (0, 1.0), 1),
    ("jvp", f.calls_helper, (-1.0,), 0), ("jvp", f.math_cos_unused, (math.inf, 2.0), 1),
    ("hessian", f.math_log, (-1.0,), 0), ("vjp", f.calls_helper, (-1.0,), 0),
]


def _derivative(kind, fn, args, wrt, backend):
    if kind == "grad":
        return adjoin.grad(fn, wrt=wrt, backend=backend)(*args)
    if kind == "hessian":
        return adjoin.hessian(fn, backend=backend)(*args)
    if kind == "vjp":
        return adjoin.vjp(fn, *args, backend=backend)[1](1.0)
    tangents = tuple(1.0 if i == wrt else None for i in range(len(args)))
    return adjoin.jvp(fn, args, tangents, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind,fn,args,wrt", RAISING,
                         ids=[f"{c[0]}-{c[1].__name__}" for c in RAISING])
def test_derivatives_raise_where_the_primal_raises(kind, fn, args, wrt, backend):
    with pytest.raises(Exception) as want:
        fn(*_args(args))
    with pytest.raises(type(want.value)):
        _derivative(kind, fn, _args(args), wrt, backend)


IEEE = [(f.math_sqrt, (0.0,)), (f.half_power, (0.0,)), (f.power_zero, (0.0,)),
        (f.zero_power, (2.0,)), (f.element_divide, (np.array([1.0]), 0.0)),
        (f.numpy_log, (0.0,)), (f.numpy_sqrt, (-1.0,))]


@pytest.mark.parametrize("fn,args", IEEE, ids=[c[0].__name__ for c in IEEE])
def test_derivative_code_follows_ieee_and_never_raises(fn, args):
    """Where the primal does not raise, neither does its derivative: the Python backend's
    derivative code gives the llvm backend's IEEE values (inf, nan), forward and reverse."""
    got = adjoin.grad(fn)(*args)
    want = adjoin.grad(fn, backend="llvm")(*args)
    np.testing.assert_array_equal(got, want)
    dots = (1.0,) + (None,) * (len(args) - 1) if not isinstance(args[0], np.ndarray) \
        else (np.ones_like(args[0]), None)
    np.testing.assert_array_equal(adjoin.jvp(fn, args, dots)[1],
                                  adjoin.jvp(fn, args, dots, backend="llvm")[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_of_numpy_scalar_arithmetic(backend):
    args = [np.array([0.5, -1.5, 2.0]), 0.7]
    got = adjoin.grad(f.scaled_sum, wrt=(0, 1), backend=backend)(*args)
    want = numeric_grad(f.scaled_sum, args, [0, 1])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9)


# -- the IR: `checked`, kinds, ops kept for their exceptions ------------------------------


def test_checked_marks_python_scalar_ops_only():
    assert "div %x, %y {checked = true} : f64" in adjoin.ir(f.divide, 1.0, 2.0)
    assert "div %x, %y : f64" in adjoin.ir(f.divide, np.float64(1.0), 2.0)
    assert "div %1, %y : f64" in adjoin.ir(f.element_divide, np.ones(2), 2.0)
    assert "sqrt %x {checked = true}" in adjoin.ir(f.math_sqrt, 2.0)
    assert "checked" not in adjoin.ir(f.numpy_sqrt, 2.0)
    assert "convert %x {to = i64, checked = true} : i64" in adjoin.ir(f.int_of, 2.0)
    text = adjoin.ir(f.int_floor_divide, 7, 2)
    assert "floordiv %a, %b {checked = true} : i64" in text
    assert "mod %a, %b {checked = true} : i64" in text


def test_python_float_of_a_numpy_scalar_is_kept():
    """float(a[0]) makes a Python float, whose division raises: the conversion stays."""
    text = adjoin.ir(f.python_float_of_element, np.ones(2), 2.0)
    assert "convert %1 {to = f64, checked = true} : f64" in text
    assert "div %2, %y {checked = true}" in text


def test_checked_round_trips_through_the_text():
    text = adjoin.ir(f.int_floor_divide, 7, 2) + "\n\n" + adjoin.ir(f.int_of, 2.0)
    assert print_module(parse_module(text)) == text


def test_float32_promotion_follows_nep50():
    text = adjoin.ir(f.weak_float, F32)
    assert "add %3, %2 : f32" in text and "add %x, %6 : array<f32, 1>" in text
    assert "convert %x {to = f64} : array<f64, 1>" in text  # np.float64 is not weak


def test_ops_that_may_raise_are_kept():
    assert "cos %x {checked = true}" in adjoin.ir(f.math_cos_unused, 1.0, 2.0)
    text = adjoin.ir(f.write_then_read, 3, 1.0)
    assert "zeros %n" in text and "setitem" in text
    assert "np.dot(x, y)" in adjoin.adjoint_source(f.dot, np.ones(3), np.ones(3), wrt=(0, 1))


def test_ops_proven_not_to_raise_are_removed():
    """Constant sizes, nonzero constant divisors, constant arguments, indices bounded by
    the loop: nothing can raise, so nothing unused is kept."""
    text = adjoin.ir(f.never_raise, 1.0)
    assert text.count("\n") == 2, text
    assert "getitem" in adjoin.ir(f.read_past_the_end, np.ones(2))


def test_huge_integer_constant_meeting_a_float_is_exact():
    text = adjoin.ir(f.big_int_times, 1.5)
    assert "const 1.1805916207174113e+21 : f64" in text


# -- the Python backend's raise-free helpers ----------------------------------------------

EDGES = [0.0, -0.0, 1.0, -1.5, 2.0, math.inf, -math.inf, math.nan, 1e308]


@pytest.mark.parametrize("name,ufunc", [("div", np.true_divide), ("floordiv", np.floor_divide),
                                        ("mod", np.remainder), ("pow", np.power)])
def test_unchecked_binary_helpers_give_numpy_results(name, ufunc):
    for a in EDGES:
        for b in EDGES:
            with np.errstate(all="ignore"):
                want = ufunc(np.float64(a), np.float64(b))
            np.testing.assert_array_equal(getattr(rt, name)(a, b), want, err_msg=f"{a}, {b}")


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "asin", "acos", "sinh", "cosh", "acosh",
                                  "atanh", "exp", "exp2", "expm1", "log", "log2", "log10",
                                  "log1p", "sqrt", "floor", "ceil", "trunc"])
def test_unchecked_math_helpers_give_numpy_results(name):
    ufunc = getattr(np, {"asin": "arcsin", "acos": "arccos", "acosh": "arccosh",
                         "atanh": "arctanh"}.get(name, name))
    for x in EDGES + [-1.0, 0.5, 710.0]:
        with np.errstate(all="ignore"):
            want = ufunc(np.float64(x))
        np.testing.assert_allclose(getattr(rt, name)(x), want, rtol=1e-15, err_msg=str(x))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type(getattr(rt, name)(np.float32(0.5))) is np.float32


def test_checked_power_raises_value_error_for_complex_results():
    assert rt.pow_real(-8.0, 2.0) == 64.0
    with pytest.raises(ValueError, match="complex"):
        rt.pow_real(-8.0, 1 / 3)


def compares_float32(a, y, k):
    s = a[0]
    m = a > y
    b = a.copy()
    b[m] = 0.0
    return (m, a <= y, s == y, s > y, a > k, k <= a, np.sum(np.where(a >= y, 1.0, 0.0)), b)


@pytest.mark.parametrize("backend", ["python", "llvm", "torch"])
def test_float32_compared_with_python_numbers_is_compared_in_float32(backend):
    """NEP 50: a Python float or int meeting float32 is cast to float32 first, so
    y = float32(y) compares equal (a float64 comparison would say greater)."""
    y = -1.122783830473213
    a = np.array([np.float32(y), 1.0, 16777216.0], np.float32)
    got = adjoin.differentiable(compares_float32, backend=backend)(a, y, 16777217)
    want = compares_float32(a, y, 16777217)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))
