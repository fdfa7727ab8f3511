"""Callees accumulating into their caller's adjoint (backends/llvm/accumulate_into.py).

The ode pattern (a right-hand side called four times a step, its x adjoint added
into the caller's) must give the Python backend's gradients and finite differences'
on every backend and mode, and must use the accumulating copy of the callee on llvm;
hand-written IR checks the cases that must keep the fresh zeroed adjoint: a callee
that reads what it accumulated, a caller that reads its accumulator between the call
and the addition, an accumulator of another shape (broadcast), one passed to the call.
"""
import re

import numpy as np
import pytest

import adjoin
from adjoin.backends.llvm import compile_entries
from adjoin.ir import parse_module
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]


def rhs(x, y):
    out = np.zeros(len(x))
    out[0] = x[0]
    for i in range(1, len(x)):
        out[i] = x[i] * y[i - 1]
    return out


def integrate(x, s):
    h = 2.0 / s
    y = np.zeros(len(x))
    for _ in range(s):
        k1 = rhs(x, y)
        k2 = rhs(x, y + h / 2 * k1)
        k3 = rhs(x, y + h / 2 * k2)
        k4 = rhs(x, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return np.sum(y)


def nested(x, y):
    r = rhs(x, y)
    return np.sum(r * r) + np.sum(rhs(x, r) * x)


CASES = [(integrate, (np.linspace(0.2, 0.9, 6), 3), (0,)),
         (nested, (np.linspace(0.2, 0.9, 5), np.linspace(-1.0, 1.0, 5)), (0, 1))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_values_and_derivatives(fn, args, wrt, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    f = adjoin.differentiable(fn, backend=backend)
    assert float(f(*args)) == pytest.approx(fn(*args), rel=1e-12)
    grads = adjoin.grad(f, wrt=wrt)(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for g, fd in zip(grads, numeric_grad(fn, args, wrt)):
        np.testing.assert_allclose(np.asarray(g, dtype=float), fd, rtol=1e-6, atol=1e-8)
    reference = adjoin.grad(fn, wrt=wrt)(*args)
    reference = reference if isinstance(reference, tuple) else (reference,)
    for g, r in zip(grads, reference):
        np.testing.assert_allclose(np.asarray(g, dtype=float), r, rtol=1e-12, atol=1e-14)
    tangents = [np.full(a.shape, 0.3) if i in wrt else None for i, a in enumerate(args)]
    _, t = adjoin.jvp(f, args, tangents)
    assert float(t) == pytest.approx(sum(float(np.sum(np.asarray(g, dtype=float) * 0.3))
                                         for g in grads), rel=1e-9)
    h = np.asarray(adjoin.hessian(f, wrt=0)(*args), dtype=float)
    g0 = adjoin.grad(fn, wrt=0)
    for k in range(args[0].size):
        e = np.zeros(args[0].size)
        e[k] = 1e-6
        row = (g0(args[0] + e, *args[1:]) - g0(args[0] - e, *args[1:])) / 2e-6
        np.testing.assert_allclose(h[k], row, rtol=1e-5, atol=1e-6)


def test_the_llvm_gradient_accumulates_into_the_caller():
    text = adjoin.llvm_ir(integrate, np.ones(4), 2, wrt=0, optimized=False)
    # the symbol may carry a suffix when an earlier test compiled another `rhs`
    assert re.search(r"rhs\w*_bwd\w*\.into\.0", text), text[:2000]


# -- where the fresh zeroed adjoint must stay (hand-written IR) ------------------------

CALLEES = """
func @adds(%p: array<f64, 1>, %v: f64) -> array<f64, 1> {
  %z = zeros_like %p : array<f64, 1>
  %0 = const 0 : i64
  %z1 = addat %z[%0], %v : array<f64, 1>
  return %z1
}

func @adds_then_reads_p(%p: array<f64, 1>, %v: f64) -> array<f64, 1> {
  %z = zeros_like %p : array<f64, 1>
  %0 = const 0 : i64
  %1 = const 1 : i64
  %z1 = addat %z[%0], %v : array<f64, 1>
  %s = getitem %p[%0] : f64
  %z2 = addat %z1[%1], %s : array<f64, 1>
  return %z2
}

func @reads(%p: array<f64, 1>, %v: f64) -> tuple<array<f64, 1>, f64> {
  %z = zeros_like %p : array<f64, 1>
  %0 = const 0 : i64
  %z1 = addat %z[%0], %v : array<f64, 1>
  %s = getitem %z1[%0] : f64
  %t = tuple %z1, %s : tuple<array<f64, 1>, f64>
  return %t
}
"""

CALLERS = CALLEES + """
func @plain(%A: array<f64, 1>) -> array<f64, 1> {
  %acc = copy %A : array<f64, 1>
  %v = const 2.5 : f64
  %e = call @adds(%A, %v) : array<f64, 1>
  %acc2 = addat %acc[:], %e : array<f64, 1>
  return %acc2
}

func @broadcast(%A: array<f64, 1>, %p: array<f64, 1>) -> array<f64, 1> {
  %acc = copy %A : array<f64, 1>
  %v = const 2.5 : f64
  %e = call @adds(%p, %v) : array<f64, 1>
  %acc2 = addat %acc[:], %e : array<f64, 1>
  return %acc2
}

func @callee_reads(%A: array<f64, 1>, %p: array<f64, 1>) -> tuple<array<f64, 1>, f64> {
  %acc = copy %A : array<f64, 1>
  %v = const 2.5 : f64
  %c = call @reads(%p, %v) : tuple<array<f64, 1>, f64>
  %e = tuple_get %c {index = 0} : array<f64, 1>
  %s = tuple_get %c {index = 1} : f64
  %acc2 = addat %acc[:], %e : array<f64, 1>
  %t = tuple %acc2, %s : tuple<array<f64, 1>, f64>
  return %t
}

func @caller_reads(%A: array<f64, 1>, %p: array<f64, 1>) -> tuple<array<f64, 1>, f64> {
  %acc = copy %A : array<f64, 1>
  %v = const 2.5 : f64
  %e = call @adds(%p, %v) : array<f64, 1>
  %0 = const 0 : i64
  %r = getitem %acc[%0] : f64
  %acc2 = addat %acc[:], %e : array<f64, 1>
  %t = tuple %acc2, %r : tuple<array<f64, 1>, f64>
  return %t
}

func @passed(%A: array<f64, 1>) -> array<f64, 1> {
  %acc = copy %A : array<f64, 1>
  %v = const 2.5 : f64
  %e = call @adds_then_reads_p(%acc, %v) : array<f64, 1>
  %acc2 = addat %acc[:], %e : array<f64, 1>
  return %acc2
}
"""

NAMES = ["plain", "broadcast", "callee_reads", "caller_reads", "passed"]


@pytest.fixture(scope="module")
def natives():
    return dict(zip(NAMES, compile_entries(parse_module(CALLERS), NAMES)))


def test_accumulation_into_the_caller_keeps_values(natives):
    A = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(natives["plain"](A), [3.5, 2.0, 3.0])
    np.testing.assert_array_equal(natives["broadcast"](A, np.zeros(3)), [3.5, 2.0, 3.0])
    np.testing.assert_array_equal(natives["passed"](A), [3.5, 3.0, 3.0])
    np.testing.assert_array_equal(A, [1.0, 2.0, 3.0])  # the argument is the caller's


def test_reads_of_the_accumulators_see_the_unaccumulated_values(natives):
    A = np.array([1.0, 2.0, 3.0])
    acc, s = natives["callee_reads"](A, np.zeros(3))
    np.testing.assert_array_equal(acc, [3.5, 2.0, 3.0])
    assert s == 2.5  # the callee's own sum, not the caller's accumulator
    acc, r = natives["caller_reads"](A, np.zeros(3))
    np.testing.assert_array_equal(acc, [3.5, 2.0, 3.0])
    assert r == 1.0  # read before the addition


def test_a_broadcast_adjoint_is_added_as_numpy_does(natives):
    A = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(natives["broadcast"](A, np.zeros(1)), [3.5, 4.5, 5.5])
    with pytest.raises(ValueError):
        natives["broadcast"](A, np.zeros(2))


def test_only_the_safe_calls_are_rewritten():
    from adjoin.backends.llvm import prepare
    module = prepare(parse_module(CALLERS))
    callees = {name: [op.attrs["callee"] for op in module[name].walk() if op.name == "call"]
               for name in NAMES}
    assert callees == {"plain": ["adds.into.0"], "broadcast": ["adds"],
                       "callee_reads": ["reads"],
                       "caller_reads": ["adds"], "passed": ["adds_then_reads_p"]}
